"""A refund that succeeded is money going back on an invoiced sale: it issues one credit note
(orders.credit_notes) referring to the order's invoice, emailed to the customer with its PDF.
Through the staff's Refund page, with the dummy gateway (its refunds succeed at once)."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from orders.models import CreditNote, Invoice, Order
from payments.models import Payment, Refund
from payments.services import payment_capture
from tests.factories import stocked_variant
from tests.orders.helpers import place_order
from tests.payments.helpers import second_payment_of_a_paid_order

from .test_payments import paid, post_refund

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_staff_refund_issues_one_credit_note_for_its_amount_emailed_with_its_pdf(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    payment = paid((stocked_variant(on_hand=5), 1))  # 25.00 USD
    with django_capture_on_commit_callbacks(execute=True):
        response = post_refund(staff_client, payment, {"amount": "10.00", "reason": "Late delivery"})
        response = post_refund(
            staff_client, payment, {"amount": "10.00", "reason": "Late delivery"}
        )  # a second form, a second refund

    assert response.status_code == 302
    invoice = Invoice.objects.get(order=payment.order)
    notes = list(CreditNote.objects.filter(order=payment.order).order_by("sequence"))
    assert [(note.amount, note.invoice_id) for note in notes] == [(Decimal("10.00"), invoice.pk)] * 2
    assert notes[0].number != notes[1].number
    refund_mails = [mail for mail in mailoutbox if any(name.startswith("CN-") for name, *_ in mail.attachments)]
    assert len(refund_mails) == 2
    name, content, mimetype = refund_mails[0].attachments[0]
    assert (name, mimetype) == (f"{notes[0].number}.pdf", "application/pdf")
    text = pdf_text(content)
    assert notes[0].number in text and invoice.number in text and "10.00" in text


def test_a_refund_the_provider_refuses_issues_no_credit_note(
    staff_client, settings, django_capture_on_commit_callbacks
):
    payment = paid((stocked_variant(on_hand=5), 1))
    settings.PAYMENT_GATEWAYS = []  # the gateway is switched off: the refund fails at once

    with django_capture_on_commit_callbacks(execute=True):
        post_refund(staff_client, payment, {"amount": "10.00", "reason": "Late delivery"})

    assert Refund.objects.get().status == Refund.Status.FAILED  # nothing was sent, nothing went back
    assert not CreditNote.objects.exists()


def test_the_automatic_refund_of_a_rejected_payment_issues_no_credit_note(django_capture_on_commit_callbacks):
    order = place_order((stocked_variant(on_hand=5), 1))
    second = second_payment_of_a_paid_order(order)

    with django_capture_on_commit_callbacks(execute=True):
        second = payment_capture(payment=second)

    assert second.status == Payment.Status.REJECTED
    assert Refund.objects.get(payment=second).status == Refund.Status.SUCCEEDED  # the money went back
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_total == 0
    assert not CreditNote.objects.exists()  # it was never the invoiced payment
