from datetime import timedelta

import pytest

from inventory.exceptions import ReservationExpired
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, stock_commit, stock_reserve
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand

pytestmark = pytest.mark.django_db


def test_committing_a_hold_lowers_on_hand_and_writes_one_sale_row_per_variant():
    shirt, mug = stocked_variant(on_hand=5), stocked_variant(on_hand=3)
    clerk = UserFactory()
    stock_reserve(lines=[StockLine(shirt.pk, 2), StockLine(mug.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))

    assert stock_commit(owner="order:A", reference="A", actor=clerk) == 5

    assert (on_hand(shirt), on_hand(mug)) == (3, 0)
    # The units were already spoken for: committing changes on_hand, not availability.
    assert availability([shirt.pk, mug.pk]) == {shirt.pk: 3, mug.pk: 0}
    sales = StockMovement.objects.filter(reason=StockMovement.Reason.SALE).order_by("variant_id")
    assert [(s.variant_id, s.quantity, s.on_hand_after, s.reference, s.actor_id) for s in sales] == [
        (shirt.pk, -2, 3, "A", clerk.pk),
        (mug.pk, -3, 0, "A", clerk.pk),
    ]
    assert set(Reservation.objects.values_list("status", flat=True)) == {Reservation.Status.COMMITTED}
    assert_stock_consistent()


def test_committing_twice_sells_once():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
    stock_commit(owner="order:A", reference="A")

    with pytest.raises(ReservationExpired):
        stock_commit(owner="order:A", reference="A")

    assert on_hand(variant) == 3
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert_stock_consistent()


def test_a_lapsed_hold_cannot_be_committed_and_nothing_is_written():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
    Reservation.objects.update(expires_at=Reservation.objects.get().created_at - timedelta(seconds=1))

    with pytest.raises(ReservationExpired):
        stock_commit(owner="order:A", reference="A")

    assert on_hand(variant) == 5
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()
    assert Reservation.objects.get().status == Reservation.Status.ACTIVE
    assert_stock_consistent()
