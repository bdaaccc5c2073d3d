"""
The listing's in-stock filter (inventory.selectors.product_search with in_stock) against the
rule it must follow: a product is in stock when one of its variants has units available (on
hand less live holds, inventory.selectors.availability) or is sold on backorder. Lapsed and
released holds count for nothing; holds that reach or pass what is on hand leave nothing.
Each test runs twice: with the products walked one by one, and first narrowed to those with
units on hand or on backorder, as a catalog with few of them is (STOCKED_FEW).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import inventory.selectors
from catalog.selectors import ProductFilters
from inventory.models import Reservation, StockItem
from inventory.selectors import availability, product_search
from inventory.services import stock_policy_set
from tests.factories import VariantFactory, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["walked", "narrowed"])
def stocked_few(request, monkeypatch):
    """0: never few (the walk); a million: always few (narrowed first)."""
    monkeypatch.setattr(inventory.selectors, "STOCKED_FEW", 0 if request.param == "walked" else 1_000_000)
    monkeypatch.setattr(inventory.selectors, "_stocked_count", None)
    return request.param


def _hold(variant, quantity, *, lapsed=False, status=Reservation.Status.ACTIVE):
    now = timezone.now()
    Reservation.objects.create(
        variant=variant,
        quantity=quantity,
        owner=f"cart:{variant.pk}:{quantity}:{lapsed}:{status}",
        status=status,
        expires_at=now - timedelta(minutes=1) if lapsed else now + timedelta(minutes=15),
    )


def test_the_in_stock_filter_keeps_exactly_the_products_with_a_variant_available_or_on_backorder():
    cases = {}

    def product(title, on_hand, *holds, backorder=False):
        variant = stocked_variant(on_hand=on_hand, product__title=title, price=Decimal("20.00"))
        for quantity, kind in holds:
            _hold(variant, quantity, lapsed=kind == "lapsed", status=kind if kind != "lapsed" else "active")
        if backorder:
            stock_policy_set(variant=variant, backorder_policy="continue")
        cases[title] = variant

    product("No holds", 2)
    product("Nothing on hand", 0)
    product("Held in part", 3, (1, "active"), (1, "active"))
    product("Held in full", 2, (1, "active"), (1, "active"))
    product("Held past on hand", 1, (2, "active"))
    product("Only lapsed holds", 1, (1, "lapsed"))
    product("Released holds", 1, (1, Reservation.Status.RELEASED))
    product("Backorder, none on hand", 0, backorder=True)
    product("Backorder, held past on hand", 1, (3, "active"), backorder=True)
    VariantFactory(product__title="No stock row")

    found = {p.title for p in product_search(ProductFilters(in_stock=True))}

    available = availability(v.pk for v in cases.values())
    backorder = set(StockItem.objects.filter(backorder_policy="continue").values_list("variant_id", flat=True))
    expected = {title for title, v in cases.items() if available[v.pk] > 0 or v.pk in backorder}
    assert found == expected
    assert found == {
        "No holds",
        "Held in part",
        "Only lapsed holds",
        "Released holds",
        "Backorder, none on hand",
        "Backorder, held past on hand",
    }


def test_a_product_is_in_stock_when_any_one_of_its_variants_is():
    sold_out = stocked_variant(on_hand=1, product__title="Two Sizes")
    _hold(sold_out, 1)
    VariantFactory(product=sold_out.product)  # no stock row: nothing to sell
    assert not [p.title for p in product_search(ProductFilters(in_stock=True))]

    other = stocked_variant(on_hand=1, product=sold_out.product)
    assert [p.title for p in product_search(ProductFilters(in_stock=True))] == ["Two Sizes"]
    _hold(other, 1)
    assert not [p.title for p in product_search(ProductFilters(in_stock=True))]


def test_with_few_stocked_items_the_filter_reads_the_stock_rows_first(stocked_few):
    stocked_variant(on_hand=1, product__title="Last One")
    stocked_variant(on_hand=0, product__title="Gone")

    with CaptureQueriesContext(connection) as queries:
        found = [p.title for p in product_search(ProductFilters(in_stock=True))]

    assert found == ["Last One"]
    listing = next(q["sql"] for q in queries.captured_queries if 'FROM "catalog_product"' in q["sql"])
    assert ('"on_hand" > 0' in listing) == (stocked_few == "narrowed")
