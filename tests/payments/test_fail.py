import pytest

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import payment_capture, payment_fail, payment_start
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db


def test_a_failed_payment_releases_the_hold_at_once():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment, _ = payment_start(order=order, gateway="dummy")
    assert availability([variant.pk]) == {variant.pk: 1}

    payment = payment_fail(payment=payment, reason="card declined")

    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "card declined"
    assert order.status == Order.Status.PAYMENT_FAILED
    assert availability([variant.pk]) == {variant.pk: 3}
    assert list(Reservation.objects.values_list("status", flat=True)) == [Reservation.Status.RELEASED]
    assert order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).count() == 1
    assert_stock_consistent()


def test_failing_a_payment_twice_is_harmless():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment, _ = payment_start(order=order, gateway="dummy")

    payment_fail(payment=payment, reason="card declined")
    payment_fail(payment=payment, reason="card declined")

    assert order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).count() == 1
    assert availability([variant.pk]) == {variant.pk: 3}


def test_a_late_failure_after_capture_does_not_unpay_the_order():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment, _ = payment_start(order=order, gateway="dummy")
    payment = payment_capture(payment=payment)

    payment = payment_fail(payment=payment, reason="stale webhook")

    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.error == ""
    assert order.status == Order.Status.PAID
    assert not order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).exists()
    assert on_hand(variant) == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert_stock_consistent()
