"""Checkout.js's signed result, posted by our page to payments:callback."""

from decimal import Decimal

import pytest
from django.test import Client

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand

from .conftest import checkout_in_browser, inr_order, page_form, start_paying

pytestmark = pytest.mark.django_db


def _nothing_changed(order: Order, payment: Payment) -> None:
    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert payment.provider_payment_id is None
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()


def test_a_signed_callback_for_a_captured_payment_marks_the_order_paid(client, razorpay_api, callback):
    variant = stocked_variant(on_hand=3, price=Decimal("499.50"))
    order, payment = start_paying(client, (variant, 2))
    paid = razorpay_api.pay(payment.provider_order_id)

    response = callback(payment, razorpay_api.callback_data(paid))

    assert response.status_code == 302
    assert response["Location"] == order.get_guest_url()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_payment_id == paid["id"]
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 1
    # The payment's state came from Razorpay's API, not from the browser.
    assert len(razorpay_api.calls("GET", f"/payments/{paid['id']}")) == 1
    assert "Thank you" in client.get(response["Location"]).content.decode()
    assert_stock_consistent()


def test_a_callback_for_a_payment_still_only_authorised_leaves_the_order_pending(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    authorised = razorpay_api.pay(payment.provider_order_id, status="authorized")

    response = callback(payment, razorpay_api.callback_data(authorised))

    assert response.status_code == 302
    _nothing_changed(order, payment)
    assert "waiting for the payment provider" in client.get(response["Location"]).content.decode()


def test_a_callback_while_razorpay_cannot_be_asked_waits_for_the_webhook(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    paid = razorpay_api.pay(payment.provider_order_id)
    razorpay_api.down = True

    response = callback(payment, razorpay_api.callback_data(paid))

    assert response.status_code == 302
    _nothing_changed(order, payment)


def test_a_tampered_signature_is_refused_and_changes_nothing(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    data = razorpay_api.callback_data(razorpay_api.pay(payment.provider_order_id))
    data["razorpay_signature"] = data["razorpay_signature"][:-1] + (
        "0" if data["razorpay_signature"][-1] != "0" else "1"
    )

    response = callback(payment, data)

    assert response.status_code == 400
    assert "could not verify" in response.content.decode()
    _nothing_changed(order, payment)
    assert not razorpay_api.calls("GET", "/payments/.*")


def test_a_signature_made_with_another_secret_is_refused(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    paid = razorpay_api.pay(payment.provider_order_id)

    response = callback(payment, razorpay_api.callback_data(paid, secret="someone-elses-key-secret"))

    assert response.status_code == 400
    _nothing_changed(order, payment)


def test_a_payment_id_swapped_under_a_valid_signature_is_refused(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    data = razorpay_api.callback_data(razorpay_api.pay(payment.provider_order_id, status="failed"))
    data["razorpay_payment_id"] = razorpay_api.pay(payment.provider_order_id)["id"]

    response = callback(payment, data)

    assert response.status_code == 400
    _nothing_changed(order, payment)


def test_a_correctly_signed_result_for_another_razorpay_order_is_refused(client, razorpay_api, callback):
    # A cheap order's genuine, signed result replayed against an expensive order.
    cheap, cheap_payment = start_paying(client, (stocked_variant(on_hand=3, price=Decimal("1.00")), 1))
    order, payment = start_paying(client, (stocked_variant(on_hand=3, price=Decimal("999.00")), 1))
    paid_cheaply = razorpay_api.pay(cheap_payment.provider_order_id)

    response = callback(payment, razorpay_api.callback_data(paid_cheaply))

    assert response.status_code == 400
    _nothing_changed(order, payment)


def test_a_signature_that_is_not_even_hex_is_refused(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    data = razorpay_api.callback_data(razorpay_api.pay(payment.provider_order_id))

    response = callback(payment, {**data, "razorpay_signature": "é" * 64})

    assert response.status_code == 400
    _nothing_changed(order, payment)


def test_a_callback_missing_its_fields_is_refused(client, razorpay_api, callback):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))

    response = callback(payment, {"razorpay_order_id": payment.provider_order_id})

    assert response.status_code == 400
    _nothing_changed(order, payment)


def test_the_callback_answers_only_post(client, razorpay_api):
    _, payment = start_paying(client, (stocked_variant(on_hand=3), 1))

    assert client.get(f"/payments/callback/{payment.reference}/").status_code == 405


def test_our_page_posts_the_callback_with_a_csrf_token_that_is_accepted(razorpay_api):
    order = inr_order((stocked_variant(on_hand=3), 1))
    browser, payment, checkout = checkout_in_browser(order)
    action, token = page_form(checkout, "razorpay-callback")
    paid = razorpay_api.pay(payment.provider_order_id)

    response = browser.post(action, {**razorpay_api.callback_data(paid), "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    # Without the page's token the same post is refused: the callback is not csrf-exempt.
    assert Client(enforce_csrf_checks=True).post(action, razorpay_api.callback_data(paid)).status_code == 403
