"""Reads of the catalog. The catalog as the shop shows it, with live availability (listing,
search, product detail), is inventory's to read: inventory.selectors, which knows both."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, Max, OuterRef, QuerySet

from .models import Category, Product, ProductReview, ProductViewStat

SORTS = {
    "title": ("title", "pk"),
    "price": ("lowest_price", "pk"),
    "-price": ("-lowest_price", "-pk"),  # the exact reverse of "price": one index serves both
    "newest": ("-created_at", "-pk"),
}


@dataclass(frozen=True)
class ProductFilters:
    """Listing filters; prices are Decimal in shop currency units, None meaning unset."""

    q: str = ""
    category: str = ""  # Category.slug
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool = False
    sort: str = "title"  # a key of SORTS


# Approved reviews shown on a product page, newest first; the count and average cover all.
REVIEWS_ON_PAGE = 20


def approved_reviews() -> QuerySet[ProductReview]:
    """Reviews staff approved: the ones the shop shows."""
    return ProductReview.objects.filter(status=ProductReview.Status.APPROVED)


def categories_with_products() -> QuerySet[Category]:
    """Categories that hold a published product, by name. One query: a semi-join that probes
    each category's products by index, where a join + DISTINCT read the whole catalog (50 ms
    at 100,000 products)."""
    published = Product.objects.filter(category=OuterRef("pk"), published=True)
    return Category.objects.filter(Exists(published)).order_by("name")


def published_product_updates() -> QuerySet[Product]:
    """Every published product with only `handle` and `updated_at` (aware datetime) loaded,
    by id: what a sitemap names. One query."""
    return Product.objects.filter(published=True).only("handle", "updated_at").order_by("pk")


def category_updates() -> QuerySet[Category]:
    """The categories that hold a published product (as categories_with_products), each with
    `updated_at` (aware datetime): the newest `updated_at` of those published products, the
    category having none of its own. By name; one query."""
    return (
        Category.objects.filter(products__published=True)
        .annotate(updated_at=Max("products__updated_at"))
        .order_by("name")
    )


def published_product(handle: str) -> Product | None:
    """The published product with this handle, without its variants or images; one query."""
    return Product.objects.filter(published=True, handle=handle).first()


def most_viewed_products(limit: int | None = 10) -> QuerySet[ProductViewStat]:
    """View counts (as of the last flush from the cache) with their products, most viewed
    first; products never viewed are left out. `limit` None: all of them. One query."""
    stats = ProductViewStat.objects.filter(views__gt=0).select_related("product").order_by("-views", "product__title")
    return stats if limit is None else stats[:limit]
