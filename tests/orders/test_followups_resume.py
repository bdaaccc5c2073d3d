"""
A paid order whose follow-up task was never queued (the broker was down at the commit) gets
its invoice and confirmation from the beat job orders.tasks.resume_order_followups, once.

These tests run in a rolled-back transaction, so on-commit callbacks never run: paying an
order here is exactly "paid while the broker was down".
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import EmailLog, Invoice, Order
from orders.services import order_mark_paid
from orders.tasks import resume_order_followups
from tests.factories import stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db


def paid_order(*, minutes_ago: int, status=None) -> Order:
    order = order_mark_paid(
        order=place_order((stocked_variant(on_hand=3), 1)), reference="pay", reservation_ttl=timedelta(minutes=15)
    )
    changes = {"paid_at": timezone.now() - timedelta(minutes=minutes_ago)}
    if status:
        changes["status"] = status
    Order.objects.filter(pk=order.pk).update(**changes)
    return order


def confirmations(order: Order) -> list[str]:
    return [m.subject for m in mail.outbox if order.number in m.subject and "confirmed" in m.subject]


def test_an_order_paid_while_the_broker_was_down_gets_its_invoice_and_confirmation_once(settings):
    settings.FOLLOWUPS_RESUME_MINUTES = 10
    order = paid_order(minutes_ago=20)
    assert not Invoice.objects.filter(order=order).exists() and mail.outbox == []

    assert resume_order_followups() == 1

    invoice = Invoice.objects.get(order=order)
    assert invoice.pdf
    assert EmailLog.objects.get(kind="order_confirmation", key=order.number).sent_at is not None
    assert len(confirmations(order)) == 1
    # The next run finds nothing to do, and sends nothing again.
    assert resume_order_followups() == 0
    assert len(confirmations(order)) == 1 and Invoice.objects.filter(order=order).count() == 1


def test_only_the_missing_step_is_done_again():
    """The invoice was made, the email never went: the run sends the email, keeps the invoice."""
    from orders.invoices import invoice_generate

    order = paid_order(minutes_ago=20)
    number = invoice_generate(order=order).number
    assert resume_order_followups() == 1
    assert Invoice.objects.get(order=order).number == number
    assert len(confirmations(order)) == 1


def test_recent_refunded_and_old_orders_are_left_alone(settings):
    settings.FOLLOWUPS_RESUME_WINDOW_HOURS = 72
    paid_order(minutes_ago=2)  # its follow-up may still be under way
    paid_order(minutes_ago=20, status=Order.Status.REFUNDED)  # the refund has its own email
    paid_order(minutes_ago=4 * 24 * 60)  # older than the window: history is never mailed
    assert resume_order_followups() == 0
    assert mail.outbox == []
