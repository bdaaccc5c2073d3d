"""Dates and amounts on the order's page and in its documents are written the way the
reader's language writes them (issue 16): "6. Dezember 2026, 14:05" and "38,00 $" in German,
"6 December 2026, 14:05" and "$38.00" in English, as they always read. The month names come
from Django's own German catalog, so these tests do not need the shop's catalog compiled;
the shop's German sentences they check are put in with tests.i18n.german."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from orders.credit_notes import credit_note_for_refund, credit_note_render_pdf
from orders.invoices import invoice_issue, invoice_render_pdf
from orders.models import Order
from orders.services import order_ship
from tests.factories import stocked_variant
from tests.i18n import german
from tests.orders.helpers import place_order
from tests.orders.test_invoices import paid_order, pdf_text, with_tax

pytestmark = pytest.mark.django_db

SAINT_NICHOLAS = datetime(2026, 12, 6, 14, 5, tzinfo=UTC)


@pytest.fixture
def shirt():
    return stocked_variant(sku="SHIRT-L", product__title="Linen Shirt", price=Decimal("38.00"))


def page(order: Order, language: str) -> str:
    response = Client().get(f"/orders/{order.number}/{order.access_token}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def placed_on_saint_nicholas(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=SAINT_NICHOLAS)
    order.refresh_from_db()
    return order


class TestTheOrderPage:
    def test_a_german_shopper_reads_when_the_order_was_placed_as_germans_write_dates(self, shirt):
        order = placed_on_saint_nicholas(paid_order((shirt, 1)))

        html = page(order, "de")

        assert "6. Dezember 2026, 14:05" in html
        assert "December" not in html

    def test_an_english_shopper_reads_the_date_as_before(self, shirt):
        order = placed_on_saint_nicholas(paid_order((shirt, 1)))

        html = page(order, "en")

        assert "Placed 6 December 2026, 14:05" in html

    def test_the_reservation_countdown_sits_inside_one_translated_sentence(self, shirt):
        order = place_order((shirt, 1))
        msgid = "This order is waiting for payment. Your items are reserved for %(countdown)s."

        german_text = "Diese Bestellung wartet auf die Zahlung. Ihre Artikel sind noch %(countdown)s reserviert."
        with german({msgid: german_text}):
            html = page(order, "de")

        assert "Diese Bestellung wartet auf die Zahlung. Ihre Artikel sind noch <strong" in html
        countdown = html.split("Ihre Artikel sind noch ", 1)[1].split("</strong>", 1)[0]
        assert 'class="countdown" data-countdown data-expires-at=' in countdown  # what countdown.js looks for
        assert "</strong> reserviert.</p>" in html

    def test_in_english_the_countdown_sentence_reads_as_before(self, shirt):
        order = place_order((shirt, 1))

        html = page(order, "en")

        assert "This order is waiting for payment. Your items are reserved for <strong" in html
        assert 'data-expired-text="0:00 – your reservation has expired"' in html
        assert "</strong>.</p>" in html

    def test_a_shipment_s_tracking_number_is_part_of_its_translated_sentence(self, shirt):
        order = paid_order((shirt, 1))
        order_ship(
            order=order,
            lines={line.pk: 1 for line in order.lines.all()},
            carrier="UPS",
            tracking_number="1Z999",
            tracking_url="https://ups.example/1Z999",
        )
        msgid = "%(carrier)s, tracking %(tracking)s:"

        with german({msgid: "%(carrier)s, Sendungsnummer %(tracking)s:"}):
            german_html = page(order, "de")
        english_html = page(order, "en")

        link = '<a href="https://ups.example/1Z999" rel="noopener noreferrer" target="_blank">1Z999</a>'
        assert f"UPS, Sendungsnummer {link}:" in german_html
        assert f"UPS, tracking {link}:" in english_html


def dated(document, **dates: str):
    """`document` with its snapshot's dates replaced (in memory only), so that the PDF shows
    known dates: issued_on, and placed_on / paid_on of its order."""
    snapshot = dict(document.snapshot)
    snapshot["issued_on"] = dates.get("issued_on", snapshot["issued_on"])
    snapshot["order"] = {**snapshot["order"], **{k: v for k, v in dates.items() if k in ("placed_on", "paid_on")}}
    if "invoice" in snapshot and "invoice_issued_on" in dates:
        snapshot["invoice"] = {**snapshot["invoice"], "issued_on": dates["invoice_issued_on"]}
    document.snapshot = snapshot
    return document


def read(pdf: bytes) -> str:
    # pypdf gives Babel's no-break space ("38,00\xa0$") back as it is or as a space.
    return pdf_text(pdf).replace("\xa0", " ")


class TestThePdfInvoice:
    def invoice(self, shirt):
        order = with_tax(paid_order((shirt, 1)), rate="0.0750")
        return dated(invoice_issue(order=order), issued_on="2026-12-06", placed_on="2026-12-05", paid_on="2026-12-06")

    def test_a_german_invoice_writes_its_dates_amounts_and_tax_rate_in_german(self, shirt):
        invoice = self.invoice(shirt)

        with translation.override("de"):
            text = read(invoice_render_pdf(invoice=invoice))

        assert "6. Dezember 2026" in text and "5. Dezember 2026" in text
        assert "38,00 $" in text  # the shirt, and the subtotal
        assert "43,00 $" in text  # the total with 5.00 shipping
        assert "2,65 $" in text  # the tax in the shirt's price at 7.5 %
        assert "7,5 %" in text
        for english in ("December", "$38.00", "38.00", "7.5 %"):
            assert english not in text

    def test_an_english_invoice_reads_as_the_shop_s_pages_do(self, shirt):
        invoice = self.invoice(shirt)

        with translation.override("en"):
            text = read(invoice_render_pdf(invoice=invoice))

        assert "6 December 2026" in text and "5 December 2026" in text
        assert "$38.00" in text and "$43.00" in text and "$2.65" in text and "7.5 %" in text
        assert "Dezember" not in text and "38,00" not in text


class TestThePdfCreditNote:
    def note(self, shirt):
        order = with_tax(paid_order((shirt, 1)), rate="0.2000")
        note = credit_note_for_refund(order=order, amount=Decimal("10.00"), reason="Scratched", key="refund:1")
        return dated(note, issued_on="2026-12-06", invoice_issued_on="2026-12-05")

    def test_a_german_credit_note_writes_its_dates_and_amounts_in_german(self, shirt):
        note = self.note(shirt)
        msgid = "This credit note reduces invoice %(invoice)s by %(total)s."

        german_text = "Diese Gutschrift mindert die Rechnung %(invoice)s um %(total)s."
        with german({msgid: german_text}), translation.override("de"):
            text = read(credit_note_render_pdf(credit_note=note))

        assert "6. Dezember 2026" in text and "5. Dezember 2026" in text
        assert f"Diese Gutschrift mindert die Rechnung {note.invoice.number} um 10,00 $." in text
        assert "1,47 $" in text  # the tax in what is credited
        assert "43,00 $" in text  # the invoice's total
        assert "December" not in text and "10.00" not in text

    def test_an_english_credit_note_says_its_amounts_with_the_currency_s_symbol(self, shirt):
        note = self.note(shirt)

        with translation.override("en"):
            text = read(credit_note_render_pdf(credit_note=note))

        assert "6 December 2026" in text and "5 December 2026" in text
        assert f"This credit note reduces invoice {note.invoice.number} by $10.00." in text
        assert "Invoice total: $43.00" in text
        assert "USD" in text  # "Amounts in USD", and the amount column's heading
