from django.conf import settings

from cart.selectors import cart_units
from pages.selectors import PageLink, footer_links, published_links

from .catalog.categories import shop_categories
from .session import CART_SESSION_KEY


def shop(request):
    return {"SHOP_NAME": settings.SITE_NAME, "SHOP_CURRENCY": settings.SHOP_CURRENCY}


def cart_summary(request):
    """Number of units in the shopper's cart, for the header: one cheap query, and only when
    the page shows it."""
    if not hasattr(request, "user"):
        return {}
    user, cart_id = request.user, request.session.get(CART_SESSION_KEY)
    return {"cart_count": lambda: cart_units(user=user, guest_cart_id=cart_id)}


def navigation(request):
    """The categories of the header's navigation and the footer (catalog.Category, name and
    slug): read only when a page shows them (templates/base.html; the 429 and 503 pages do
    not), at most once per request (shop_categories)."""
    return {"nav_categories": lambda: shop_categories(request)}


class _ContentPages:
    """The published content pages' links, read on first use (pages.selectors.published_links:
    cached until a page changes): `footer`, the footer's list in order; `by_slug`, every
    published page by slug (the checkout's terms link: content_pages.by_slug.terms)."""

    def __init__(self) -> None:
        self._links: list[PageLink] | None = None

    def _read(self) -> list[PageLink]:
        if self._links is None:
            self._links = published_links()
        return self._links

    @property
    def footer(self) -> list[PageLink]:
        return footer_links(self._read())

    @property
    def by_slug(self) -> dict[str, PageLink]:
        return {link.slug: link for link in self._read()}


def content_pages(request):
    """The content pages' links for the footer and the checkout (templates/base.html): read
    only when a page shows them, at most once per request."""
    return {"content_pages": _ContentPages()}
