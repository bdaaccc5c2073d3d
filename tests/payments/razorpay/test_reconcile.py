"""Reconciliation asks Razorpay about its Order when webhooks got lost."""

from datetime import timedelta

import pytest

from inventory.models import Reservation
from orders.models import Order
from payments.models import Payment
from payments.services import payments_reconcile
from tests.factories import stocked_variant
from tests.orders.helpers import lapse

from .conftest import start_paying

pytestmark = pytest.mark.django_db

NOW = timedelta(0)


def test_a_captured_payment_whose_webhook_was_lost_pays_the_order(client, razorpay_api):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    razorpay_api.pay(payment.provider_order_id, status="failed")
    paid = razorpay_api.pay(payment.provider_order_id)

    result = payments_reconcile(older_than=NOW)

    assert (result.checked, result.captured) == (1, 1)
    assert len(razorpay_api.calls("GET", f"/orders/{payment.provider_order_id}/payments")) == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_payment_id == paid["id"]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_only_failed_attempts_leave_the_payment_pending_while_the_shopper_may_still_try_again(client, razorpay_api):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    razorpay_api.pay(payment.provider_order_id, status="failed", error_description="Card declined")
    razorpay_api.pay(payment.provider_order_id, status="failed", error_description="UPI request expired")

    result = payments_reconcile(older_than=NOW)

    assert result.still_pending == 1
    payment.refresh_from_db()
    assert (payment.status, payment.error) == (Payment.Status.PENDING, "UPI request expired")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert Reservation.objects.get(owner=order.reservation_owner).status == Reservation.Status.ACTIVE


def test_only_failed_attempts_fail_the_payment_once_the_reservation_is_over(client, razorpay_api):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    razorpay_api.pay(payment.provider_order_id, status="failed", error_description="Card declined")
    razorpay_api.pay(payment.provider_order_id, status="failed", error_description="UPI request expired")
    lapse(order)

    result = payments_reconcile(older_than=NOW)

    assert result.failed == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "UPI request expired"
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAYMENT_FAILED


@pytest.mark.parametrize("attempt", [None, "authorized"])
def test_an_order_not_paid_yet_stays_pending(client, razorpay_api, attempt):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    if attempt:
        razorpay_api.pay(payment.provider_order_id, status=attempt)

    result = payments_reconcile(older_than=NOW)

    assert result.still_pending == 1
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_razorpay_being_down_is_counted_not_raised(client, razorpay_api):
    _, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    razorpay_api.down = True

    result = payments_reconcile(older_than=NOW)

    assert result.errors == 1
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
