"""Reads of stock, and of the catalog as the shop shows it: products with live availability
(listing, search, product detail), read here because inventory knows catalog and catalog
must not know inventory. Availability = on_hand − live reservations; fine for display, final
only when recomputed under the lock in inventory.services."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.postgres.search import SearchRank, TrigramWordDistance
from django.db import connection, transaction
from django.db.models import (
    Avg,
    BooleanField,
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import Category, Product, ProductImage, ProductVariant
from catalog.search import (
    RELEVANCE,
    SUGGESTION_THRESHOLD,
    full_text_search,
    rank_query,
    search_query,
    sku_prefix,
    suggestion_for,
)
from catalog.selectors import REVIEWS_ON_PAGE, SORTS, ProductFilters, approved_reviews

from .models import BackInStockRequest, Reservation, StockItem, StockMovement

CONTINUE = StockItem.BackorderPolicy.CONTINUE


# A "deny" variant (or a product, counting all its variants) with this many units or fewer
# shows "Only N left" on the shop's pages; the listings are refreshed when such a figure
# changes (inventory.services._sold_out_flips).
LOW_STOCK_BADGE_UNITS = 5


def _live(now: datetime | None = None) -> QuerySet[Reservation]:
    return Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__gt=now or timezone.now())


def live_reservations() -> QuerySet[Reservation]:
    """Reservations that hold stock right now: active and not yet expired."""
    return _live()


def reserved_quantities(variant_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, int]:
    """Units held by live reservations, by variant id (variants with none are absent)."""
    rows = (
        _live(now)
        .filter(variant_id__in=list(variant_ids))
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {row["variant_id"]: row["total"] for row in rows}


@dataclass(frozen=True)
class Hold:
    """What one owner holds right now: live reserved units by variant id, and when the first
    of them lapses (None when nothing is held)."""

    quantities: dict[int, int]
    expires_at: datetime | None


def hold_of(owner: str, *, now: datetime | None = None) -> Hold:
    """The live (active, unexpired) reservations of `owner`, e.g. "cart:12"; one query."""
    rows = list(
        _live(now)
        .filter(owner=owner)
        .values("variant_id")
        .annotate(total=Sum("quantity"), expires=Min("expires_at"))
        .order_by()
    )
    return Hold(
        quantities={row["variant_id"]: row["total"] for row in rows},
        expires_at=min((row["expires"] for row in rows), default=None),
    )


@dataclass(frozen=True)
class OwnerAvailability:
    """What one owner (a cart) could have of a variant now: `units` on hand minus every live
    reservation but the owner's own (never below 0), and whether the variant is sold on
    backorder (any quantity may then be ordered)."""

    units: int
    backorder: bool


def availability_for_owner(
    variants: Iterable[ProductVariant], *, owner: str, now: datetime | None = None
) -> tuple[dict[int, OwnerAvailability], Hold]:
    """For each of `variants` (read with select_related("stock"): no query for them), what
    `owner` could have of it now, by variant id; and what `owner` holds (hold_of, every
    variant). One query: the live reservations of those variants and of the owner, summed
    per variant, the owner's part apart."""
    variants = list(variants)
    ids = sorted({variant.pk for variant in variants})
    others: dict[int, int] = {}
    held: dict[int, int] = {}
    expiries: list[datetime] = []
    for variant_id, total, own, expires in _live_sums_with_owner(ids, owner=owner, now=now or timezone.now()):
        others[variant_id] = total - (own or 0)
        if own and expires is not None:  # both or neither: the owner's live units and their expiry
            held[variant_id] = own
            expiries.append(expires)
    figures = {}
    for variant in variants:
        stock = getattr(variant, "stock", None)  # None: no stock row (nothing on hand, "deny")
        on_hand = stock.on_hand if stock is not None else 0
        figures[variant.pk] = OwnerAvailability(
            units=units_left(on_hand, others.get(variant.pk, 0)),
            backorder=stock is not None and stock.backorder_policy == CONTINUE,
        )
    return figures, Hold(quantities=held, expires_at=min(expiries, default=None))


def _live_sums_with_owner(
    ids: list[int], *, owner: str, now: datetime
) -> list[tuple[int, int, int | None, datetime | None]]:
    """(variant id, units held live, units of them held by `owner` or None, the earliest
    expiry of those or None) for every variant of `ids` or of `owner`'s live holds."""
    if connection.vendor == "postgresql":
        # Why SQL of our own: every cart and checkout request reads this (cart_view), and the
        # ORM spends about 0.6 ms building the aggregate with its two filtered columns, three
        # times what PostgreSQL takes to run it. The same statement as the ORM's below.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT variant_id, SUM(quantity), SUM(quantity) FILTER (WHERE owner = %(owner)s),
                       MIN(expires_at) FILTER (WHERE owner = %(owner)s)
                FROM {connection.ops.quote_name(Reservation._meta.db_table)}
                WHERE status = %(active)s AND expires_at > %(now)s
                  AND (variant_id = ANY(%(ids)s::bigint[]) OR owner = %(owner)s)
                GROUP BY variant_id
                """,
                {"owner": owner, "active": Reservation.Status.ACTIVE.value, "now": now, "ids": ids},
            )
            return cursor.fetchall()
    mine = Q(owner=owner)
    return list(
        _live(now)
        .filter(Q(variant_id__in=ids) | mine)
        .values_list("variant_id")
        .annotate(total=Sum("quantity"), own=Sum("quantity", filter=mine), expires=Min("expires_at", filter=mine))
        .order_by()
    )


def units_left(on_hand: int, held: int) -> int:
    """The units of a variant that may still be reserved: `on_hand` (integer units, below 0
    only under backorder) less `held` (units of live reservations), never below 0 (stock
    adjusted down below its holds offers nothing, not a negative figure)."""
    return max(on_hand - held, 0)


def availability(variant_ids: Iterable[int]) -> dict[int, int]:
    """Available units (on hand − live reservations, never below 0) for every id given."""
    ids = list(variant_ids)
    on_hand = dict(StockItem.objects.filter(variant_id__in=ids).values_list("variant_id", "on_hand"))
    reserved = reserved_quantities(ids)
    return {vid: units_left(on_hand.get(vid, 0), reserved.get(vid, 0)) for vid in ids}


def sellable_quantity(variant_ids: Iterable[int]) -> dict[int, int | None]:
    """How many units a shopper may still order, for every id given: the available units
    (never below 0) of a "deny" variant, None (no limit) for a variant sold on backorder."""
    ids = list(variant_ids)
    # Each variant's stock row in one read (none: nothing on hand, "deny"), then the live
    # reservations of those that stop selling when sold out: two queries.
    stock = {
        vid: (on_hand, policy)
        for vid, on_hand, policy in StockItem.objects.filter(variant_id__in=ids).values_list(
            "variant_id", "on_hand", "backorder_policy"
        )
    }
    limited = {vid for vid in ids if stock.get(vid, (0, ""))[1] != CONTINUE}
    reserved = reserved_quantities(limited) if limited else {}
    on_hand = {vid: stock.get(vid, (0, ""))[0] for vid in ids}
    return {vid: units_left(on_hand[vid], reserved.get(vid, 0)) if vid in limited else None for vid in ids}


def with_stock(variants: QuerySet[ProductVariant]) -> QuerySet[ProductVariant]:
    """Annotates a ProductVariant queryset with `stock_on_hand` (integer units on hand, 0
    for a variant without a stock row; below 0 only under backorder) and `stock_policy`
    ("deny" or "continue"; "deny" without a stock row), computed in the same query."""
    return variants.annotate(
        stock_on_hand=Coalesce("stock__on_hand", Value(0), output_field=IntegerField()),
        stock_policy=Coalesce("stock__backorder_policy", Value(StockItem.BackorderPolicy.DENY.value)),
    )


def with_availability(variants: QuerySet) -> QuerySet:
    """Annotates a ProductVariant queryset with `available` (integer units, may be below 0
    only for display maths) and `backorder` (True when the variant keeps selling when sold
    out), computed in the same query."""
    reserved = (
        _live().filter(variant_id=OuterRef("pk")).values("variant_id").annotate(total=Sum("quantity")).values("total")
    )
    return variants.annotate(
        available=Coalesce("stock__on_hand", Value(0))
        - Coalesce(Subquery(reserved, output_field=IntegerField()), Value(0)),
        backorder=Case(
            When(stock__backorder_policy=CONTINUE, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )


# The catalog as the shop shows it ---------------------------------------------------------


def _in_stock_variants() -> QuerySet[ProductVariant]:
    """Variants that can be bought now: units available, or sold on backorder.

    The holds stay summed per variant in a subquery on purpose. Written so that PostgreSQL
    could check them against one hashed list instead (cheaper per variant), the planner
    then hashed every variant of the catalog for the in-stock filter: 8 -> 389 ms at
    100,000 products, where it now checks the products one by one and stops at the page's
    bound."""
    return with_availability(ProductVariant.objects.filter(product=OuterRef("pk"))).filter(
        Q(available__gt=0) | Q(backorder=True)
    )


# With fewer variants than this that have units on hand or sell on backorder, the in-stock
# filter first narrows the products to theirs (_narrowed_to_stocked). Counted at most once
# per STOCKED_COUNT_SECONDS in each process.
STOCKED_FEW = 10_000
STOCKED_COUNT_SECONDS = 60
_stocked_count: tuple[float, bool] | None = None  # (when, few), the last count in this process


def _stocked_items() -> QuerySet[StockItem]:
    """Stock rows whose variant may be in stock: units on hand, or sold on backorder. Every
    in-stock variant has one (live holds only lower what is available), so it is a superset."""
    return StockItem.objects.filter(Q(on_hand__gt=0) | Q(backorder_policy=CONTINUE))


def _stocked_few() -> bool:
    """Whether fewer than STOCKED_FEW stock rows are stocked (_stocked_items): one bounded
    count, at most STOCKED_FEW rows read (about 1.5 ms when there are that many), redone
    after STOCKED_COUNT_SECONDS. An answer that old is safe: it picks the plan, never the
    rows."""
    global _stocked_count
    now = time.monotonic()
    if _stocked_count is None or now - _stocked_count[0] > STOCKED_COUNT_SECONDS:
        _stocked_count = (now, _stocked_items()[:STOCKED_FEW].count() < STOCKED_FEW)
    return _stocked_count[1]


def _narrowed_to_stocked(products: QuerySet[Product]) -> QuerySet[Product]:
    """`products` narrowed to those with a stocked item (_stocked_items) when the catalog has
    few of them (_stocked_few), else as they are; the in-stock filter's answer either way.

    Why: the filter checks the products one by one in the listing's order and stops at the
    page's bound, which is cheap when most are in stock and walks the whole catalog when
    almost none is (0.6 s for a listing page at 100,000 products with 0.1% of the variants
    on hand). Narrowed, PostgreSQL reads the few stocked rows first (0.1 s there). With most
    products in stock the narrowing would cost more than it saves (2 ms more per query at
    100,000 products, and 250 ms more for a search matching them all)."""
    if not _stocked_few():
        return products
    return products.filter(pk__in=_stocked_items().values("variant__product_id"))


def _sellable_variant() -> Subquery:
    """The id of one of the product's variants that can be bought now (_in_stock_variants),
    in no order, or NULL: a scalar subquery, run per product."""
    return Subquery(_in_stock_variants().order_by().values("pk")[:1])


def _cheapest_price() -> Subquery:
    return Subquery(
        ProductVariant.objects.filter(product=OuterRef("pk")).order_by("price").values("price")[:1],
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


@dataclass(frozen=True)
class VariantFigures:
    """One variant as a product card needs it: `price` and `compare_at_price` (Decimal or
    None, currency units), `available` units (with_availability: may be below 0) and
    `backorder`."""

    price: Decimal
    compare_at_price: Decimal | None
    available: int
    backorder: bool


def products_figures(products: list[Product]) -> dict[int, list[VariantFigures]]:
    """Sets `min_price` and `in_stock` on each of `products` read with figures=False
    (published_products), by the rules of its subqueries (_cheapest_price, _in_stock_variants),
    from their variants read with their availability in one query; answers those variants
    by product id (a product without variants is absent)."""
    rows = with_availability(ProductVariant.objects.filter(product_id__in=[p.pk for p in products])).values_list(
        "product_id", "price", "compare_at_price", "available", "backorder"
    )
    by_product: dict[int, list[VariantFigures]] = {}
    for product_id, *figures in rows:
        by_product.setdefault(product_id, []).append(VariantFigures(*figures))
    for product in products:
        variants = by_product.get(product.pk, [])
        product.min_price = min((v.price for v in variants), default=None)  # type: ignore[attr-defined]
        product.in_stock = any(v.available > 0 or v.backorder for v in variants)  # type: ignore[attr-defined]
    return by_product


def published_products(*, figures: bool = True) -> QuerySet[Product]:
    """Published products with min_price (Decimal, None without variants), in_stock (bool)
    and their images. With `figures=False`, without min_price and in_stock: for a caller that
    reads the products' variants with their availability anyway (products_figures, which
    sets both from them), where the two subqueries would cost more to build and compile than
    the rest of the page's query.

    Both are subqueries per product, not a join with GROUP BY: a page in title or newest
    order is then read off an index and only its rows get their prices and stock computed
    (about 2 ms on 10,000 products, where the aggregate took about 65 ms)."""
    products = Product.objects.filter(published=True).defer("search_vector")  # matched in the database only
    if figures:
        # A scalar subquery with LIMIT 1, not Exists: PostgreSQL may run an EXISTS once over
        # every variant as a hashed subplan (about 35 ms on 30,000), which a page of 12 rows
        # does not need. An alias, not an annotation: in_stock below inlines it, and a
        # selected copy as well would be built, compiled and run a second time per row. In no
        # order: any sellable variant will do.
        products = products.alias(_sellable_variant=_sellable_variant()).annotate(
            min_price=_cheapest_price(),
            in_stock=ExpressionWrapper(Q(_sellable_variant__isnull=False), output_field=BooleanField()),
        )
    return products.select_related("category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk"))
    )


def _text_match(products: QuerySet[Product], q: str) -> QuerySet[Product]:
    """`products` matching the shopper's words `q` (catalog/search.py). PostgreSQL: the
    stored vector matched with websearch_to_tsquery (a GIN index scan), or for a SKU-shaped
    query also a SKU starting with it, annotated with `search_rank` (ts_rank, higher is
    better). SQLite: title, description or a SKU containing `q` (case-insensitive)."""
    if not full_text_search():
        sku_match = ProductVariant.objects.filter(product=OuterRef("pk"), sku__icontains=q)
        return products.filter(Q(title__icontains=q) | Q(description__icontains=q) | Exists(sku_match))
    query = search_query(q)
    match = Q(search_vector=query)
    prefix = sku_prefix(q)
    if prefix:
        # A union of two index scans (the vector's GIN, variant_sku_upper_prefix_idx): an OR
        # of the two conditions would read every product.
        matching = Product.objects.filter(match).values("pk").order_by()
        skus = ProductVariant.objects.filter(sku__istartswith=prefix).values("product_id").order_by()
        match = Q(pk__in=matching.union(skus))
    return products.annotate(search_rank=SearchRank(F("search_vector"), rank_query(q))).filter(match)


def _order(filters: ProductFilters) -> tuple[str, ...]:
    """The ORDER BY of a search: the sort asked for; RELEVANCE (rank, then title) when there
    are words to rank by on PostgreSQL, else by title."""
    if filters.sort == RELEVANCE:
        return ("-search_rank", "title", "pk") if filters.q and full_text_search() else SORTS["title"]
    return SORTS.get(filters.sort, SORTS["title"])


def product_search(filters: ProductFilters, *, figures: bool = True) -> QuerySet[Product]:
    """Published products matching `filters`: q (the shopper's words, see _text_match and
    catalog/search.py), category slug, price range on the cheapest variant, in-stock only;
    in the order of `filters.sort` (a key of SORTS, or RELEVANCE: best match first, ties by
    title). The storefront listing and the API both read it, so they rank alike.
    `figures=False`: without min_price and in_stock (published_products). The price order
    and range read Product.lowest_price, the same figure as min_price, kept by the database
    (catalog migration 0006)."""
    products = published_products(figures=figures)
    if filters.q:
        products = _text_match(products, filters.q)
    if filters.category:
        # The category's id as a scalar subquery, not a join on its slug: the planner then
        # weighs the products of one category (a few, most products having none) and reads
        # them off the category's index, where with the join it expected a quarter of the
        # catalog and walked the title index through all of it (100 ms at 100,000 products).
        category = Category.objects.filter(slug=filters.category).values("pk")[:1]
        products = products.filter(category_id=Subquery(category))
    # The price range applies to the cheapest variant (NULL without variants: never in range).
    if filters.min_price is not None:
        products = products.filter(lowest_price__gte=filters.min_price)
    if filters.max_price is not None:
        products = products.filter(lowest_price__lte=filters.max_price)
    if filters.in_stock:
        # A scalar subquery per product (the in_stock annotation's), not Exists: PostgreSQL
        # turns an EXISTS into a semi-join, and then hashed every variant of the catalog
        # before the first product (30 ms at 10,000 products), where checking the products
        # one by one stops at the page's bound (3.5 ms). When few products are in stock, it
        # first narrows them to those with units on hand (_narrowed_to_stocked).
        if "_sellable_variant" not in products.query.annotations:
            products = products.alias(_sellable_variant=_sellable_variant())
        products = _narrowed_to_stocked(products.filter(Q(_sellable_variant__isnull=False)))
    return products.order_by(*_order(filters))


def nearest_titles(words: str) -> QuerySet:
    """(distance, title) of the published products, nearest first: distance is 1 − the
    trigram word similarity of `words` to the title (0 when the title holds them, 1 when
    nothing is alike). Read off the trigram GiST index (product_title_trgm_idx) in that
    order: the first of 10,000 in about 2 ms. PostgreSQL only."""
    return (
        Product.objects.filter(published=True)
        .annotate(distance=TrigramWordDistance(words, "title"))
        # Distance alone: a second key (title) would sort all of them instead.
        .order_by("distance")
        .values_list("distance", "title")
    )


def search_suggestion(q: str) -> str | None:
    """ "Did you mean": for words `q` that found nothing, the nearest title's words
    (nearest_titles) standing in for the misspelt ones ("shrit" -> "shirt"), when its trigram
    word similarity is at least SUGGESTION_THRESHOLD; None when no title is that close, when
    the suggestion would be `q` itself, and under SQLite. One query (none under SQLite)."""
    words = " ".join(w for w in re.findall(r"[^\W_]+", q) if w.lower() != "or")
    if not words or not full_text_search():
        return None
    # A few, so that ties go by title whatever order the index returns them in.
    nearest = min(nearest_titles(words)[:5], default=None)
    if nearest is None or 1 - nearest[0] < SUGGESTION_THRESHOLD:
        return None
    title = nearest[1]
    suggestion = suggestion_for(words, title)
    return None if suggestion == words.lower() else suggestion


def featured_products(limit: int = 8, *, figures: bool = True) -> QuerySet[Product]:
    """Up to `limit` featured products by title, or the newest products when none is
    featured; `figures` as for published_products."""
    featured = published_products(figures=figures).filter(featured=True).order_by("title")[:limit]
    return featured if featured else published_products(figures=figures).order_by("-created_at", "pk")[:limit]


def product_detail(handle: str) -> Product | None:
    """A published product with its images and its variants, each annotated with
    `available` (integer units, live reservations subtracted); `rating_count` and
    `rating_average` (Decimal 1–5, None without reviews) over its approved reviews; and
    `approved_reviews`, the newest REVIEWS_ON_PAGE of them, each with `reviewer_name` (the
    user's first name, may be empty).

    Four queries whatever the number of variants, images or reviews."""
    variants = with_availability(ProductVariant.objects.order_by("position", "pk"))
    approved = approved_reviews().filter(product=OuterRef("pk")).order_by().values("product")
    product = (
        Product.objects.filter(published=True, handle=handle)
        .defer("search_vector")
        .select_related("category")
        .annotate(
            # Subqueries rather than Avg("reviews__rating"): no join, so no GROUP BY over
            # the product and its category.
            rating_count=Coalesce(
                Subquery(approved.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
            ),
            rating_average=Subquery(
                approved.annotate(
                    average=Avg("rating", output_field=DecimalField(max_digits=3, decimal_places=2))
                ).values("average"),
            ),
        )
        .prefetch_related(
            Prefetch("variants", queryset=variants),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk")),
        )
        .first()
    )
    if product is not None:
        # One product's newest reviews: a plain query with a LIMIT, where a sliced Prefetch
        # would number every review of it in a window (ROW_NUMBER() OVER …), about 1 ms more
        # to build and run. The reviewer's first name only: the product is cached
        # (catalog/cache.py), and user rows (password hashes, emails) have no business there.
        product.approved_reviews = list(  # type: ignore[attr-defined]
            approved_reviews()
            .filter(product=product)
            .annotate(reviewer_name=F("user__first_name"))
            .order_by("-created_at", "-pk")[:REVIEWS_ON_PAGE]
        )
    return product


def low_stock_variants() -> QuerySet:
    """Variants (with their product) whose available units are at or below their low-stock
    threshold, annotated with `available`, `on_hand` and `threshold`; the shortest first
    (available − threshold ascending). One query however many variants."""
    return (
        with_availability(ProductVariant.objects.select_related("product"))
        .annotate(
            on_hand=Coalesce("stock__on_hand", Value(0), output_field=IntegerField()),
            threshold=F("stock__low_stock_threshold"),
        )
        .filter(threshold__isnull=False, available__lte=F("threshold"))
        .order_by(F("available") - F("threshold"), "sku")
    )


# Sort keys of stock_report_rows (prefix "-" for descending) and the column each sorts by.
STOCK_REPORT_SORTS = {
    "sku": "sku",
    "product": "product__title",
    "on_hand": "on_hand",
    "reserved": "reserved",
    "available": "available",
}


def stock_report_rows(*, search: str = "", low_only: bool = False, sort: str = "sku") -> QuerySet:
    """Every variant (with its product) annotated with on_hand, reserved (units in live
    reservations), available (on_hand − reserved), threshold (the StockItem's
    low_stock_threshold, None: no alerts) and low_stock (available <= threshold), in one query.

    `search` keeps SKUs containing it (case-insensitive); `low_only` keeps low-stock rows;
    `sort` is a key of STOCK_REPORT_SORTS, "-" first for descending (anything else: by SKU).
    """
    rows = (
        with_availability(ProductVariant.objects.select_related("product"))
        .annotate(on_hand=Coalesce("stock__on_hand", Value(0), output_field=IntegerField()))
        .annotate(
            reserved=F("on_hand") - F("available"),
            threshold=F("stock__low_stock_threshold"),
        )
        .annotate(
            low_stock=Case(
                When(threshold__isnull=False, available__lte=F("threshold"), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    )
    if search:
        rows = rows.filter(sku__icontains=search)
    if low_only:
        rows = rows.filter(low_stock=True)
    descending = sort.startswith("-")
    column = STOCK_REPORT_SORTS.get(sort.lstrip("-"), "sku")
    # pk last: a stable order, so no row appears on two pages or on none.
    return rows.order_by(f"-{column}" if descending else column, "pk")


@dataclass(frozen=True)
class ReservationCounts:
    """Reservations by state, counted (and units summed) over those created in a period.
    live: active and unexpired, holding stock now; lapsed: active but past expires_at (no
    longer holding stock, waiting for the sweeper); expired: swept; committed: sold;
    released: let go (payment failed, cancelled, cart emptied)."""

    live: int
    live_units: int
    lapsed: int
    expired: int
    committed: int
    released: int


def reservation_counts(*, created_from: datetime, created_to: datetime) -> ReservationCounts:
    """ReservationCounts over reservations with created_from <= created_at < created_to;
    one aggregate query."""
    now = timezone.now()
    active = Q(status=Reservation.Status.ACTIVE)
    live = active & Q(expires_at__gt=now)
    totals = Reservation.objects.filter(created_at__gte=created_from, created_at__lt=created_to).aggregate(
        live=Count("pk", filter=live),
        live_units=Coalesce(Sum("quantity", filter=live), 0),
        lapsed=Count("pk", filter=active & Q(expires_at__lte=now)),
        expired=Count("pk", filter=Q(status=Reservation.Status.EXPIRED)),
        committed=Count("pk", filter=Q(status=Reservation.Status.COMMITTED)),
        released=Count("pk", filter=Q(status=Reservation.Status.RELEASED)),
    )
    return ReservationCounts(**totals)


def ledger_total(variant_id: int) -> int:
    """Σ of the variant's ledger rows: what on_hand must equal."""
    return StockMovement.objects.filter(variant_id=variant_id).aggregate(total=Coalesce(Sum("quantity"), 0))["total"]


@dataclass(frozen=True)
class StockSettings:
    """A variant's stock policy as staff set it."""

    backorder_policy: str
    low_stock_threshold: int | None


def stock_settings(variant_id: int) -> StockSettings:
    """The backorder policy and low-stock threshold (units, None: no alerts) of a variant;
    the defaults for a variant that has no stock row yet."""
    row = StockItem.objects.filter(variant_id=variant_id).values("backorder_policy", "low_stock_threshold").first()
    if row is None:
        return StockSettings(StockItem.BackorderPolicy.DENY, None)
    return StockSettings(**row)


def backorders_owed(variant_id: int) -> int:
    """Units promised to buyers beyond what is on hand (live reservations − on_hand, at
    least 0): what must come in before the variant may stop selling on backorder."""
    on_hand = StockItem.objects.filter(variant_id=variant_id).values_list("on_hand", flat=True).first() or 0
    return max(reserved_quantities([variant_id]).get(variant_id, 0) - on_hand, 0)


def back_in_stock_pending(variant_id: int) -> QuerySet[BackInStockRequest]:
    """The requests for `variant_id` that have not been emailed yet, oldest first."""
    return BackInStockRequest.objects.filter(variant_id=variant_id, notified_at__isnull=True).order_by("pk")


@dataclass(frozen=True)
class StockMismatch:
    """One thing wrong with a variant's stock: `stored` is StockItem.on_hand, `expected` what
    the ledger (or the live reservations, for an oversold variant) says."""

    sku: str
    stored: int
    expected: int
    reason: str


@dataclass(frozen=True)
class StockAudit:
    variants: int
    mismatches: list[StockMismatch]


def stock_audit() -> StockAudit:
    """Checks every variant: on_hand == Σ ledger, the newest ledger row's on_hand_after ==
    on_hand, and for a "deny" variant live reservations <= on_hand (else it is oversold).

    Set-based: a handful of aggregate queries whatever the number of variants. Outside a
    transaction on PostgreSQL they share one REPEATABLE READ snapshot, so sales committing
    meanwhile cannot show up as false mismatches.
    """
    # Only the outermost transaction may choose its isolation level (not so under a test's).
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and own_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        ledger = dict(
            StockMovement.objects.values("variant_id")
            .annotate(total=Sum("quantity"))
            .order_by()
            .values_list("variant_id", "total")
        )
        # The newest row per variant: highest pk, since rows of one variant are inserted
        # under its row lock, in the order the changes happened.
        newest = StockMovement.objects.values("variant_id").annotate(last=Max("pk")).order_by().values("last")
        last_after = dict(
            StockMovement.objects.filter(pk__in=Subquery(newest)).values_list("variant_id", "on_hand_after")
        )
        reserved = dict(
            _live().values("variant_id").annotate(total=Sum("quantity")).order_by().values_list("variant_id", "total")
        )
        items = {
            vid: (on_hand, policy)
            for vid, on_hand, policy in StockItem.objects.values_list("variant_id", "on_hand", "backorder_policy")
        }
        mismatches: list[StockMismatch] = []
        count = 0
        for vid, sku in ProductVariant.objects.order_by("sku").values_list("pk", "sku").iterator(chunk_size=5000):
            count += 1
            stored, policy = items.get(vid, (0, StockItem.BackorderPolicy.DENY))
            expected = ledger.get(vid, 0)
            if stored != expected:
                mismatches.append(StockMismatch(sku, stored, expected, "Σ ledger differs"))
            if vid in last_after and last_after[vid] != stored:
                mismatches.append(
                    StockMismatch(sku, stored, last_after[vid], "newest ledger row's on_hand_after differs")
                )
            held = reserved.get(vid, 0)
            if policy != CONTINUE and held > stored:
                mismatches.append(
                    StockMismatch(
                        sku, stored, held, f"oversold: live reservations hold {held} units, more than on hand"
                    )
                )
    return StockAudit(variants=count, mismatches=mismatches)
