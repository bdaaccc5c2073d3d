"""
Product.lowest_price, kept by the database's triggers (catalog migration 0006): the cheapest
variant's price after every kind of write, a product saved with an old figure put right, two
price changes of one product at once, and the listing's price order and range read from it.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from catalog.models import Product, ProductVariant
from catalog.selectors import ProductFilters
from inventory.selectors import product_search
from tests.factories import ProductFactory, VariantFactory


def _lowest(product: Product) -> Decimal | None:
    return Product.objects.values_list("lowest_price", flat=True).get(pk=product.pk)


def _cheapest(product: Product) -> Decimal | None:
    return min(ProductVariant.objects.filter(product=product).values_list("price", flat=True), default=None)


@pytest.mark.django_db
def test_every_kind_of_variant_write_keeps_the_cheapest_price():
    product, other = ProductFactory(), ProductFactory()
    assert _lowest(product) is None

    a = VariantFactory(product=product, price=Decimal("30.00"))
    b = VariantFactory(product=product, price=Decimal("25.50"))
    assert _lowest(product) == Decimal("25.50")

    a.price = Decimal("12.00")
    a.save()
    assert _lowest(product) == Decimal("12.00")

    ProductVariant.objects.filter(pk=a.pk).update(price=Decimal("40.00"))
    assert _lowest(product) == Decimal("25.50")

    ProductVariant.objects.bulk_create(
        [VariantFactory.build(product=product, price=Decimal("9.99"), sku="BULK-1")]
        + [VariantFactory.build(product=other, price=Decimal(p), sku=f"BULK-{p}") for p in ("7.00", "8.00")]
    )
    assert (_lowest(product), _lowest(other)) == (Decimal("9.99"), Decimal("7.00"))

    cheapest = ProductVariant.objects.get(sku="BULK-1")
    cheapest.price = Decimal("50.00")
    ProductVariant.objects.bulk_update([cheapest], ["price"])
    assert _lowest(product) == Decimal("25.50")

    b.product = other  # a variant moved: both products recounted
    b.save()
    assert (_lowest(product), _lowest(other)) == (Decimal("40.00"), Decimal("7.00"))

    ProductVariant.objects.filter(product=other, price__lt=10).delete()
    assert _lowest(other) == Decimal("25.50")
    ProductVariant.objects.filter(product=product).delete()
    assert _lowest(product) is None


@pytest.mark.django_db
def test_a_product_saved_with_an_old_figure_keeps_the_right_one():
    variant = VariantFactory(price=Decimal("20.00"))
    product = Product.objects.get(pk=variant.product_id)  # read before the price change
    ProductVariant.objects.filter(pk=variant.pk).update(price=Decimal("15.00"))

    product.title = "Renamed"
    product.save()  # writes every column, lowest_price as read: 20.00

    assert _lowest(product) == Decimal("15.00")
    assert Product.objects.get(pk=product.pk).title == "Renamed"


@pytest.mark.django_db(transaction=True)
def test_a_price_change_committed_while_another_waits_is_in_the_other_ones_figure():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    product = ProductFactory()
    first = VariantFactory(product=product, price=Decimal("50.00"))
    second = VariantFactory(product=product, price=Decimal("60.00"))
    first_written = threading.Event()
    errors: list[BaseException] = []

    def lower_first() -> None:
        with transaction.atomic():
            ProductVariant.objects.filter(pk=first.pk).update(price=Decimal("10.00"))
            first_written.set()
            time.sleep(0.3)  # the second writer's recount starts before this commits

    def lower_second() -> None:
        first_written.wait(timeout=10)
        with transaction.atomic():
            # Its snapshot still has the first variant at 50.00: the cheapest it could see
            # is its own 30.00, but the first commits 10.00 before this one may recount.
            ProductVariant.objects.filter(pk=second.pk).update(price=Decimal("30.00"))

    def run(work) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in (lower_first, lower_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert not errors
    assert _lowest(product) == _cheapest(product) == Decimal("10.00")


@pytest.mark.django_db
def test_the_listing_orders_and_filters_by_the_cheapest_variant():
    prices = {"Cheap": ["5.00", "90.00"], "Middle": ["20.00"], "Dear": ["45.00", "60.00"], "Tie": ["20.00"]}
    for title, amounts in prices.items():
        product = ProductFactory(title=title)
        for amount in amounts:
            VariantFactory(product=product, price=Decimal(amount))
    ProductFactory(title="No Variants")

    def titles(**filters):
        return [p.title for p in product_search(ProductFilters(**filters)) if p.title in prices]

    assert titles(sort="price") == ["Cheap", "Middle", "Tie", "Dear"]
    assert titles(sort="-price") == ["Dear", "Tie", "Middle", "Cheap"]  # the exact reverse
    assert titles(min_price=Decimal("20.00")) == ["Dear", "Middle", "Tie"]  # cheapest ≥ 20: not Cheap
    assert titles(max_price=Decimal("19.99")) == ["Cheap"]
    assert titles(min_price=Decimal("20.00"), max_price=Decimal("20.00")) == ["Middle", "Tie"]
    assert "No Variants" not in [p.title for p in product_search(ProductFilters(min_price=Decimal("0")))]
