"""A refund's lifecycle at Stripe: pending → succeeded | failed | canceled
(https://docs.stripe.com/api/refunds/object#refund_object-status), reported by refund.created,
refund.updated and refund.failed in any order. Only a succeeded refund counts; a failed one
gives its amount back to what can be refunded and puts the order in front of staff with
Stripe's reason; one that succeeded and failed afterwards
(https://docs.stripe.com/refunds#failed-refunds) is taken back."""

from decimal import Decimal

import pytest

from orders.models import Order, OrderEvent
from payments.models import Payment, Refund
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund

from .conftest import event

pytestmark = pytest.mark.django_db

STAFF = "ops@example.com"


@pytest.fixture(autouse=True)
def staff_alerts(settings):
    settings.STAFF_ALERT_EMAILS = [STAFF]


def flags(order) -> list[str]:
    return list(order.events.filter(type=OrderEvent.Type.FLAGGED).values_list("note", flat=True))


def staff_emails(mailoutbox) -> list:
    return [mail for mail in mailoutbox if mail.to == [STAFF]]


def test_a_pending_refund_that_fails_counts_nothing_frees_its_amount_and_flags_the_order_with_stripes_reason(
    paid, fake_stripe, deliver, order, mailoutbox
):
    fake_stripe.refund_status = "pending"
    refund = payment_refund(payment=paid, amount=Decimal("20.00"), reason="Damaged in transit")
    assert refund.status == Refund.Status.PENDING

    failed = fake_stripe.refund_update(
        refund.provider_refund_id, status="failed", failure_reason="expired_or_canceled_card"
    )
    deliver(event("refund.failed", failed))

    refund.refresh_from_db()
    paid.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.error) == (Refund.Status.FAILED, "expired_or_canceled_card")
    assert (paid.refunded_amount, order.refunded_total, order.status) == (0, 0, Order.Status.PAID)
    assert payment_refundable_amount(paid) == Decimal("63.50")  # can be refunded again
    assert order.needs_attention
    [note] = flags(order)
    assert f"Refund {refund.pk} of 20.00 USD" in note and "failed: expired_or_canceled_card" in note
    [alert] = staff_emails(mailoutbox)
    assert alert.subject == f"Order {order.number} needs attention"
    assert "expired_or_canceled_card" in alert.body


def test_a_refund_that_succeeded_and_failed_afterwards_is_taken_back_and_flagged(
    paid, fake_stripe, deliver, order, mailoutbox
):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 6350)  # made in the dashboard
    deliver(event("refund.created", refund))
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("63.50"))

    deliver(
        event(
            "refund.failed",
            fake_stripe.refund_update(refund["id"], status="failed", failure_reason="lost_or_stolen_card"),
        )
    )

    recorded = Refund.objects.get()
    paid.refresh_from_db()
    order.refresh_from_db()
    assert (recorded.status, recorded.error) == (Refund.Status.FAILED, "lost_or_stolen_card")
    assert paid.refunded_amount == order.refunded_total == Decimal("0")
    assert order.status == Order.Status.PAID  # the money is with us again
    assert order.needs_attention
    assert any("after it had succeeded: lost_or_stolen_card" in note for note in flags(order))
    assert order.events.filter(type=OrderEvent.Type.REFUNDED).count() == 2  # counted, then taken back
    assert len(staff_emails(mailoutbox)) == 1


def test_when_one_of_two_refunds_fails_afterwards_the_order_is_partially_refunded_again(
    paid, fake_stripe, deliver, order
):
    first = fake_stripe.refund_object(paid.provider_payment_id, 2000)
    second = fake_stripe.refund_object(paid.provider_payment_id, 4350)
    deliver(event("refund.created", first))
    deliver(event("refund.created", second))
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED

    deliver(event("refund.updated", fake_stripe.refund_update(first["id"], status="failed", failure_reason="declined")))

    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("43.50"))
    assert payment_refundable_amount(Payment.objects.get(pk=paid.pk)) == Decimal("20.00")


@pytest.mark.parametrize("late", [["refund.updated:succeeded", "refund.created:pending"], ["refund.created:pending"]])
def test_a_failed_refund_stays_failed_whatever_arrives_after_it(paid, fake_stripe, deliver, order, late):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 2000, status="pending")
    failed = {**refund, "status": "failed", "failure_reason": "declined"}

    deliver(event("refund.failed", failed))
    for name_status in late:
        name, status = name_status.split(":")
        deliver(event(name, {**refund, "status": status}))

    recorded = Refund.objects.get()
    paid.refresh_from_db()
    order.refresh_from_db()
    assert recorded.status == Refund.Status.FAILED
    assert (paid.refunded_amount, order.refunded_total, order.status) == (0, 0, Order.Status.PAID)


def test_a_refund_counts_once_it_succeeded_and_a_late_pending_never_undoes_it(paid, fake_stripe, deliver, order):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 2000, status="pending")

    deliver(event("refund.created", refund))
    order.refresh_from_db()
    assert (Refund.objects.get().status, order.status, order.refunded_total) == (
        Refund.Status.PENDING,
        Order.Status.PAID,
        0,
    )

    deliver(event("refund.updated", {**refund, "status": "succeeded"}))
    deliver(event("refund.updated", refund))  # an older "pending" update, delivered late

    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("20.00"))
    assert order.events.filter(type=OrderEvent.Type.REFUNDED).count() == 1


@pytest.mark.parametrize("status", ["pending", "requires_action"])
def test_a_refund_waiting_at_stripe_and_then_canceled_counts_nothing(paid, fake_stripe, deliver, order, status):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 6350, status=status)
    deliver(event("refund.created", refund))
    assert (Refund.objects.get().status, Order.objects.get(pk=order.pk).status) == (
        Refund.Status.PENDING,
        Order.Status.PAID,
    )

    deliver(event("refund.updated", fake_stripe.refund_update(refund["id"], status="canceled")))

    recorded = Refund.objects.get()
    order.refresh_from_db()
    assert recorded.status == Refund.Status.CANCELED
    assert (order.status, order.refunded_total) == (Order.Status.PAID, Decimal("0"))
    assert order.needs_attention
    assert payment_refundable_amount(Payment.objects.get(pk=paid.pk)) == Decimal("63.50")
