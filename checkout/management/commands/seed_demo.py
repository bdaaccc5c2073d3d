"""
manage.py seed_demo: the demo catalog for operators (no admin user: use createsuperuser), and
optionally N synthetic products for load tests.
"""

import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from catalog.cache import catalog_edited
from catalog.models import Product, ProductVariant
from catalog.services import product_search_vector_update
from inventory.models import StockItem, StockMovement
from inventory.services import stock_receive_new

from .setup_demo import demo_data_load

SYNTHETIC_PREFIX = "load-test-"
SIZES = ("S", "M", "L")
SYNTHETIC_STOCK = 1000
BATCH = 500


class Command(BaseCommand):
    help = (
        "Loads the demo catalog, the Standard and Express shipping methods, the demo tax "
        "rates and the demo content pages (idempotent; creates no user: run "
        "createsuperuser). With --products N, also "
        f"makes sure N synthetic products exist ({SYNTHETIC_PREFIX}00001…), each with "
        f"{len(SIZES)} variants (sizes {', '.join(SIZES)}) and {SYNTHETIC_STOCK} units each "
        "received through the stock ledger, created in bulk for load tests."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=0, metavar="N", help="synthetic products to ensure")

    def handle(self, *args, products, **options):
        if products < 0:
            raise CommandError("--products must be 0 or more.")
        demo_data_load(stdout=self.stdout)
        if products:
            started = time.monotonic()
            created = self._synthetic_products(products)
            if created:
                self._analyze()
            self.stdout.write(
                f"Synthetic products: {created} created, {products - created} already there "
                f"({time.monotonic() - started:.1f} s)."
            )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _analyze(self) -> None:
        """Fresh planner statistics for the tables a bulk load filled (PostgreSQL only):
        autovacuum would gather them in a while, or never where it is off, and until then the
        planner takes 100,000 products for a few thousand (plans that read the whole catalog
        for one page, JIT-compiled queries that spend 700 ms compiling)."""
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for model in (Product, ProductVariant, StockItem, StockMovement):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    def _synthetic_products(self, count: int) -> int:
        """Creates the missing ones of load-test-00001…N; returns how many were created."""
        handles = [f"{SYNTHETIC_PREFIX}{n:05d}" for n in range(1, count + 1)]
        existing = set(Product.objects.filter(handle__in=handles).values_list("handle", flat=True))
        missing = [handle for handle in handles if handle not in existing]
        if missing:
            catalog_edited()  # bulk_create sends no post_save: retire the cached catalog pages
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            # One transaction per batch: an interrupted run keeps whole products (each with its
            # variants and stock) and the next run fills in the rest.
            with transaction.atomic():
                created = Product.objects.bulk_create(
                    [
                        Product(
                            handle=handle,
                            title=f"Load test product {handle[len(SYNTHETIC_PREFIX) :]}",
                            option1_name="Size",
                            published=True,
                        )
                        for handle in batch
                    ]
                )
                variants = ProductVariant.objects.bulk_create(
                    [
                        ProductVariant(
                            product=product,
                            sku=f"LT-{product.handle[len(SYNTHETIC_PREFIX) :]}-{size}",
                            option1_value=size,
                            price=Decimal("19.00") + position,
                            grams=300,
                            position=position,
                        )
                        for product in created
                        for position, size in enumerate(SIZES, start=1)
                    ]
                )
                stock_receive_new(
                    quantities={variant.pk: SYNTHETIC_STOCK for variant in variants},
                    reason=StockMovement.Reason.RECEIPT,
                    note="seed_demo --products",
                )
                # bulk_create sends no post_save: the search vectors (with the SKUs) in one UPDATE.
                product_search_vector_update(product.pk for product in created)
        return len(missing)
