"""The statuses a shopper reads of their payments, refunds and reviews are marked for
translation and read in the page's language (issue 16): the German order page says what
the German catalog says for "Captured", not "Captured"."""

import pytest
from django.utils import translation

from catalog.models import ProductReview
from payments.models import Payment, Refund
from tests.factories import stocked_variant
from tests.i18n import german
from tests.orders.helpers import place_order
from tests.payments.helpers import pay_by_dummy_webhook

pytestmark = pytest.mark.django_db


def test_the_german_order_page_shows_the_payment_status_in_german(client):
    order = place_order((stocked_variant(on_hand=3), 1))
    pay_by_dummy_webhook(order)

    with german({"Captured": "Erfasst"}):
        german_page = client.get(order.get_guest_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english_page = client.get(order.get_guest_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Erfasst" in german_page and "Captured" not in german_page
    assert "Captured" in english_page


@pytest.mark.parametrize(
    ("status", "english", "translated"),
    [
        (Payment.Status.PENDING, "Pending", "Ausstehend"),
        (Payment.Status.FAILED, "Failed", "Fehlgeschlagen"),
        (Payment.Status.REJECTED, "Rejected", "Abgelehnt"),
        (Refund.Status.SUCCEEDED, "Succeeded", "Erfolgreich"),
        (Refund.Status.CANCELED, "Canceled", "Abgebrochen"),
        (ProductReview.Status.APPROVED, "Approved", "Freigegeben"),
    ],
)
def test_status_labels_are_read_in_the_active_language(status, english, translated):
    with german({english: translated}), translation.override("de"):
        assert str(status.label) == translated
    with translation.override("en"):
        assert str(status.label) == english
