#!/usr/bin/env python
"""
Product search on 10,000 products: the database time of each search the listing and the API
run (inventory.selectors.product_search: the count, bounded at 1,000 for the listing and exact
for the API's total, and the first page of 12, with their images; and for words that find
nothing the "did you mean" query), cold as far as the shop goes (the selector called
directly: no page cache), median and p95 over --runs runs, and the EXPLAIN (ANALYZE) of the
page query showing the GIN indexes at work.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --products 10000 --runs 30 --budget-ms 20

Drops and recreates the database `shop_bench_search` (--database) on DATABASE_URL's server and
migrates it. The products are written in bulk like `seed_demo --products N` (3 variants each,
SKUs "<WORD>-<n>-S/M/L"), but with varied words: titles, descriptions (HTML), vendors, types
and tags drawn from a fixed vocabulary (seeded random, the same on every run), then indexed
with catalog.services.search_index_rebuild (timed). Exits 1 when a search's p95 is over the
budget (20 ms). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # sets sys.path for the project

BATCH = 1000
PAGE = 12

COLOURS = [
    "ocean blue",
    "red",
    "white",
    "black",
    "navy",
    "olive green",
    "yellow",
    "cream",
    "grey",
    "pink",
    "brown",
    "sand",
    "rust",
    "teal",
    "plum",
    "charcoal",
]
MATERIALS = [
    "cotton",
    "linen",
    "wool",
    "silk",
    "leather",
    "denim",
    "ceramic",
    "clay",
    "copper",
    "oak",
    "walnut",
    "bamboo",
    "velvet",
    "cashmere",
    "canvas",
    "wicker",
]
THINGS = [
    "shirt",
    "top",
    "jumper",
    "blouse",
    "jacket",
    "bag",
    "tee",
    "skirt",
    "tuxedo",
    "sofa",
    "pot",
    "light",
    "table",
    "pillows",
    "candle",
    "fence",
    "trowel",
    "armchair",
    "drawers",
    "beanbag",
    "blanket",
    "mug",
    "lamp",
    "rug",
    "scarf",
    "hat",
    "boots",
    "vase",
    "basket",
    "bench",
    "stool",
    "planter",
]
STYLES = [
    "classic",
    "vintage",
    "modern",
    "rustic",
    "slim",
    "oversized",
    "striped",
    "chequered",
    "floral",
    "plain",
    "knitted",
    "quilted",
]
VENDORS = [
    "Rustic LTD", "Company 123", "Home Sweet Home", "partners-demo", "Fernhill Mills", "Northwind Goods",
    "Atelier Bleu", "Oak & Iron", "Sunday Studio", "Harbour Supply",
]  # fmt: skip
TYPES = ["Indoor", "Outdoor", "Men", "Women", "Kitchen", "Garden", "Bedroom", "Accessories"]
PHRASES = [
    "with long sleeves and buttons down the front",
    "comfortable fit for every day",
    "made by hand in a small workshop",
    "light blue stitching on the collar",
    "a soft lining for cold winter days",
    "perfect for the garden or the patio",
    "wooden base and a sturdy frame",
    "washable at thirty degrees",
]

# (label, q): what shoppers type; the typos find nothing and cost the suggestion query too.
QUERIES = [
    ("one word", "shirt"),
    ("two words", "blue shirt"),
    ("word order", "shirt blue"),
    ("stemmed", "jackets"),
    ("common word", "comfortable"),
    ("phrase", '"light blue"'),
    ("excluded word", "shirt -blue"),
    ("or", "sofa or pillows"),
    ("vendor", "Rustic LTD"),
    ("SKU", "{sku}"),  # a real SKU, found after seeding
    ("SKU prefix", "{sku_prefix}"),
    ("typo", "shrit"),
    ("typo, two words", "blue jackit"),
    ("nothing close", "xyzzy"),
]


def seed(count: int) -> float:
    """Writes `count` products with 3 variants each in bulk; indexes them; returns the
    seconds the index took."""
    from django.db import connection, transaction

    from catalog.models import Product, ProductVariant
    from catalog.services import search_index_rebuild

    rng = random.Random(16)
    for start in range(0, count, BATCH):
        with transaction.atomic():
            products = []
            for n in range(start + 1, min(start + BATCH, count) + 1):
                thing = rng.choice(THINGS)
                words = (rng.choice(STYLES), rng.choice(COLOURS), rng.choice(MATERIALS), thing)
                title = " ".join(word.title() for word in words)
                body = (
                    f"<p>{rng.choice(COLOURS).capitalize()} {rng.choice(MATERIALS)} {thing}, "
                    f"<b>{rng.choice(PHRASES)}</b>. {rng.choice(PHRASES).capitalize()}; {rng.choice(PHRASES)}.</p>"
                )
                products.append(
                    Product(
                        handle=f"bench-{thing}-{n:05d}",
                        title=title,
                        description=body,
                        vendor=rng.choice(VENDORS),
                        product_type=rng.choice(TYPES),
                        tags=", ".join(rng.sample(STYLES + MATERIALS, 3)),
                        option1_name="Size",
                        published=rng.random() > 0.05,
                    )
                )
            created = Product.objects.bulk_create(products)
            ProductVariant.objects.bulk_create(
                [
                    ProductVariant(
                        product=product,
                        sku=f"{product.handle.split('-')[1].upper()}-{product.handle.rsplit('-', 1)[1]}-{size}",
                        option1_value=size,
                        price=Decimal(rng.randint(5, 400)),
                        position=position,
                    )
                    for product in created
                    for position, size in enumerate(("S", "M", "L"), start=1)
                ]
            )
    started = time.perf_counter()
    search_index_rebuild()
    took = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE catalog_product")
        cursor.execute("VACUUM ANALYZE catalog_productvariant")
    return took


class DatabaseTime:
    """Sums the time spent in cursor.execute (the database's answer, fetched) while active."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


def one_search(q: str, *, exact_count: bool = False) -> tuple[float, int, int, str | None]:
    """What the listing asks of the database for `q`: its count (bounded at 1,000 products,
    storefront.catalog.pagination; `exact_count`: every product, as the API's total), the
    first page with its images, the suggestion when nothing matched. Returns (ms, queries,
    count, suggestion)."""
    from django.db import connection

    from catalog.search import RELEVANCE
    from catalog.selectors import ProductFilters
    from inventory.selectors import product_search, search_suggestion
    from storefront.catalog.pagination import BoundedPaginator

    timer = DatabaseTime()
    with connection.execute_wrapper(timer):
        results = product_search(ProductFilters(q=q, sort=RELEVANCE))
        count = results.count() if exact_count else BoundedPaginator(results, PAGE).count
        list(results[:PAGE])
        suggestion = search_suggestion(q) if not count else None
    return timer.seconds * 1000, timer.queries, count, suggestion


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000, help="products to seed (default 10,000)")
    parser.add_argument("--runs", type=int, default=30, help="runs of every query (default 30)")
    parser.add_argument("--budget-ms", type=float, default=20.0, help="p95 database ms per search (default 20)")
    parser.add_argument("--database", default="shop_bench_search", help="database to (re)create")
    parser.add_argument("--explain", nargs="*", default=["blue shirt", "{sku_prefix}"], help="queries to EXPLAIN")
    parser.add_argument("--explain-suggestion", nargs="*", default=["shrit"], help="typos to EXPLAIN")
    args = parser.parse_args(argv)

    url = common.recreate_database(args.database)
    common.setup_django(url)
    common.migrate()
    from django.conf import settings
    from django.db import connection

    from catalog.search import RELEVANCE
    from catalog.selectors import ProductFilters
    from inventory.selectors import nearest_titles, product_search

    indexed = seed(args.products)
    from catalog.models import ProductVariant

    sku = ProductVariant.objects.filter(product__published=True).order_by("pk").values_list("sku", flat=True)[100]
    words = {"sku": sku, "sku_prefix": sku[: sku.rindex("-") - 1]}
    queries = [(label, q.format(**words)) for label, q in QUERIES]
    args.explain = [q.format(**words) for q in args.explain]
    print(
        f"{args.products:,} products, {3 * args.products:,} variants in {args.database} "
        f"(PostgreSQL {connection.pg_version // 10000}, SEARCH_CONFIG={settings.SEARCH_CONFIG}); "
        f"search_index_rebuild: {indexed:.2f} s"
    )
    for _label, q in queries:  # once each, untimed: plans and buffers as a running shop has them
        one_search(q)

    # The listing counts at most 1,000 products; the API's total is exact: both are timed.
    over = []
    print(
        f"\n{'search':<18} {'q':<18} {'found':>6} {'queries':>7} {'median ms':>10} {'p95 ms':>8}"
        f" {'API median':>10} {'API p95':>8}  suggestion"
    )
    for label, q in queries:
        times, api_times = [], []
        for _ in range(args.runs):
            ms, queries, count, suggestion = one_search(q)
            times.append(ms)
            api_ms, _queries, api_count, _suggestion = one_search(q, exact_count=True)
            api_times.append(api_ms)
        median, p95 = statistics.median(times), percentile(times, 0.95)
        api_median, api_p95 = statistics.median(api_times), percentile(api_times, 0.95)
        if max(p95, api_p95) > args.budget_ms:
            over.append(label)
        print(
            f"{label:<18} {q:<18} {api_count:>6} {queries:>7} {median:>10.2f} {p95:>8.2f}"
            f" {api_median:>10.2f} {api_p95:>8.2f}  {suggestion or ''}"
        )

    for q in args.explain:
        page = product_search(ProductFilters(q=q, sort=RELEVANCE))[:PAGE]
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the first page of {q!r}:")
        print(page.explain(analyze=True, buffers=True))
    for q in args.explain_suggestion:
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the suggestion for {q!r}:")
        print(nearest_titles(q)[:5].explain(analyze=True, buffers=True))
    if over:
        print(f"\nOVER the {args.budget_ms:g} ms budget (p95): {', '.join(over)}")
        return 1
    print(f"\nEvery search under {args.budget_ms:g} ms (p95 database time).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
