"""The shop's categories as the pages show them: shared by the navigation (header and
footer), the home page's tiles and the listing's filter, read at most once per request."""

from django.http import HttpRequest

from catalog.cache import edit_cached
from catalog.models import Category
from catalog.selectors import categories_with_products


def shop_categories(request: HttpRequest) -> list[Category]:
    """The categories that hold a published product, by name: read once per request (kept on
    it) and, when the catalog page cache is on, once per catalog edit (no availability is
    shown, so stock changes do not refresh them)."""
    if not hasattr(request, "_shop_categories"):
        request._shop_categories = edit_cached("categories", [], lambda: list(categories_with_products()))  # type: ignore[attr-defined]
    return request._shop_categories  # type: ignore[attr-defined]
