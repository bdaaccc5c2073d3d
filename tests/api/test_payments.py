"""orders/<number>/payments/, payments/razorpay/verify/ and orders/<number>/cancel/: paying
and cancelling through the API, for the order's owner or a guest with its X-Order-Token.
Razorpay is faked at the HTTP boundary (tests/payments/razorpay/conftest.py)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from payments.models import Payment
from tests.factories import stocked_variant
from tests.orders.helpers import place_order
from tests.payments.razorpay.conftest import KEY_ID, inr_order, razorpay_enabled  # noqa: F401 - autouse, here only

from .conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(user, variant):
    order = place_order((variant, 2))
    Order.objects.filter(pk=order.pk).update(user=user)
    order.refresh_from_db()
    return order


def test_the_owner_starts_a_dummy_payment_and_gets_the_redirect_url(user_api, order):
    response = user_api.post(f"/api/v1/orders/{order.number}/payments/", {"gateway": "dummy"}, format="json")
    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    assert response.json() == {
        "payment_reference": payment.reference,
        "gateway": "dummy",
        "redirect_url": f"http://testserver/payments/dummy/{payment.reference}/",
    }


def test_starting_a_payment_reads_the_order_and_its_lines_not_its_history(api, variant):
    order = place_order((variant, 1))
    url = f"/api/v1/orders/{order.number}/payments/"
    with CaptureQueriesContext(connection) as queries:
        response = api.post(url, {"gateway": "dummy"}, format="json", HTTP_X_ORDER_TOKEN=order.access_token)
    assert response.status_code == 201, response.content
    reads = " ".join(query["sql"] for query in queries.captured_queries)
    assert 'FROM "orders_orderline"' in reads
    assert 'FROM "orders_orderevent"' not in reads and 'FROM "orders_shipment"' not in reads


def test_starting_twice_resumes_the_same_payment(user_api, order):
    url = f"/api/v1/orders/{order.number}/payments/"
    first = user_api.post(url, {"gateway": "dummy"}, format="json").json()
    second = user_api.post(url, {"gateway": "dummy"}, format="json").json()
    assert first == second
    assert Payment.objects.count() == 1


def test_a_guest_pays_with_the_order_token(api, variant):
    order = place_order((variant, 1))
    url = f"/api/v1/orders/{order.number}/payments/"
    assert_error(api.post(url, {"gateway": "dummy"}, format="json"), 404, "not_found")
    response = api.post(url, {"gateway": "dummy"}, format="json", HTTP_X_ORDER_TOKEN=order.access_token)
    assert response.status_code == 201


def test_another_user_cannot_pay_or_cancel_the_order(outsider_api, order):
    assert_error(
        outsider_api.post(f"/api/v1/orders/{order.number}/payments/", {"gateway": "dummy"}, format="json"),
        404,
        "not_found",
    )
    assert_error(
        outsider_api.post(f"/api/v1/orders/{order.number}/cancel/", {"reason": "x"}, format="json"), 404, "not_found"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_an_unknown_gateway_is_a_400(user_api, order):
    assert_error(
        user_api.post(f"/api/v1/orders/{order.number}/payments/", {"gateway": "bitcoin"}, format="json"),
        400,
        "payment_error",
    )
    assert_error(user_api.post(f"/api/v1/orders/{order.number}/payments/", {}, format="json"), 400, "invalid")


def test_a_cancelled_order_cannot_be_paid(user_api, order):
    user_api.post(f"/api/v1/orders/{order.number}/cancel/", {"reason": "Changed my mind"}, format="json")
    assert_error(
        user_api.post(f"/api/v1/orders/{order.number}/payments/", {"gateway": "dummy"}, format="json"),
        400,
        "payment_error",
    )


def test_razorpay_answers_what_the_sdk_needs(api, razorpay_api):
    order = inr_order((stocked_variant(on_hand=3, price=Decimal("499.50")), 2))
    response = api.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "razorpay"},
        format="json",
        HTTP_X_ORDER_TOKEN=order.access_token,
    )
    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    assert response.json() == {
        "payment_reference": payment.reference,
        "gateway": "razorpay",
        "razorpay_order_id": payment.provider_order_id,
        "key_id": KEY_ID,
        "amount": 104800,  # 2 × 499.50 + 49.00 shipping, in paise
        "currency": "INR",
    }


def _razorpay_payment(api, razorpay_api):
    order = inr_order((stocked_variant(on_hand=3, price=Decimal("499.50")), 1))
    api.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "razorpay"},
        format="json",
        HTTP_X_ORDER_TOKEN=order.access_token,
    )
    return order, Payment.objects.get(order=order)


def test_a_verified_razorpay_callback_marks_the_order_paid(api, razorpay_api, django_capture_on_commit_callbacks):
    order, payment = _razorpay_payment(api, razorpay_api)
    data = razorpay_api.callback_data(razorpay_api.pay(payment.provider_order_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/payments/razorpay/verify/", data, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "payment_reference": payment.reference,
        "payment_status": "captured",
        "order_number": order.number,
        "order_status": "paid",
    }


def test_a_tampered_razorpay_signature_is_invalid_signature(api, razorpay_api):
    order, payment = _razorpay_payment(api, razorpay_api)
    data = razorpay_api.callback_data(razorpay_api.pay(payment.provider_order_id))
    data["razorpay_signature"] = "0" * 64
    assert_error(api.post("/api/v1/payments/razorpay/verify/", data, format="json"), 400, "invalid_signature")
    data = razorpay_api.callback_data(razorpay_api.pay(payment.provider_order_id), order_id="order_notours")
    assert_error(api.post("/api/v1/payments/razorpay/verify/", data, format="json"), 400, "invalid_signature")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_razorpay_verify_requires_every_field(api):
    error = assert_error(api.post("/api/v1/payments/razorpay/verify/", {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"razorpay_order_id", "razorpay_payment_id", "razorpay_signature"}


def test_the_owner_cancels_a_pending_order(user_api, order, variant):
    response = user_api.post(f"/api/v1/orders/{order.number}/cancel/", {"reason": "Changed my mind"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["order"]["status"], body["refunded"], body["refund_failed"]) == ("cancelled", "0.00", False)
    # Cancelling again is harmless.
    assert (
        user_api.post(f"/api/v1/orders/{order.number}/cancel/", {"reason": "again"}, format="json").status_code == 200
    )


def test_cancel_requires_a_reason(user_api, order):
    assert_error(user_api.post(f"/api/v1/orders/{order.number}/cancel/", {}, format="json"), 400, "invalid")
    assert_error(
        user_api.post(f"/api/v1/orders/{order.number}/cancel/", {"reason": "x" * 201}, format="json"), 400, "invalid"
    )


def test_an_order_that_cannot_be_cancelled_is_a_409(user_api, order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.EXPIRED)
    assert_error(
        user_api.post(f"/api/v1/orders/{order.number}/cancel/", {"reason": "late"}, format="json"), 409, "order_state"
    )
