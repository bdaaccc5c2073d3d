"""Orders under real concurrency (real threads and PostgreSQL connections, committed)."""

from collections import Counter
from datetime import timedelta

import pytest

from inventory.exceptions import InsufficientStock, StockBusy
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from inventory.services import reservations_expire
from orders.models import Order, OrderEvent
from orders.services import order_mark_paid, orders_expire_overdue
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_32_simultaneous_orders_for_5_units_place_5_and_refuse_the_rest_for_insufficient_stock():
    variant = stocked_variant(on_hand=5)

    outcomes = run_together(32, lambda i: place_order((variant, 1), token=f"race-{i}"))

    placed = [o.value for o in outcomes if o.error is None]
    errors = Counter(type(o.error).__name__ for o in outcomes if o.error is not None)
    assert all(isinstance(o.error, (InsufficientStock, StockBusy)) for o in outcomes if o.error), errors
    assert len(placed) == 5
    assert errors["InsufficientStock"] + errors["StockBusy"] == 27
    assert Order.objects.count() == 5
    assert Reservation.objects.count() == 5
    assert availability([variant.pk]) == {variant.pk: 0}
    assert on_hand(variant) == 5
    assert_stock_consistent()


@pytest.mark.parametrize("stock", [1, 10], ids=["last-unit", "plenty"])
def test_the_same_checkout_token_placed_from_many_threads_at_once_yields_one_order(stock):
    # A double click, a retried request: all of them must get the one order, whether the
    # latecomers would have found the stock gone (last unit) or not (plenty).
    variant = stocked_variant(on_hand=stock)

    outcomes = run_together(6, lambda i: place_order((variant, 1), token="double-click"))

    assert [o.error for o in outcomes] == [None] * 6
    assert len({o.value.pk for o in outcomes}) == 1
    assert Order.objects.count() == 1
    assert Reservation.objects.count() == 1
    assert availability([variant.pk]) == {variant.pk: stock - 1}


def test_a_payment_racing_the_sweeper_for_a_lapsed_order_is_honoured_exactly_once():
    variant = stocked_variant(on_hand=4)
    orders = [place_order((variant, 1)) for _ in range(4)]
    for order in orders:
        lapse(order)

    def work(i):
        if i < 4:
            return order_mark_paid(order=orders[i], reference=f"pay_{i}", reservation_ttl=timedelta(minutes=15))
        return reservations_expire(), orders_expire_overdue()

    outcomes = run_together(6, work)

    assert [o.error for o in outcomes] == [None] * 6
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.PAID}
    assert OrderEvent.objects.filter(type=OrderEvent.Type.PAID).count() == 4
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 4
    assert on_hand(variant) == 0
    assert_stock_consistent()
