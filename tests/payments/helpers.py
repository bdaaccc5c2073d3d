"""Paying an order in tests the way the dummy gateway does: a payment, then its webhook; and
running what Celery beat schedules, as a worker would."""

from __future__ import annotations

import re

from django.conf import settings
from django.urls import reverse

from config.celery_app import app as celery_app
from orders.models import CreditNote, Order, OrderEvent
from payments.gateways.base import InboxEvent
from payments.models import Payment, Refund
from payments.selectors import payment_refundable_amount
from payments.services import payment_capture, payment_start, webhook_process, webhook_receive


def dummy_paid_event(payment: Payment) -> InboxEvent:
    """The event the dummy gateway's page stores when the shopper presses "Pay"."""
    return InboxEvent(
        event_id=f"{payment.reference}:pay",
        event_type="payment.succeeded",
        payload={"reference": payment.reference, "amount": str(payment.amount), "currency": payment.currency},
    )


def pay_by_dummy_webhook(order: Order) -> Payment:
    """Starts a dummy payment for `order` and processes its "paid" webhook event; returns the
    payment. `order` is refreshed from the database."""
    payment, _action = payment_start(order=order, gateway="dummy")
    event, _created = webhook_receive(provider="dummy", event=dummy_paid_event(payment))
    webhook_process(event=event)
    order.refresh_from_db()
    return payment


def run_beat_entry(name: str):
    """Runs the task that Celery beat's schedule entry `name` (CELERY_BEAT_SCHEDULE) sends, as
    a worker would (by its name, eagerly here), and returns its result. Raises KeyError when
    beat has no such entry."""
    celery_app.loader.import_default_modules()  # what a worker does at start
    return celery_app.tasks[settings.CELERY_BEAT_SCHEDULE[name]["task"]].delay().get()


def second_payment_of_a_paid_order(order: Order) -> Payment:
    """Pays `order` through one dummy payment and returns a second dummy payment of it, still
    pending: capturing it rejects it (the order is paid already) and refunds it automatically."""
    first, _action = payment_start(order=order, gateway="dummy")
    second = Payment(order=order, gateway="dummy", amount=order.total, currency=order.currency)
    second.provider_order_id = second.reference
    second.save()
    payment_capture(payment=first)
    return second


def refund_form_token(client, payment: Payment) -> str:
    """The token of the admin refund form of `payment`, as a browser gets the page (its hidden
    `intent` field); "" when the page has none."""
    page = client.get(reverse("admin:payments_payment_refund", args=[payment.pk])).content.decode()
    found = re.search(r'<input type="hidden" name="intent" value="([0-9a-f]{32})"', page)
    return found.group(1) if found else ""


def assert_refund_failed_and_freed(refund: Refund, *, reason: str) -> None:
    """`refund` (of a paid order's only payment) ended failed with the provider's `reason`:
    nothing counted as refunded, its amount can be refunded again, no credit note, and the
    order flagged for staff with the refund and the reason."""
    refund.refresh_from_db()
    payment = Payment.objects.get(pk=refund.payment_id)
    order = Order.objects.get(pk=payment.order_id)
    assert (refund.status, refund.error) == (Refund.Status.FAILED, reason)
    assert payment_refundable_amount(payment) == payment.amount
    assert (payment.refunded_amount, order.refunded_total, order.status) == (0, 0, Order.Status.PAID)
    assert not CreditNote.objects.filter(order=order).exists()
    assert order.needs_attention
    [flag] = order.events.filter(type=OrderEvent.Type.FLAGGED).values_list("note", flat=True)
    assert f"Refund {refund.pk} of {refund.amount} {refund.currency}" in flag and f"failed: {reason}" in flag
