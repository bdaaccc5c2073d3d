"""Choosing "Card (Stripe)" on the payment page opens a hosted Checkout Session for exactly
the order total; starting again resumes it; a retried request never makes a second one."""

from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from orders.models import Order
from payments.gateways import get_gateway
from payments.gateways.base import ReturnUrls
from payments.models import Payment

from .conftest import form, line_items, nested, start_stripe

pytestmark = pytest.mark.django_db


def test_the_payment_page_offers_card_payment_through_stripe(client, order):
    page = client.get(f"/payments/order/{order.access_token}/").content.decode()

    assert 'value="stripe"' in page
    assert "Card (Stripe)" in page


def test_choosing_stripe_opens_a_checkout_session_for_the_order_total_and_redirects_to_it(client, order, fake_stripe):
    response = start_stripe(client, order)

    [request] = fake_stripe.session_creates()
    fields = form(request)
    payment = Payment.objects.get()
    assert fields["mode"] == "payment"
    assert line_items(fields) == [
        {"name": "Linen Shirt", "currency": "usd", "unit_amount": 2300, "quantity": 2},
        {"name": "Wool Socks", "currency": "usd", "unit_amount": 1250, "quantity": 1},
        {"name": "Shipping: Standard", "currency": "usd", "unit_amount": 500, "quantity": 1},
    ]
    assert order.total == Decimal("63.50")
    assert sum(i["unit_amount"] * i["quantity"] for i in line_items(fields)) == 6350
    assert fields["customer_email"] == "ada@example.com"
    assert fields["client_reference_id"] == payment.reference
    expected_metadata = {"payment_reference": payment.reference, "order_number": order.number}
    assert nested(fields, "metadata") == expected_metadata
    assert nested(fields, "payment_intent_data[metadata]") == expected_metadata
    assert (
        fields["success_url"]
        == f"http://testserver/payments/return/{payment.reference}/?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert fields["cancel_url"] == f"http://testserver/payments/cancel/{payment.reference}/"
    lifetime = int(fields["expires_at"]) - payment.created_at.timestamp()
    assert timedelta(minutes=30) < timedelta(seconds=lifetime) <= timedelta(minutes=31)
    assert request.headers["Idempotency-Key"] == f"order-{order.number}-checkout-0"
    assert request.headers["Authorization"] == "Bearer sk_test_51NzExampleKey0123456789abcdefABCDEF"

    session = fake_stripe.session(payment.provider_order_id)
    assert session["amount_total"] == 6350
    assert response.status_code == 302 and response["Location"] == session["url"]
    assert payment.status == Payment.Status.PENDING
    assert payment.checkout_url == session["url"]
    assert payment.amount == order.total


def test_starting_twice_resumes_the_pending_payment_and_its_session(client, order, fake_stripe):
    first = start_stripe(client, order)
    second = start_stripe(client, order)

    assert len(fake_stripe.session_creates()) == 1
    assert Payment.objects.count() == 1
    assert second["Location"] == first["Location"]


def test_a_start_stripe_failed_to_answer_is_retried_with_the_same_key_and_parameters(client, order, fake_stripe):
    fake_stripe.fail_next(status=500)  # the SDK retries 5xx itself, after a short pause

    response = start_stripe(client, order)

    first, retry = fake_stripe.session_creates()
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == f"order-{order.number}-checkout-0"
    assert form(first) == form(retry)
    assert len(fake_stripe.sessions) == 1
    assert response["Location"] == fake_stripe.session(Payment.objects.get().provider_order_id)["url"]


def test_the_same_payment_started_again_gets_the_session_stripe_already_made(order, fake_stripe):
    # Our request timed out after Stripe made the session: the same call with the same key
    # and parameters is answered with that session, not a second one.
    payment = Payment.objects.create(order=order, gateway="stripe", amount=order.total, currency=order.currency)
    urls = ReturnUrls(build=lambda name, reference: f"https://shop.example.com/{name}/{reference}/")
    gateway = get_gateway("stripe")

    gateway.start(payment, urls)
    first_session = payment.provider_order_id
    gateway.start(payment, urls)

    assert payment.provider_order_id == first_session
    assert len(fake_stripe.sessions) == 1
    keys = {r.headers["Idempotency-Key"] for r in fake_stripe.session_creates()}
    assert keys == {f"order-{order.number}-checkout-0"}


def test_when_stripe_refuses_the_shopper_sees_a_message_and_a_new_attempt_gets_a_new_key(client, order, fake_stripe):
    fake_stripe.fail_next(
        status=400, type_="invalid_request_error", message="Invalid currency: xyz", code="parameter_invalid_string"
    )

    refused = client.post(f"/payments/order/{order.access_token}/", {"gateway": "stripe"}, follow=True)

    assert "Stripe could not start the payment" in refused.content.decode()
    failed = Payment.objects.get()
    assert failed.status == Payment.Status.FAILED
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT  # still payable

    start_stripe(client, order)

    keys = [r.headers["Idempotency-Key"] for r in fake_stripe.session_creates()]
    assert keys == [f"order-{order.number}-checkout-0", f"order-{order.number}-checkout-1"]
    assert Payment.objects.filter(status=Payment.Status.PENDING).count() == 1


def test_when_stripe_cannot_be_reached_the_order_stays_payable(client, order, fake_stripe):
    # No answer registered for this URL: every attempt fails like a dropped connection.
    fake_stripe.mock.replace(
        "POST", "https://api.stripe.com/v1/checkout/sessions", body=requests.ConnectionError("connection refused")
    )

    refused = client.post(f"/payments/order/{order.access_token}/", {"gateway": "stripe"}, follow=True)

    assert "Could not reach Stripe" in refused.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert Payment.objects.get().status == Payment.Status.FAILED


def test_an_order_in_a_three_decimal_currency_is_charged_its_exact_total(order, fake_stripe):
    Order.objects.filter(pk=order.pk).update(currency="KWD")
    order.refresh_from_db()
    payment = Payment.objects.create(order=order, gateway="stripe", amount=order.total, currency="KWD")

    get_gateway("stripe").start(payment, ReturnUrls(build=lambda name, reference: "https://shop.example.com/"))

    items = line_items(form(fake_stripe.session_creates()[0]))
    assert sum(i["unit_amount"] * i["quantity"] for i in items) == 63500
    assert {i["currency"] for i in items} == {"kwd"}
