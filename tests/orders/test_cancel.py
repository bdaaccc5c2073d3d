from datetime import timedelta

import pytest

from inventory.models import Reservation
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from orders.services import OrderStateError, order_cancel, order_expire_if_due, order_mark_paid
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)


def test_cancelling_an_unpaid_order_makes_its_units_available_at_once():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))

    order = order_cancel(order=order, reason="changed my mind")

    assert order.status == Order.Status.CANCELLED
    assert availability([variant.pk]) == {variant.pk: 3}
    assert list(Reservation.objects.values_list("status", flat=True)) == [Reservation.Status.RELEASED]
    assert_stock_consistent()


def test_cancelling_twice_is_harmless():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))

    order_cancel(order=order)
    order_cancel(order=order)

    assert order.events.filter(type=OrderEvent.Type.CANCELLED).count() == 1


def test_a_paid_order_is_refused_when_only_unpaid_orders_may_be_cancelled():
    # Callers that cannot refund (the orders admin's bulk action) ask for unpaid_only; a paid
    # order is cancelled with its refund through payments.services.order_cancel_and_refund.
    variant = stocked_variant(on_hand=3)
    order = order_mark_paid(order=place_order((variant, 1)), reference="pay", reservation_ttl=TTL)

    with pytest.raises(OrderStateError):
        order_cancel(order=order, unpaid_only=True)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_an_order_is_expired_only_once_its_hold_has_lapsed():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))

    assert order_expire_if_due(order=order).status == Order.Status.PENDING_PAYMENT

    lapse(order)
    order = order_expire_if_due(order=order)

    assert order.status == Order.Status.EXPIRED
    assert availability([variant.pk]) == {variant.pk: 3}
    assert list(order.events.values_list("type", flat=True)) == [OrderEvent.Type.PLACED, OrderEvent.Type.EXPIRED]
    assert_stock_consistent()
