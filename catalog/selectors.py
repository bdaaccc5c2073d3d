"""Reads of the catalog for the shop pages. Every function returns querysets whose query
count does not grow with the page size (images prefetched, prices and stock annotated)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, Min, OuterRef, Prefetch, Q, QuerySet

from inventory.selectors import with_availability

from .models import Category, Product, ProductImage, ProductVariant

SORTS = {
    "title": ("title", "pk"),
    "price": ("min_price", "pk"),
    "-price": ("-min_price", "pk"),
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
    sort: str = "title"


def _in_stock_variants() -> QuerySet[ProductVariant]:
    """Variants that can be bought now: units available, or sold on backorder."""
    return with_availability(ProductVariant.objects.filter(product=OuterRef("pk"))).filter(
        Q(available__gt=0) | Q(backorder=True)
    )


def published_products() -> QuerySet[Product]:
    """Published products with min_price (Decimal), in_stock (bool) and their images."""
    return (
        Product.objects.filter(published=True)
        .annotate(min_price=Min("variants__price"), in_stock=Exists(_in_stock_variants()))
        .select_related("category")
        .prefetch_related(Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk")))
    )


def product_search(filters: ProductFilters) -> QuerySet[Product]:
    """Published products matching `filters`: q over title, description and SKU
    (case-insensitive), category slug, price range on the cheapest variant, in-stock only."""
    products = published_products()
    if filters.q:
        sku_match = ProductVariant.objects.filter(product=OuterRef("pk"), sku__icontains=filters.q)
        products = products.filter(
            Q(title__icontains=filters.q) | Q(description__icontains=filters.q) | Exists(sku_match)
        )
    if filters.category:
        products = products.filter(category__slug=filters.category)
    if filters.min_price is not None:
        products = products.filter(min_price__gte=filters.min_price)
    if filters.max_price is not None:
        products = products.filter(min_price__lte=filters.max_price)
    if filters.in_stock:
        products = products.filter(in_stock=True)
    return products.order_by(*SORTS.get(filters.sort, SORTS["title"]))


def featured_products(limit: int = 8) -> QuerySet[Product]:
    featured = published_products().filter(featured=True).order_by("title")[:limit]
    return featured if featured else published_products().order_by("-created_at", "pk")[:limit]


def categories_with_products() -> QuerySet[Category]:
    return Category.objects.filter(products__published=True).distinct().order_by("name")


def product_detail(handle: str) -> Product | None:
    """A published product with its images and its variants, each annotated with
    `available` (integer units, live reservations subtracted)."""
    variants = with_availability(ProductVariant.objects.order_by("position", "pk"))
    return (
        Product.objects.filter(published=True, handle=handle)
        .select_related("category")
        .prefetch_related(
            Prefetch("variants", queryset=variants),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk")),
        )
        .first()
    )
