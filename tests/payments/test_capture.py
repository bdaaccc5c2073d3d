from datetime import timedelta

import pytest

from inventory.exceptions import InsufficientStock
from inventory.models import StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, stock_reserve
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import PaymentError, payment_capture, payment_fail, payment_start
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db


def _sales():
    return StockMovement.objects.filter(reason=StockMovement.Reason.SALE)


def test_a_captured_payment_marks_the_order_paid_and_sells_the_stock():
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 3))
    payment = payment_start(order=order, gateway="dummy")
    assert payment.status == Payment.Status.PENDING
    assert payment.amount == order.total

    payment = payment_capture(payment=payment)

    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 1
    assert list(_sales().values_list("quantity", "reference")) == [(-3, order.number)]
    assert_stock_consistent()


def test_capturing_the_same_payment_twice_pays_the_order_once():
    # The return page and the webhook both report the capture.
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    payment = payment_start(order=order, gateway="dummy")

    payment_capture(payment=payment)
    again = payment_capture(payment=payment)

    assert again.status == Payment.Status.CAPTURED
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert _sales().count() == 1
    assert on_hand(variant) == 3
    assert_stock_consistent()


def test_a_payment_captured_after_the_hold_lapsed_is_honoured_when_the_stock_is_still_there():
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 2))
    payment = payment_start(order=order, gateway="dummy")
    lapse(order)

    payment = payment_capture(payment=payment)

    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 0
    assert _sales().count() == 1
    assert_stock_consistent()


def test_a_payment_captured_after_another_buyer_took_the_lapsed_stock_is_rejected_and_sells_nothing():
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 2))
    payment = payment_start(order=order, gateway="dummy")
    lapse(order)
    other = place_order((variant, 1))  # the lapsed units counted as free again

    with pytest.raises(InsufficientStock):
        payment_capture(payment=payment)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert "enough in stock" in payment.error
    assert order.status == Order.Status.EXPIRED
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    assert on_hand(variant) == 2
    assert not _sales().exists()
    assert availability([variant.pk]) == {variant.pk: 1}
    assert Order.objects.get(pk=other.pk).status == Order.Status.PENDING_PAYMENT
    # A retry of the same capture does not turn the rejection into a sale.
    with pytest.raises(PaymentError):
        payment_capture(payment=payment)
    assert not _sales().exists()
    assert_stock_consistent()


def test_a_payment_cannot_start_for_an_order_whose_hold_lapsed_and_the_order_expires():
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 1))
    lapse(order)

    with pytest.raises(PaymentError):
        payment_start(order=order, gateway="dummy")

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert not Payment.objects.exists()


def test_an_unknown_gateway_is_refused():
    order = place_order((stocked_variant(on_hand=1), 1))

    with pytest.raises(PaymentError):
        payment_start(order=order, gateway="cash-in-envelope")


def test_a_failed_payment_cannot_be_captured_later():
    variant = stocked_variant(on_hand=2)
    payment = payment_start(order=place_order((variant, 1)), gateway="dummy")
    payment_fail(payment=payment, reason="card declined")

    with pytest.raises(PaymentError):
        payment_capture(payment=payment)

    assert on_hand(variant) == 2
    assert not _sales().exists()


def test_a_reservation_elsewhere_does_not_stop_a_live_hold_from_being_paid():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:7", ttl=timedelta(minutes=30))

    payment_capture(payment=payment_start(order=order, gateway="dummy"))

    assert on_hand(variant) == 1
    assert availability([variant.pk]) == {variant.pk: 0}
    assert_stock_consistent()


def test_a_second_payment_for_a_paid_order_is_rejected_not_taken():
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    first = payment_start(order=order, gateway="dummy")
    second = payment_start(order=order, gateway="dummy")  # e.g. a second tab
    payment_capture(payment=first)

    with pytest.raises(PaymentError, match="already paid"):
        payment_capture(payment=second)

    second.refresh_from_db()
    assert second.status == Payment.Status.REJECTED
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert on_hand(variant) == 3
    assert_stock_consistent()


def test_a_failed_second_payment_leaves_a_paid_order_paid():
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    first = payment_start(order=order, gateway="dummy")
    second = payment_start(order=order, gateway="dummy")
    payment_capture(payment=first)

    payment_fail(payment=second, reason="declined")

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 3
