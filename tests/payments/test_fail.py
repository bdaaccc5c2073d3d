import pytest

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import payment_capture, payment_fail, payment_start
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db


def test_a_failed_payment_keeps_the_order_pending_with_its_hold_for_another_try():
    # A failed attempt is not a failed order: the shopper may pay again, with a new payment
    # of the same order, while the reservation lasts (storefront: the failed-payment page).
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment, _ = payment_start(order=order, gateway="dummy")
    assert availability([variant.pk]) == {variant.pk: 1}

    payment = payment_fail(payment=payment, reason="card declined")

    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "card declined"
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([variant.pk]) == {variant.pk: 1}  # still held for this order
    assert list(Reservation.objects.values_list("status", flat=True)) == [Reservation.Status.ACTIVE]
    [failed] = order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED)
    assert failed.note == "card declined"
    assert_stock_consistent()


def test_a_new_payment_of_the_same_order_after_a_failure_pays_it_with_the_same_reservation():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    first, _ = payment_start(order=order, gateway="dummy")
    payment_fail(payment=first, reason="card declined")
    [reservation] = Reservation.objects.all()

    second, _ = payment_start(order=order, gateway="dummy")
    second = payment_capture(payment=second)

    order.refresh_from_db()
    assert second.pk != first.pk and second.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.COMMITTED  # the one hold, sold
    assert Reservation.objects.count() == 1
    assert on_hand(variant) == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert_stock_consistent()


def test_a_failure_after_the_reservation_lapsed_fails_the_order_and_releases_its_stock():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment, _ = payment_start(order=order, gateway="dummy")
    lapse(order)  # no time left to try again

    payment_fail(payment=payment, reason="card declined")

    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert availability([variant.pk]) == {variant.pk: 3}
    assert order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).count() == 1
    assert_stock_consistent()


def test_failing_a_payment_twice_is_harmless():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment, _ = payment_start(order=order, gateway="dummy")

    payment_fail(payment=payment, reason="card declined")
    payment_fail(payment=payment, reason="card declined")

    assert order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).count() == 1
    assert availability([variant.pk]) == {variant.pk: 1}


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
