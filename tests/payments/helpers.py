"""Paying an order in tests the way the dummy gateway does: a payment, then its webhook."""
from __future__ import annotations

from orders.models import Order
from payments.gateways.base import InboxEvent
from payments.models import Payment
from payments.services import payment_start, webhook_process, webhook_receive


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
