"""Orders remember the language they were placed in, and their emails and documents are
written in it (issue 16): the subject, body and prices of a German shopper's confirmation
and its invoice are rendered under translation.override("de"), and say so in Content-Language.
Until the German catalog is translated, the German prices ("38,00 $") and Django's German
month names show it."""

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from pypdf import PdfReader

from orders.emails import order_email_send
from orders.models import Invoice, Order
from orders.services import order_mark_paid
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.orders.helpers import place_order
from tests.storefront.conftest import Shopper

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)


@pytest.fixture
def shirt():
    return stocked_variant(sku="SHIRT-L", product__title="Linen Shirt", price=Decimal("38.00"))


def _paid_order(shirt, language: str | None) -> Order:
    with translation.override(language):
        order = place_order((shirt, 1))
    return order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)


@pytest.mark.parametrize(("active", "stored"), [("de", "de"), ("de-at", "de"), ("en-us", "en"), ("fr", ""), (None, "")])
def test_an_order_stores_the_offered_language_active_when_it_is_placed(shirt, active, stored):
    with translation.override(active):
        order = place_order((shirt, 1))
    order.refresh_from_db()
    assert order.language == stored


def test_an_order_placed_through_the_shop_in_german_is_german(client, shirt):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9,en;q=0.5"
    response = Shopper(client).buy(shirt, ShippingMethodFactory())
    assert response.status_code == 302
    assert Order.objects.get().language == "de"


def test_a_german_order_s_confirmation_and_invoice_are_written_in_german(shirt, mailoutbox):
    order = _paid_order(shirt, "de")
    assert order_email_send(kind="order_confirmation", order=order)
    [message] = mailoutbox
    assert message.message()["Content-Language"] == "de"
    assert "38,00\xa0$" in message.body and "$38.00" not in message.body
    [(html, _)] = message.alternatives
    assert "38,00\xa0$" in html and "$38.00" not in html
    pdf = Invoice.objects.get(order=order).pdf.open("rb").read()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # Django writes the month in the active language: the PDF was rendered in German.
    month = [
        *("Januar", "Februar", "März", "April", "Mai", "Juni"),
        *("Juli", "August", "September", "Oktober", "November", "Dezember"),
    ]
    assert month[order.paid_at.month - 1] in text
    assert translation.get_language() != "de", "the override must end with the send"


@pytest.mark.parametrize("language", ["", "en", "xx"])
def test_an_order_without_an_offered_language_is_written_in_the_shop_s_default(shirt, mailoutbox, settings, language):
    order = _paid_order(shirt, None)
    Order.objects.filter(pk=order.pk).update(language=language)
    order.refresh_from_db()
    with translation.override("de"):  # whoever sends it: the order's language, not theirs
        assert order_email_send(kind="order_confirmation", order=order)
    [message] = mailoutbox
    expected = "en" if language == "en" else settings.LANGUAGE_CODE
    assert message.message()["Content-Language"] == expected
    assert "$38.00" in message.body and "38,00" not in message.body


# The compiled German catalog is build output (`make translations`, which `make test` runs).
GERMAN_CATALOG = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.mo"


@pytest.mark.skipif(not GERMAN_CATALOG.exists(), reason="German catalog not compiled: run make translations")
def test_a_german_order_s_confirmation_reads_german(shirt, mailoutbox):
    order = _paid_order(shirt, "de")
    assert order_email_send(kind="order_confirmation", order=order)
    [message] = mailoutbox
    assert message.subject == f"Vielen Dank für Ihre Bestellung {order.number}"
    assert "Vielen Dank für Ihre Bestellung!" in message.body
    assert "Zwischensumme: 38,00\xa0$" in message.body
    for english in ("Thank you", "Subtotal", "Total:", "Shipping to", "Billed to"):
        assert english not in message.body
