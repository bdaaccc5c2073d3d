from datetime import timedelta

import pytest
from django.core.management import call_command

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, reservations_expire, stock_reserve
from orders.models import Order, OrderEvent
from orders.services import orders_expire_overdue
from orders.tasks import release_expired_reservations
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(Reservation.objects.values_list("pk", "status")),
        sorted(Order.objects.values_list("pk", "status")),
        OrderEvent.objects.count(),
        StockMovement.objects.count(),
    )


def test_the_sweep_expires_lapsed_holds_and_their_orders_and_leaves_live_ones_alone():
    variant = stocked_variant(on_hand=10)
    lapsed, live = place_order((variant, 2)), place_order((variant, 3))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:9", ttl=timedelta(minutes=30))
    lapse(lapsed)
    movements = StockMovement.objects.count()

    assert reservations_expire() == 1
    assert orders_expire_overdue() == 1

    assert Order.objects.get(pk=lapsed.pk).status == Order.Status.EXPIRED
    assert Order.objects.get(pk=live.pk).status == Order.Status.PENDING_PAYMENT
    assert lapsed.events.filter(type=OrderEvent.Type.EXPIRED).count() == 1
    assert Reservation.objects.get(owner=lapsed.reservation_owner).status == Reservation.Status.EXPIRED
    assert Reservation.objects.filter(status=Reservation.Status.ACTIVE).count() == 2
    # The sweep only tidies: availability and the ledger were already right.
    assert availability([variant.pk]) == {variant.pk: 6}
    assert on_hand(variant) == 10
    assert StockMovement.objects.count() == movements
    assert_stock_consistent()


def test_running_the_sweep_twice_changes_nothing_the_second_time():
    variant = stocked_variant(on_hand=5)
    lapse(place_order((variant, 2)))
    reservations_expire()
    orders_expire_overdue()
    before = _snapshot()

    assert reservations_expire() == 0
    assert orders_expire_overdue() == 0
    assert _snapshot() == before


def test_the_sweep_command_reports_what_it_expired(capsys):
    variant = stocked_variant(on_hand=5)
    lapse(place_order((variant, 1)))
    lapse(place_order((variant, 1)))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:1", ttl=timedelta(minutes=30))

    call_command("release_expired_reservations")
    call_command("release_expired_reservations")

    assert capsys.readouterr().out.splitlines() == [
        "Expired 2 reservation(s) and 2 order(s).",
        "Expired 0 reservation(s) and 0 order(s).",
    ]
    assert availability([variant.pk]) == {variant.pk: 4}
    assert_stock_consistent()


def test_the_sweep_task_returns_its_counts():
    variant = stocked_variant(on_hand=5)
    lapse(place_order((variant, 1)))

    assert release_expired_reservations.delay().get() == {"reservations": 1, "orders": 1}
    assert release_expired_reservations() == {"reservations": 0, "orders": 0}
