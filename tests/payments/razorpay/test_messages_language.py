"""What the shopper reads when Razorpay cannot start their payment is a whole sentence in
their language (issue 16), with Razorpay's own words as they came; what is stored for staff
(Payment.error) stays English."""

import pytest

from payments.models import Payment
from tests.factories import stocked_variant
from tests.i18n import german

from .conftest import inr_order

pytestmark = pytest.mark.django_db

UNREACHABLE = "Razorpay could not be reached to start the payment. Please try again in a moment."
REFUSED = "Razorpay could not start the payment: %(error)s"


def choose_razorpay_in_german(client, order) -> str:
    """The shopper, reading German, picks Razorpay; returns the page they land on."""
    url = f"/payments/order/{order.access_token}/"
    return client.post(url, {"gateway": "razorpay"}, follow=True, HTTP_ACCEPT_LANGUAGE="de").content.decode()


def test_a_shopper_reading_german_is_told_in_german_that_razorpay_cannot_be_reached(client, razorpay_api):
    order = inr_order((stocked_variant(on_hand=5), 1))
    razorpay_api.unreachable = True

    with german({UNREACHABLE: "Razorpay ist gerade nicht erreichbar."}):
        page = choose_razorpay_in_german(client, order)

    assert "Razorpay ist gerade nicht erreichbar." in page and "could not" not in page
    assert Payment.objects.get(order=order).error == UNREACHABLE


def test_razorpays_refusal_is_one_german_sentence_around_its_own_words(client, razorpay_api):
    order = inr_order((stocked_variant(on_hand=5), 1))
    razorpay_api.refuse_orders = "Currency is not supported"

    with german({REFUSED: "Razorpay konnte die Zahlung nicht starten: %(error)s"}):
        page = choose_razorpay_in_german(client, order)

    assert "Razorpay konnte die Zahlung nicht starten: Currency is not supported" in page
    assert Payment.objects.get(order=order).error == "Razorpay could not start the payment: Currency is not supported"
