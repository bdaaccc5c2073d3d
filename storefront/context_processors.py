from functools import cache

from django.conf import settings

from cart.selectors import cart_units
from catalog.cache import edit_cached
from catalog.selectors import categories_with_products

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
    """The categories of the header's navigation and the footer, as (name, slug) pairs:
    read only when a page shows them (templates/base.html; the 429 and 503 pages do not), at
    most once per page, and from the catalog page cache, which any catalog edit refreshes
    (stock changes do not: the navigation shows no availability)."""

    @cache
    def categories() -> list[tuple[str, str]]:
        return edit_cached("nav", [], lambda: [(c.name, c.slug) for c in categories_with_products()])

    return {"nav_categories": categories}
