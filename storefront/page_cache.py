"""Whole catalog pages (home, listings, product pages) for shoppers without a session, from
the catalog page cache (catalog/cache.py): one cache round trip and two string replacements
instead of rendering the page around its cached parts.

Who gets them: a GET with no session cookie and no messages cookie, which is every visitor
until they add to the cart, sign in or are told something (a first visit, a visitor from a
newsletter or a search engine, a crawler). Such a visitor is anonymous, has an empty cart
and no messages, so the page is the same for all of them in one language, at one address.
Anyone with a session gets the page rendered around its cached parts, as before.

What differs per visitor is punched back in on every hit:

- the CSRF token of each form (the add-to-cart and back-in-stock forms): stored as
  CSRF_MARK, replaced by this visitor's own token (django.middleware.csrf.get_token, which
  also sets their CSRF cookie), never one visitor's token served to another;
- the CSP nonce of the page's scripts (the JSON-LD): stored as NONCE_MARK, replaced by this
  response's nonce (django-csp's request.csp_nonce, which puts it in the header).

An entry is valid under the same version tokens as the parts it shows (catalog.cache): any
catalog edit, any availability change (listings) or a change of the product's availability
(product pages), and any content page change (the footer's links, pages.selectors). It is
keyed by the page's absolute URL, the active language and the static files' names (a deploy
with new CSS or scripts makes new entries). Tracking parameters (TRACKING_PARAMETERS: utm_*,
ad networks' click ids) are taken off the request first: the page a newsletter's link leads to
is the one every other visitor gets, not an entry per campaign. The browser's address keeps
them, which is where analytics scripts read them. A response that set a cookie, wrote the session
or queued a message is never stored: the page was not the same for everyone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.templatetags.static import static

from catalog.cache import listing_cached, product_cached
from pages.selectors import VERSION_KEY as PAGES_VERSION

# Stand-ins for the per-visitor values in a stored page. A page whose own text already holds
# one (a product description quoting it) is never stored.
CSRF_MARK = "@@storefront-csrf-token@@"
NONCE_MARK = "@@storefront-csp-nonce@@"

# Query parameters that only say where a visitor came from: Google Analytics' campaign tags
# (utm_*) and linkers (_ga, _gl); the click ids of ad networks and shopping listings (Google's
# gclid, gbraid, wbraid, dclid, gad_source and srsltid, Meta, Microsoft, TikTok, X, Yandex,
# LinkedIn, Pinterest, Instagram); mail tools' (Mailchimp, HubSpot, Marketo). No page of the
# shop reads them.
TRACKING_PARAMETERS = re.compile(
    r"utm_[a-z_]+|_ga|_gl|gclid|gbraid|wbraid|dclid|gad_source|srsltid|fbclid|msclkid|ttclid|twclid|yclid"
    r"|li_fat_id|epik|igshid|mc_cid|mc_eid|_hsenc|_hsmi|mkt_tok",
    re.ASCII,
)

# The value attribute Django's {% csrf_token %} writes (django.template.defaulttags.CsrfTokenNode).
_CSRF_INPUT = re.compile(r'(<input type="hidden" name="csrfmiddlewaretoken" value=")[^"]*(")')


@dataclass(frozen=True)
class Page:
    """A stored page: its HTML with the marks in place of per-visitor values, its content
    type, and the product it shows (its views are counted on every hit), if any."""

    html: str
    content_type: str
    product_id: int | None = None


class _NotStored(Exception):
    """The page rendered for this request is not the same for everyone: it is served, not
    stored (raised through catalog.cache, which then stores nothing)."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def sessionless(request: HttpRequest) -> bool:
    """Whether `request` gets whole pages from the cache: a GET with neither a session nor a
    messages cookie (so an anonymous visitor with an empty cart and nothing to be told)."""
    return (
        request.method == "GET"
        and settings.CATALOG_CACHE_SECONDS > 0
        # Empty: a cookie deleted by the last response, which a client may still send.
        and not request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        and not request.COOKIES.get(CookieStorage.cookie_name)
    )


def _without_tracking(request: HttpRequest) -> None:
    """Takes TRACKING_PARAMETERS off `request`'s query (request.GET and the QUERY_STRING its
    URL is built from), so the page and its key are those of the same URL without them."""
    query = request.GET
    if not any(TRACKING_PARAMETERS.fullmatch(name) for name in query):
        return
    kept = QueryDict(mutable=True)
    for name, values in query.lists():
        if not TRACKING_PARAMETERS.fullmatch(name):
            kept.setlist(name, values)
    request.META["QUERY_STRING"] = kept.urlencode()
    request.GET = QueryDict(request.META["QUERY_STRING"])


def _stored(request: HttpRequest, response: HttpResponse) -> Page:
    """`response` as a Page with its CSRF tokens and CSP nonce replaced by marks; raises
    _NotStored when it is not the same page for every sessionless visitor."""
    if (
        response.status_code != 200
        or response.streaming
        or response.cookies
        or request.session.modified
        or len(get_messages(request))
    ):
        raise _NotStored(response)
    html = response.content.decode(response.charset)
    if CSRF_MARK in html or NONCE_MARK in html:
        raise _NotStored(response)
    html, forms = _CSRF_INPUT.subn(rf"\g<1>{CSRF_MARK}\g<2>", html)
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE") and not forms:
        raise _NotStored(response)  # a token written some other way than {% csrf_token %}
    nonce = getattr(request, "_csp_nonce", None)  # set by django-csp once a template read it
    if isinstance(nonce, str):
        html = html.replace(f'nonce="{nonce}"', f'nonce="{NONCE_MARK}"')
    return Page(html=html, content_type=response["Content-Type"], product_id=getattr(response, "product_id", None))


@functools.cache
def _static_names() -> tuple[str, str]:
    """The stylesheet's and the script's URLs (hashed names in production): a deploy that
    changes them makes new entries. Fixed for the life of a process, so read once."""
    return static("css/shop.css"), static("js/shop.js")


def _served(request: HttpRequest, page: Page) -> HttpResponse:
    """`page` for this visitor: their CSRF token and this response's CSP nonce in place."""
    html = page.html
    if CSRF_MARK in html:
        html = html.replace(CSRF_MARK, get_token(request))
    if NONCE_MARK in html:
        html = html.replace(NONCE_MARK, str(request.csp_nonce))  # type: ignore[attr-defined]
    return HttpResponse(html, content_type=page.content_type)


def whole_page_cached(
    kind: str, *, handle_kwarg: str | None = None, on_hit: Callable[[Page], None] | None = None
) -> Callable:
    """Decorates a catalog page view: a sessionless GET (see `sessionless`) is answered with
    the whole page from the cache, stored by the first such request under the version tokens
    of a listing (`handle_kwarg` None) or of the product whose handle is that URL argument.
    `on_hit(page)` runs when a stored page is served (the product page counts a view). Every
    other request, and a page that is not the same for everyone, goes to the view as usual.
    A view that raises (Http404) stores nothing."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not sessionless(request):
                return view(request, *args, **kwargs)
            _without_tracking(request)
            rendered: list[HttpResponse] = []

            def build() -> Page:
                response = view(request, *args, **kwargs)
                rendered.append(response)
                return _stored(request, response)

            parts = [request.build_absolute_uri(), *_static_names()]
            try:
                if handle_kwarg is None:
                    page = listing_cached(f"page:{kind}", parts, build, also=[PAGES_VERSION])
                else:
                    page = product_cached(
                        kwargs[handle_kwarg], build, kind=f"page:{kind}", parts=parts, also=[PAGES_VERSION]
                    )
            except _NotStored as not_stored:
                return not_stored.response
            if rendered:  # built by this request: its own response, tokens and all
                return rendered[0]
            if on_hit is not None:
                on_hit(page)
            return _served(request, page)

        return wrapped

    return decorator
