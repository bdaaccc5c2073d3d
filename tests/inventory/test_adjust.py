from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, stock_adjust, stock_reserve
from tests.factories import VariantFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand

pytestmark = pytest.mark.django_db

ADJUSTMENT = StockMovement.Reason.ADJUSTMENT


def test_receiving_stock_raises_on_hand_and_writes_a_ledger_row():
    variant = VariantFactory()

    movement = stock_adjust(variant=variant, quantity=7, reason=StockMovement.Reason.RECEIPT, reference="PO-1")

    assert on_hand(variant) == 7
    assert (movement.quantity, movement.on_hand_after, movement.reference) == (7, 7, "PO-1")
    assert_stock_consistent()


def test_a_removal_may_not_take_on_hand_below_what_live_reservations_hold():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))

    with pytest.raises(InsufficientStock) as exc:
        stock_adjust(variant=variant, quantity=-3, reason=ADJUSTMENT, note="broken")

    assert [(line.requested, line.available) for line in exc.value.lines] == [(3, 2)]
    assert on_hand(variant) == 5
    assert StockMovement.objects.filter(reason=ADJUSTMENT).count() == 0

    stock_adjust(variant=variant, quantity=-2, reason=ADJUSTMENT, note="broken")

    assert on_hand(variant) == 3
    assert availability([variant.pk]) == {variant.pk: 0}
    assert_stock_consistent()


def test_a_lapsed_reservation_does_not_block_a_removal():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 5)], owner="order:A", ttl=timedelta(minutes=15))
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    stock_adjust(variant=variant, quantity=-5, reason=ADJUSTMENT)

    assert on_hand(variant) == 0
    assert_stock_consistent()


def test_a_removal_may_not_take_on_hand_below_zero():
    variant = stocked_variant(on_hand=2)

    with pytest.raises(InsufficientStock):
        stock_adjust(variant=variant, quantity=-3, reason=ADJUSTMENT)

    assert on_hand(variant) == 2
    assert_stock_consistent()


@pytest.mark.parametrize("quantity, reason", [(0, ADJUSTMENT), (1, "gift")])
def test_it_rejects_a_zero_change_or_an_unknown_reason(quantity, reason):
    variant = stocked_variant(on_hand=2)

    with pytest.raises(ValueError):
        stock_adjust(variant=variant, quantity=quantity, reason=reason)

    assert on_hand(variant) == 2
