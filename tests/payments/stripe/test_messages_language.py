"""What the shopper reads when Stripe cannot start their payment is a whole sentence in their
language (issue 16), Stripe's error code kept as it came; what is stored for staff
(Payment.error) stays English."""

import pytest
import requests

from payments.models import Payment
from tests.i18n import german

pytestmark = pytest.mark.django_db

UNREACHABLE = "Could not reach Stripe to start the payment. Please try again in a moment."
REFUSED = "Stripe could not start the payment%(code)s."


def pay_with_stripe_in_german(client, order) -> str:
    url = f"/payments/order/{order.access_token}/"
    return client.post(url, {"gateway": "stripe"}, follow=True, HTTP_ACCEPT_LANGUAGE="de").content.decode()


def test_a_shopper_reading_german_is_told_in_german_that_stripe_cannot_be_reached(client, order, fake_stripe):
    fake_stripe.mock.replace(
        "POST", "https://api.stripe.com/v1/checkout/sessions", body=requests.ConnectionError("connection refused")
    )

    with german({UNREACHABLE: "Stripe ist gerade nicht erreichbar."}):
        page = pay_with_stripe_in_german(client, order)

    assert "Stripe ist gerade nicht erreichbar." in page and "Could not reach" not in page
    assert Payment.objects.get().error == UNREACHABLE


def test_stripes_refusal_is_one_german_sentence_with_its_code(client, order, fake_stripe):
    fake_stripe.fail_next(
        status=400, type_="invalid_request_error", message="Invalid currency: xyz", code="parameter_invalid_string"
    )

    with german({REFUSED: "Stripe konnte die Zahlung nicht starten%(code)s."}):
        page = pay_with_stripe_in_german(client, order)

    assert "Stripe konnte die Zahlung nicht starten (parameter_invalid_string)." in page
    assert Payment.objects.get().error == "Stripe could not start the payment (parameter_invalid_string)."


def test_an_unknown_payment_method_is_refused_in_the_shoppers_language(client, order):
    url = f"/payments/order/{order.access_token}/"
    with german({"Unknown payment method %(name)s.": "Unbekannte Zahlungsart %(name)s."}):
        page = client.post(url, {"gateway": "bogus"}, follow=True, HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert "Unbekannte Zahlungsart &#x27;bogus&#x27;." in page
