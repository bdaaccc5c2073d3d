"""A refund we start is one Refund row with one idempotency key, written before Stripe is
called and sent again, unchanged, by every retry. Stripe here records the refund and then the
answer is lost on the way back (every attempt of the SDK's NETWORK_RETRIES times out): the
retry must not refund a second time."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from payments.gateways.stripe import NETWORK_RETRIES
from payments.models import Payment, Refund
from payments.tasks import refund_rejected_payment
from tests.orders.helpers import lapse, place_order
from tests.payments.helpers import refund_form_token, run_beat_entry

from .conftest import event

pytestmark = pytest.mark.django_db


def test_an_automatic_refund_whose_answer_was_lost_is_retried_with_the_same_row_and_key_and_refunds_once(
    started, fake_stripe, deliver, order, shirt
):
    payment, session_id = started
    lapse(order)
    place_order((shirt, 4))  # the lapsed units went to someone else: the payment is rejected
    fake_stripe.lost_refund_answers = NETWORK_RETRIES + 1  # every attempt of the first run

    deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert "Could not reach Stripe" in refund.error
    assert len(fake_stripe.refunds) == 1  # Stripe made it; we do not know yet

    refund_rejected_payment.delay(payment.pk)  # the task's retry

    assert len(fake_stripe.refunds) == 1
    assert set(fake_stripe.refund_keys()) == {refund.idempotency_key}
    assert Refund.objects.count() == 1
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.status, refund.error) == (Refund.Status.SUCCEEDED, "")
    assert refund.provider_refund_id == next(iter(fake_stripe.refunds))
    assert payment.refunded_amount == payment.amount == Decimal("63.50")


def test_a_staff_refund_whose_answer_was_lost_says_pending_and_a_second_click_makes_no_second_refund(
    paid, fake_stripe, admin_client, order
):
    url = reverse("admin:payments_payment_refund", args=[paid.pk])
    intent = refund_form_token(admin_client, paid)
    fake_stripe.lost_refund_answers = NETWORK_RETRIES + 1
    data = {"intent": intent, "amount": "20.00", "reason": "Damaged in transit"}

    response = admin_client.post(url, data, follow=True)

    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("The refund of 20.00 USD is pending: Could not reach Stripe")
    assert "sent again automatically with the same idempotency key" in message
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING

    again = admin_client.post(url, data, follow=True)  # the same form, clicked again

    assert again.status_code == 200
    assert Refund.objects.count() == 1
    assert len(fake_stripe.refund_creates()) == NETWORK_RETRIES + 1  # nothing more was sent

    # The beat sends it again once its last attempt is older than the submission lease.
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    counts = run_beat_entry("retry-waiting-payments-work")

    assert counts["refunds"] == {"succeeded": 1, "pending": 0, "failed": 0}
    assert len(fake_stripe.refunds) == 1
    assert set(fake_stripe.refund_keys()) == {refund.idempotency_key}
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("20.00"))


def test_a_refund_stripe_refuses_outright_is_failed_at_once_and_not_retried(paid, fake_stripe, admin_client, order):
    url = reverse("admin:payments_payment_refund", args=[paid.pk])
    intent = refund_form_token(admin_client, paid)
    fake_stripe.fail_next(
        status=400,
        type_="invalid_request_error",
        message="Charge has already been refunded.",
        code="charge_already_refunded",
    )

    response = admin_client.post(url, {"intent": intent, "amount": "20.00", "reason": "x"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Stripe could not refund the payment (charge_already_refunded)."
    ]
    refund = Refund.objects.get()
    assert (refund.status, refund.attempts) == (Refund.Status.FAILED, 1)
    assert len(fake_stripe.refund_creates()) == 1  # a 4xx is not retried by the SDK either
    order.refresh_from_db()
    assert order.needs_attention and order.status == Order.Status.PAID
