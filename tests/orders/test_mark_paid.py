from datetime import timedelta

import pytest

from inventory.exceptions import InsufficientStock
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, stock_reserve
from orders.models import Order, OrderEvent
from orders.services import OrderStateError, order_cancel, order_mark_paid
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)


def _sales(order):
    return StockMovement.objects.filter(reference=order.number, reason=StockMovement.Reason.SALE)


def test_marking_an_order_paid_commits_its_stock_with_sale_rows():
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 2))

    order = order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)

    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    assert on_hand(variant) == 3
    assert availability([variant.pk]) == {variant.pk: 3}
    assert list(_sales(order).values_list("variant_id", "quantity")) == [(variant.pk, -2)]
    assert set(Reservation.objects.values_list("status", flat=True)) == {Reservation.Status.COMMITTED}
    assert_stock_consistent()


def test_marking_an_order_paid_twice_changes_nothing_the_second_time():
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 2))

    order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)
    again = order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)

    assert again.status == Order.Status.PAID
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert _sales(order).count() == 1
    assert on_hand(variant) == 3
    assert_stock_consistent()


def test_an_order_paid_after_its_hold_lapsed_is_reserved_again_when_stock_allows():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    lapse(order)
    assert availability([variant.pk]) == {variant.pk: 3}

    order = order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)

    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 1
    assert _sales(order).count() == 1
    statuses = sorted(Reservation.objects.filter(owner=order.reservation_owner).values_list("status", flat=True))
    assert statuses == [Reservation.Status.COMMITTED, Reservation.Status.EXPIRED]
    assert_stock_consistent()


def test_an_order_paid_after_its_hold_lapsed_and_the_stock_went_elsewhere_is_refused_and_nothing_is_sold():
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 2))
    lapse(order)
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:OTHER", ttl=TTL)

    with pytest.raises(InsufficientStock):
        order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)

    order.refresh_from_db()
    assert order.status != Order.Status.PAID
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    assert on_hand(variant) == 2
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()
    assert availability([variant.pk]) == {variant.pk: 1}  # the other buyer keeps their unit
    assert_stock_consistent()


def test_a_cancelled_order_cannot_be_marked_paid():
    variant = stocked_variant(on_hand=2)
    order = order_cancel(order=place_order((variant, 1)), reason="changed my mind")

    with pytest.raises(OrderStateError):
        order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)

    assert on_hand(variant) == 2
    assert availability([variant.pk]) == {variant.pk: 2}
    assert_stock_consistent()
