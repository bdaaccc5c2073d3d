"""Rate limits for the HTML pages, webhooks and the admin: which tiers a request counts in,
and the 429 answer. The counters themselves are kernel/ratelimit.py's (django-ratelimit on
the shared cache), shared with the API's auth throttle.

Tiers (settings RATELIMIT_GENERAL/_STOCK/_AUTH/_WEBHOOK/_STAFF, django-ratelimit rate strings
such as "10/15m"), counted on state-changing requests (POST, PUT, PATCH, DELETE) only:

    general  every state-changing page request, per client IP
    stock    what takes stock: place order, pay, and, when the cart holds stock
             (STOCK_RESERVE_ON=cart), add to cart and restoring a cart: per IP (on top of
             general). Changing or removing cart lines counts in general only.
    auth     log in, sign up, password reset, password change, deleting the account (pages,
             admin log-in and the API's auth endpoints): per IP and per account (the posted
             email, or the signed-in account's), whichever runs out first
    webhook  payment provider webhooks, per IP (instead of general)
    staff    the admin's POSTs by a signed-in staff member, per user (instead of general)

A limited request is answered 429 with Retry-After (seconds until the window ends): the
templates/429.html page, or the API's error shape under /api/. The API's own endpoints keep
their DRF throttles (api/throttling.py); its auth endpoints also share the auth tier
through AuthTierThrottle.

When the cache cannot be reached (Redis down) the limits FAIL OPEN, except the auth tier:
sign-in/sign-up/reset answer 429 until the cache is back (kernel/ratelimit.py says why).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from kernel.ratelimit import UNSAFE_METHODS, Limited, auth_hit, ratelimit_hit

# Views by "namespace:name" (the URL paths may change; the names do not).
# The stock tier guards what takes stock: placing an order (a reservation) and paying; and
# when the cart itself holds stock (STOCK_RESERVE_ON=cart), adding to it (restoring a lapsed
# order's items into the cart adds them). Changing and removing lines are the ordinary edits
# of a visit, dozens of them, and count in general only (in cart mode they refresh the
# cart's own hold).
STOCK_VIEWS = frozenset({"checkout:place_order", "payments:pay"})
CART_HOLD_STOCK_VIEWS = frozenset({"catalog:product_detail", "cart:restore"})
# Pages that check a password (or mail a link to reset one). Deleting the account and
# changing the password ask for the current password: a stolen session must not be able to
# guess it there at leisure.
AUTH_VIEWS = frozenset(
    {
        "accounts:login",
        "accounts:signup",
        "accounts:password_reset",
        "accounts:password_change",
        "accounts:delete",
        "admin:login",
    }
)
WEBHOOK_VIEWS = frozenset({"payments:webhook"})

# Read in the language of the request it answers (the page's, or the API client's Accept-Language).
LIMITED_MESSAGE = _("Too many requests. Please wait a little and try again.")


def _tiers_for(request: HttpRequest, view_name: str) -> list[str]:
    namespace = view_name.split(":", 1)[0]
    if view_name in WEBHOOK_VIEWS:
        return ["webhook"]
    if namespace == "admin" and view_name not in AUTH_VIEWS and request.user.is_authenticated:
        return ["staff"] if request.user.is_staff else ["general"]
    tiers = ["general"]
    if view_name in STOCK_VIEWS or (settings.STOCK_RESERVE_ON == "cart" and view_name in CART_HOLD_STOCK_VIEWS):
        tiers.append("stock")
    return tiers


def too_many_requests(request: HttpRequest, limited: Limited) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "throttled", "message": str(LIMITED_MESSAGE), "fields": {}}}, status=429
        )
    else:
        response = render(
            request, "429.html", {"message": str(LIMITED_MESSAGE), "retry_after": limited.retry_after}, status=429
        )
    response["Retry-After"] = str(limited.retry_after)
    return response


class RateLimitMiddleware:
    """Applies the tiers to state-changing page requests (the API is limited by DRF).

    Runs in process_view, after the CSRF and authentication middleware, so the view is known
    (tiers go by URL name) and request.user is set (staff tier)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method not in UNSAFE_METHODS or request.path.startswith("/api/"):
            return None
        match = request.resolver_match
        view_name = match.view_name if match else ""
        if view_name in AUTH_VIEWS:
            # The login forms name the email field "username"; sign-up and reset "email"; the
            # delete and password change pages ask the signed-in account's own password.
            email = request.POST.get("username") or request.POST.get("email", "")
            if not email and request.user.is_authenticated:
                email = request.user.email
            limited = auth_hit(request, email=email)
            if limited is None:
                limited = ratelimit_hit(request, tier="general")
        else:
            limited = None
            for tier in _tiers_for(request, view_name):
                limited = ratelimit_hit(request, tier=tier) or limited
        if limited is not None:
            return too_many_requests(request, limited)
        return None
