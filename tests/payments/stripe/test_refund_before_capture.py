"""Stripe guarantees no order of events: a refund (refund.created, refund.updated,
charge.refunded) can arrive before the checkout.session.completed of the payment it refunds.
Such an event waits for its payment and is applied once, when the capture comes in; one that
can never match (a payment of another integration on the account) is given up after
WEBHOOK_WAIT_LIMIT; staff can replay any event that was not processed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from payments.models import Payment, Refund, WebhookEvent
from tests.payments.helpers import run_beat_entry

from .conftest import event

pytestmark = pytest.mark.django_db

WEBHOOKS = reverse("admin:payments_webhookevent_changelist")


def refund_events(fake_stripe, intent_id: str, amount: int) -> list[dict]:
    """One refund of `amount` cents of the PaymentIntent as its three events report it."""
    refund = fake_stripe.refund_object(intent_id, amount, status="pending")
    succeeded = {**refund, "status": "succeeded"}
    charge = fake_stripe.charge(intent_id, refunds=[succeeded], amount_refunded=amount)
    return [event("refund.created", refund), event("refund.updated", succeeded), event("charge.refunded", charge)]


def test_refund_events_delivered_five_times_before_the_capture_wait_and_are_applied_once_with_it(
    started, fake_stripe, deliver, order
):
    payment, session_id = started
    completed = fake_stripe.complete(session_id)
    refunds = refund_events(fake_stripe, completed["payment_intent"], 2000)

    for _ in range(5):
        for evt in refunds:
            assert deliver(evt).status_code == 200

    waiting = WebhookEvent.objects.filter(event_type__in=["refund.created", "refund.updated", "charge.refunded"])
    assert set(waiting.values_list("status", flat=True)) == {WebhookEvent.Status.WAITING}
    assert all("waiting for its capture" in error for error in waiting.values_list("error", flat=True))
    assert not Refund.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT

    deliver(event("checkout.session.completed", completed))

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.provider_refund_id) == (
        Refund.Status.SUCCEEDED,
        Decimal("20.00"),
        refunds[0]["data"]["object"]["id"],
    )
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == order.refunded_total == Decimal("20.00")
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.events.filter(type=OrderEvent.Type.REFUNDED).count() == 1


def test_a_refund_event_for_a_payment_that_never_comes_is_given_up_after_the_wait_limit(started, fake_stripe, deliver):
    _, session_id = started
    foreign_intent = fake_stripe.complete(session_id)["payment_intent"]  # never reported to us
    deliver(refund_events(fake_stripe, foreign_intent, 500)[0])
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.WAITING

    run_beat_entry("retry-waiting-payments-work")  # within the limit: it keeps waiting
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.WAITING

    WebhookEvent.objects.filter(pk=stored.pk).update(received_at=timezone.now() - timedelta(days=3, minutes=1))
    counts = run_beat_entry("retry-waiting-payments-work")

    stored.refresh_from_db()
    assert counts["waiting_events"]["ignored"] == 1
    assert stored.status == WebhookEvent.Status.IGNORED
    assert "Given up after 3 days" in stored.error
    assert not Refund.objects.exists()


def test_staff_replay_an_ignored_refund_event_once_its_payment_is_captured(
    started, fake_stripe, deliver, admin_client, django_capture_on_commit_callbacks
):
    payment, session_id = started
    completed = fake_stripe.complete(session_id)
    succeeded = refund_events(fake_stripe, completed["payment_intent"], 1000)[1]
    deliver(succeeded)
    stored = WebhookEvent.objects.get()
    # Given up on (it waited too long), and then the capture turns up after all.
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.Status.IGNORED, error="Given up")
    deliver(event("checkout.session.completed", completed))
    assert WebhookEvent.objects.get(pk=stored.pk).status == WebhookEvent.Status.IGNORED  # capture queued only live ones

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            WEBHOOKS, {"action": "replay_events", "_selected_action": [stored.pk]}, follow=True
        )

    assert [str(m) for m in response.context["messages"]] == [
        "Queued 1 event(s) for processing again: 1 ignored. The list shows how each ends."
    ]
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("10.00")
