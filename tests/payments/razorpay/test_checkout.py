"""Choosing Razorpay on the payment page: a Razorpay Order, then Checkout.js on our page."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from orders.models import Order
from payments.gateways import check_gateways
from payments.models import Payment
from tests.factories import stocked_variant

from .conftest import KEY_ID, choose_razorpay, inr_order

pytestmark = pytest.mark.django_db


def test_choosing_razorpay_creates_a_razorpay_order_for_the_order_total_in_paise(client, razorpay_api):
    shirt = stocked_variant(on_hand=5, price=Decimal("499.50"))
    scarf = stocked_variant(on_hand=5, price=Decimal("120.25"))
    order = inr_order((shirt, 2), (scarf, 1))
    assert order.total == Decimal("1168.25")

    response, payment = choose_razorpay(client, order)

    [request] = razorpay_api.calls("POST", "/orders")
    assert json.loads(request.body) == {
        "amount": 116825,
        "currency": "INR",
        "receipt": payment.reference,
        "notes": {"payment_reference": payment.reference, "order_number": order.number},
        "payment_capture": 1,
    }
    [rzp_order_id] = razorpay_api.orders
    assert payment.provider_order_id == rzp_order_id
    assert payment.status == Payment.Status.PENDING
    assert payment.amount == Decimal("1168.25")


def test_the_payment_page_opens_checkout_js_on_the_razorpay_order_with_our_key(client, razorpay_api):
    order = inr_order((stocked_variant(on_hand=5, price=Decimal("499.50")), 1))

    response, payment = choose_razorpay(client, order)

    assert response.status_code == 200
    assert response.templates[0].name == "payments/razorpay_checkout.html"
    page = response.content.decode()
    assert '<script src="https://checkout.razorpay.com/v1/checkout.js"' in page
    assert "js/razorpay-checkout.js" in page
    options = response.context["razorpay"]
    assert options["key_id"] == KEY_ID
    assert options["order_id"] == payment.provider_order_id
    assert options["amount"] == 54850
    assert options["currency"] == "INR"
    assert options["prefill"]["email"] == order.email
    assert KEY_ID in page and payment.provider_order_id in page
    # The handler posts the signed result to our callback through a form with a CSRF token.
    assert f'action="http://testserver/payments/callback/{payment.reference}/"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "razorpay_signature" in page


def test_the_key_secret_never_reaches_the_page(client, razorpay_api, settings):
    order = inr_order((stocked_variant(on_hand=5), 1))

    response, _ = choose_razorpay(client, order)

    assert settings.RAZORPAY_KEY_SECRET not in response.content.decode()
    assert settings.RAZORPAY_WEBHOOK_SECRET not in response.content.decode()


def test_choosing_razorpay_again_reuses_the_razorpay_order(client, razorpay_api):
    order = inr_order((stocked_variant(on_hand=5), 1))
    _, first = choose_razorpay(client, order)

    response, again = choose_razorpay(client, order)

    assert again.pk == first.pk
    assert len(razorpay_api.calls("POST", "/orders")) == 1
    assert response.context["razorpay"]["order_id"] == first.provider_order_id
    assert Payment.objects.filter(order=order).count() == 1


def test_when_razorpay_refuses_the_order_the_shopper_is_told_and_the_order_is_untouched(client, razorpay_api):
    order = inr_order((stocked_variant(on_hand=5), 1))
    razorpay_api.refuse_orders = "Currency is not supported"

    response, payment = choose_razorpay(client, order)

    assert response.status_code == 302
    assert response["Location"].endswith(f"/payments/order/{order.access_token}/")
    page = client.get(response["Location"]).content.decode()
    assert "Currency is not supported" in page
    assert payment.status == Payment.Status.FAILED
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_when_razorpay_cannot_be_reached_the_shopper_can_choose_again_later(client, razorpay_api):
    order = inr_order((stocked_variant(on_hand=5), 1))
    razorpay_api.unreachable = True
    response, _ = choose_razorpay(client, order)
    assert response.status_code == 302
    assert "Razorpay could not be reached" in client.get(response["Location"]).content.decode()

    razorpay_api.unreachable = False
    response, payment = choose_razorpay(client, order)

    assert response.status_code == 200
    assert payment.status == Payment.Status.PENDING
    assert payment.provider_order_id in razorpay_api.orders


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("RAZORPAY_KEY_ID", "", "RAZORPAY_KEY_ID"),
        ("RAZORPAY_KEY_ID", "sk_test_123", "RAZORPAY_KEY_ID"),
        ("RAZORPAY_KEY_ID", "rzp_prod_123", "RAZORPAY_KEY_ID"),
        ("RAZORPAY_KEY_SECRET", "", "RAZORPAY_KEY_SECRET"),
        ("RAZORPAY_WEBHOOK_SECRET", "", "RAZORPAY_WEBHOOK_SECRET"),
    ],
)
def test_a_misconfigured_razorpay_stops_the_start_with_a_clear_message(settings, setting, value, problem):
    setattr(settings, setting, value)

    with pytest.raises(ImproperlyConfigured, match=rf"razorpay: {problem}"):
        check_gateways()


def test_live_and_test_key_ids_pass_the_configuration_check(settings):
    for key_id in ("rzp_test_1DP5mmOlF5G5ag", "rzp_live_ILgsfZCZoFIKMb"):
        settings.RAZORPAY_KEY_ID = key_id
        check_gateways()
