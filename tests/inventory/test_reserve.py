import time
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Reservation
from inventory.selectors import availability, reserved_quantities
from inventory.services import StockLine, stock_reserve
from tests.factories import VariantFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent

pytestmark = pytest.mark.django_db


def test_it_reserves_and_lowers_availability():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))
    assert availability([variant.pk]) == {variant.pk: 2}


def test_it_refuses_all_lines_when_one_is_short():
    plenty, scarce = stocked_variant(on_hand=5), stocked_variant(on_hand=1)
    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(
            lines=[StockLine(plenty.pk, 2), StockLine(scarce.pk, 2)], owner="order:A", ttl=timedelta(minutes=1)
        )
    assert [(line.sku, line.requested, line.available) for line in exc.value.lines] == [(scarce.sku, 2, 1)]
    assert availability([plenty.pk, scarce.pk]) == {plenty.pk: 5, scarce.pk: 1}


def test_a_reservation_stops_counting_the_instant_it_expires_without_any_sweep():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 4)], owner="order:A", ttl=timedelta(milliseconds=300))
    assert availability([variant.pk]) == {variant.pk: 1}

    time.sleep(0.35)

    assert availability([variant.pk]) == {variant.pk: 5}
    assert Reservation.objects.get().status == Reservation.Status.ACTIVE  # nobody swept
    stock_reserve(lines=[StockLine(variant.pk, 5)], owner="order:B", ttl=timedelta(minutes=15))
    assert availability([variant.pk]) == {variant.pk: 0}
    assert_stock_consistent()


def test_a_hold_moved_into_the_past_frees_its_units_for_the_next_buyer():
    variant = stocked_variant(on_hand=2)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
    with pytest.raises(InsufficientStock):
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:B", ttl=timedelta(minutes=15))

    Reservation.objects.filter(owner="order:A").update(expires_at=timezone.now() - timedelta(seconds=1))

    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:B", ttl=timedelta(minutes=15))
    assert reserved_quantities([variant.pk]) == {variant.pk: 2}


def test_a_variant_named_twice_is_reserved_as_one_line_with_the_quantities_added():
    variant = stocked_variant(on_hand=5)

    reservations = stock_reserve(
        lines=[StockLine(variant.pk, 2), StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=1)
    )

    assert [(r.variant_id, r.quantity) for r in reservations] == [(variant.pk, 5)]
    assert availability([variant.pk]) == {variant.pk: 0}


def test_it_refuses_the_lines_that_together_ask_for_more_than_is_available():
    variant = stocked_variant(on_hand=4)

    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(
            lines=[StockLine(variant.pk, 2), StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=1)
        )

    assert [(line.requested, line.available) for line in exc.value.lines] == [(5, 4)]
    assert not Reservation.objects.exists()


def test_a_variant_never_stocked_has_nothing_to_reserve():
    variant = VariantFactory()

    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=1))

    assert exc.value.lines[0].available == 0
    assert availability([variant.pk]) == {variant.pk: 0}


@pytest.mark.parametrize("quantity", [0, -1])
def test_it_rejects_a_quantity_that_is_not_positive(quantity):
    variant = stocked_variant(on_hand=5)

    with pytest.raises(ValueError):
        stock_reserve(lines=[StockLine(variant.pk, quantity)], owner="order:A", ttl=timedelta(minutes=1))

    assert not Reservation.objects.exists()
