"""What the storefront keeps in the shopper's session, in one place: the guest cart's id and
the checkout's details and discount code (the checkout pages keep their token and the
guest's recent orders themselves). Services never see the session: these helpers read and
write it, and hand the services plain values."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from cart.models import Cart
from cart.services import cart_for_shopper

CART_SESSION_KEY = "cart_id"
# The shipping details the shopper entered (a dict, see CheckoutForm.session_data) and the
# voucher code they applied, kept between the checkout pages.
SESSION_DETAILS = "checkout_details"
SESSION_VOUCHER = "checkout_voucher"
# The number of the order just paid in this session: its page says thank you once.
SESSION_JUST_PAID = "just_paid"


def cart_for_request(request: HttpRequest, *, create: bool = False) -> Cart | None:
    """The request's cart: the user's own when signed in, else the session's guest cart.
    With create=True a missing cart is created, and a guest's remembered in the session."""
    cart_id = request.session.get(CART_SESSION_KEY)
    cart = cart_for_shopper(user=request.user, guest_cart_id=cart_id, create=create)
    if cart is not None and cart.user_id is None and cart.pk != cart_id:
        request.session[CART_SESSION_KEY] = cart.pk
    return cart


def checkout_country(request: HttpRequest) -> str:
    """The country a shopper's cart is taxed for before they reach the review: the one they
    already chose at checkout, else SHOP_COUNTRY."""
    details = request.session.get(SESSION_DETAILS) or {}
    return details.get("country") or settings.SHOP_COUNTRY
