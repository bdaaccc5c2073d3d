from django.conf import settings

from cart.selectors import cart_units

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
