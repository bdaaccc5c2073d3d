"""The parts of a page's <head> that are the same rule everywhere: absolute URLs, the
canonical URL of a listing, meta descriptions made from HTML, titles with the shop's name
once, and which pages search engines must not index."""

from __future__ import annotations

import html
import re

import nh3
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import Truncator

# Pages a search engine has no business showing (a shopper's own cart, checkout, account,
# orders, payments, the back-in-stock form): by URL namespace, so a new page there is covered.
NOINDEX_NAMESPACES = frozenset({"accounts", "cart", "checkout", "orders", "payments", "inventory"})
# Search engines show about this many characters of a description.
DESCRIPTION_CHARS = 155
# Between the page's own title and the shop's name.
TITLE_SEPARATOR = " – "

_SPACE = re.compile(r"\s+")


def absolute_url(request: HttpRequest | None, path: str) -> str:
    """`path` ("/products/x/") as an absolute URL on the host and scheme the request came
    in on (ALLOWED_HOSTS vouches for the host; behind a proxy SECURE_PROXY_SSL_HEADER for the
    scheme), or on settings.SHOP_BASE_URL without a request. An absolute URL is returned
    as given."""
    if path.startswith(("http://", "https://")):
        return path
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.SHOP_BASE_URL.rstrip("/") + path


def shop_title(title: str) -> str:
    """The <title>: the page's own title followed by " – <shop name>", unless it already names
    the shop (an SEO title written as "Merino Tee | Small Shop"); the shop's name alone for
    a page without a title of its own."""
    title = _SPACE.sub(" ", title or "").strip()
    shop = settings.SITE_NAME
    if not title:
        return shop
    if shop.casefold() in title.casefold():
        return title
    return f"{title}{TITLE_SEPARATOR}{shop}"


def plain_text(value: str) -> str:
    """HTML (a product's description) as one line of plain text: tags, scripts and styles
    dropped, entities decoded, runs of white space made one space."""
    # A space before every tag so that "<p>a</p><p>b</p>" reads "a b", not "ab".
    text = nh3.clean((value or "").replace("<", " <"), tags=set())
    return _SPACE.sub(" ", html.unescape(text)).strip()


def summary(value: str, chars: int = DESCRIPTION_CHARS) -> str:
    """`value` (HTML or text) as plain text of at most `chars` characters, cut at a word
    with "…" when longer."""
    return Truncator(plain_text(value)).chars(chars, truncate="…")


def listing_path(category_slug: str = "", page: int = 1) -> str:
    """The canonical path of the product listing: /products/, with ?category= for a
    category and page= from page 2 on. Search, price, stock and sort filters are views of
    the same listing and collapse to it."""
    params: dict[str, str | int] = {}
    if category_slug:
        params["category"] = category_slug
    if page > 1:
        params["page"] = page
    path = reverse("catalog:product_list")
    return f"{path}?{urlencode(params)}" if params else path


def page_number(request: HttpRequest) -> int:
    """The listing page the request asks for (?page=, the last one given as the view reads
    it), 1 when absent or not a positive whole number."""
    values = request.GET.getlist("page")
    value = values[-1] if values else ""
    return int(value) if value.isdigit() and int(value) > 0 else 1


def noindex(request: HttpRequest | None) -> bool:
    """Whether the page answering `request` must carry <meta name="robots" content="noindex">:
    the cart, checkout, account (sign-in, invitations, passwords included), orders, payment
    and back-in-stock pages."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    return bool(NOINDEX_NAMESPACES.intersection(match.namespaces))
