"""Credit notes follow the refund's lifecycle at Stripe: issued when the refund succeeds (not
while it is pending), once however often Stripe reports it, and never taken back: a refund
that fails after it succeeded leaves its credit note standing and says so to staff."""

from decimal import Decimal

import pytest

from orders.models import CreditNote, OrderEvent
from payments.models import Refund
from payments.services import payment_refund

from .conftest import event

pytestmark = pytest.mark.django_db


def test_a_pending_refund_issues_its_credit_note_when_stripe_says_it_succeeded_and_only_once(
    paid, fake_stripe, deliver, order, mailoutbox
):
    fake_stripe.refund_status = "pending"
    refund = payment_refund(payment=paid, amount=Decimal("20.00"), reason="Damaged in transit")
    assert refund.status == Refund.Status.PENDING
    assert not CreditNote.objects.exists()  # nothing went back yet

    succeeded = fake_stripe.refund_update(refund.provider_refund_id, status="succeeded")
    for _ in range(3):
        deliver(event("refund.updated", succeeded))

    [note] = CreditNote.objects.filter(order=order)
    assert note.amount == Decimal("20.00")
    assert note.invoice.order_id == order.pk
    assert [
        mail.attachments[0][0] for mail in mailoutbox if mail.attachments and mail.attachments[0][0].startswith("CN-")
    ] == [f"{note.number}.pdf"]


def test_a_refund_that_fails_after_it_succeeded_keeps_its_credit_note_and_tells_staff(
    paid, fake_stripe, deliver, order
):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 2000)  # made in the dashboard
    deliver(event("refund.created", refund))
    [note] = CreditNote.objects.filter(order=order)

    deliver(
        event(
            "refund.failed",
            fake_stripe.refund_update(refund["id"], status="failed", failure_reason="lost_or_stolen_card"),
        )
    )

    assert list(CreditNote.objects.filter(order=order)) == [note]  # a document, once issued, stands
    flags = order.events.filter(type=OrderEvent.Type.FLAGGED).values_list("note", flat=True)
    assert any(f"Its credit note {note.number} stands as issued" in flag for flag in flags)
