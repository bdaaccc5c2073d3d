"""A long-lived worker renders many documents with one WeasyPrint FontConfiguration
(orders.invoices._font_configuration) and the documents' fixed stylesheet parsed once
(orders.invoices._document_stylesheet): the bytes of every document are still the ones a fresh
process writes, whatever was rendered before it (an issued document's PDF must never change:
a restored file has to match its stored sha256)."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from orders import invoices
from orders.credit_notes import credit_note_for_refund, credit_note_render_pdf
from orders.invoices import invoice_issue, invoice_render_pdf
from orders.services import order_mark_paid
from tests.factories import stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def documents():
    """Two invoices (one line, twelve lines) and a credit note."""
    short_variant = stocked_variant(on_hand=50)
    short = order_mark_paid(
        order=place_order((short_variant, 1)), reference="pay_s", reservation_ttl=timedelta(minutes=15)
    )
    long = order_mark_paid(
        order=place_order(*[(stocked_variant(on_hand=5), 1 + n % 3) for n in range(12)]),
        reference="pay_l",
        reservation_ttl=timedelta(minutes=15),
    )
    note = credit_note_for_refund(order=short, amount=Decimal("1.00"), reason="Goodwill", key="refund-1")
    return invoice_issue(order=short), invoice_issue(order=long), note


def renderers(documents):
    short, long, note = documents
    return [
        lambda: invoice_render_pdf(invoice=short),
        lambda: invoice_render_pdf(invoice=long),
        lambda: credit_note_render_pdf(credit_note=note),
    ]


def render_all(documents, language: str) -> list[str]:
    with translation.override(language):
        return [sha(render()) for render in renderers(documents)]


@pytest.mark.parametrize("language", ["en", "de"])
def test_documents_rendered_one_after_another_are_byte_for_byte_what_a_fresh_process_renders(documents, language):
    fresh = []
    with translation.override(language):
        for render in renderers(documents):
            # A fresh FontConfiguration before each: as if each were a process's first render.
            invoices._font_configuration.cache_clear()
            fresh.append(sha(render()))

    invoices._font_configuration.cache_clear()
    render_all(documents, "de" if language == "en" else "en")  # the other language first
    reused = render_all(documents, language)
    again = render_all(documents, language)

    assert reused == fresh
    assert again == fresh


def test_a_worker_keeps_one_font_configuration_across_renders(documents):
    invoices._font_configuration.cache_clear()

    render_all(documents, "en")
    render_all(documents, "de")

    assert invoices._font_configuration.cache_info().misses == 1
    assert invoices._font_configuration.cache_info().hits == 5


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_stylesheet_given_apart_renders_what_the_same_rules_inline_render(documents, language):
    # orders/_document.css is parsed once and given to WeasyPrint beside each document; the
    # PDF must be the one the rules written into the document's own <style> give, as issued
    # documents were rendered before.
    from weasyprint import HTML

    short, long, note = documents
    css = render_to_string("orders/_document.css")
    with translation.override(language):
        for template, snapshot, render in [
            ("orders/invoice.html", short.snapshot, lambda: invoice_render_pdf(invoice=short)),
            ("orders/invoice.html", long.snapshot, lambda: invoice_render_pdf(invoice=long)),
            ("orders/credit_note.html", note.snapshot, lambda: credit_note_render_pdf(credit_note=note)),
        ]:
            html = render_to_string(template, {"doc": invoices._display(snapshot)})
            assert html.count("</style>") == 1
            inline = HTML(string=html.replace("</style>", css + "</style>"), base_url=str(settings.BASE_DIR))

            assert sha(render()) == sha(inline.write_pdf())
