"""Refunds through Razorpay: the automatic one for money we cannot keep, staff refunds, and
refunds Razorpay reports by webhook. A refund is never made twice."""

import json
from decimal import Decimal

import pytest

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.gateways.razorpay import RazorpayGateway
from payments.models import Payment, Refund, WebhookEvent
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund
from payments.tasks import refund_rejected_payment
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

from .conftest import start_paying

pytestmark = pytest.mark.django_db


def _paid(client, razorpay_api, deliver, *lines):
    order, payment = start_paying(client, *lines)
    paid = razorpay_api.pay(payment.provider_order_id)
    body = razorpay_api.event("payment.captured", payment=paid)
    deliver(body, razorpay_api.webhook_headers(body))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    return order, payment, paid


def test_a_late_success_after_the_stock_was_sold_is_rejected_flagged_and_refunded_once(
    client, razorpay_api, deliver, callback
):
    variant = stocked_variant(on_hand=2, price=Decimal("499.50"))
    order, payment = start_paying(client, (variant, 2))
    lapse(order)
    place_order((variant, 1))  # the lapsed units were free again, and one went
    paid = razorpay_api.pay(payment.provider_order_id)
    captured = razorpay_api.event("payment.captured", payment=paid)
    headers = razorpay_api.webhook_headers(captured)

    deliver(captured, headers)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert "stock was sold" in payment.error
    assert order.status == Order.Status.EXPIRED
    assert order.needs_attention
    assert order.events.filter(type=OrderEvent.Type.FLAGGED).exists()
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()
    [refund_request] = razorpay_api.calls("POST", f"/payments/{paid['id']}/refund")
    refund = Refund.objects.get(payment=payment)
    assert json.loads(refund_request.body) == {
        "amount": 99900 + 4900,
        "speed": "normal",
        "receipt": refund.idempotency_key,
        "notes": {"idempotency_key": refund.idempotency_key, "payment_reference": payment.reference},
    }
    assert refund_request.headers["X-Refund-Idempotency"] == refund.idempotency_key
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.amount == Decimal("1048.00")
    assert payment.refunded_amount == Decimal("1048.00")

    # The same success reported again, by every path, refunds nothing more.
    deliver(captured, headers)
    order_paid = razorpay_api.event("order.paid", payment=paid)
    deliver(order_paid, razorpay_api.webhook_headers(order_paid))
    callback(payment, razorpay_api.callback_data(paid))
    refund_rejected_payment.delay(payment.pk)

    assert len(razorpay_api.calls("POST", "/payments/.*/refund")) == 1
    assert Refund.objects.count() == 1
    assert on_hand(variant) == 2
    assert_stock_consistent()


def test_a_refund_processed_webhook_records_a_dashboard_refund_and_marks_the_order_partially_refunded(
    client, razorpay_api, deliver
):
    order, payment, paid = _paid(
        client, razorpay_api, deliver, (stocked_variant(on_hand=3, price=Decimal("499.50")), 2)
    )
    refunded = razorpay_api.refund_in_dashboard(paid["id"], 20000)
    body = razorpay_api.event("refund.processed", refund=refunded)

    deliver(body, razorpay_api.webhook_headers(body))
    deliver(body, razorpay_api.webhook_headers(body))  # redelivered under a new event id

    refund = Refund.objects.get()
    assert (refund.provider_refund_id, refund.amount, refund.status) == (
        refunded["id"],
        Decimal("200.00"),
        Refund.Status.SUCCEEDED,
    )
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.refunded_total == Decimal("200.00")
    assert payment.refunded_amount == Decimal("200.00")


def test_a_refund_razorpay_leaves_pending_is_confirmed_by_refund_processed(client, razorpay_api, deliver):
    order, payment, paid = _paid(
        client, razorpay_api, deliver, (stocked_variant(on_hand=3, price=Decimal("499.50")), 2)
    )
    razorpay_api.refund_status = "pending"

    refund = payment_refund(payment=payment, amount=Decimal("1048.00"), reason="Customer changed their mind")

    assert refund.status == Refund.Status.PENDING
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    [entity] = razorpay_api.refunds.values()
    entity["status"] = "processed"
    body = razorpay_api.event("refund.processed", refund=entity)

    deliver(body, razorpay_api.webhook_headers(body))

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_refund_id == entity["id"]
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_total == Decimal("1048.00")


def test_a_partial_staff_refund_marks_the_order_partially_refunded(client, razorpay_api, deliver):
    order, payment, paid = _paid(
        client, razorpay_api, deliver, (stocked_variant(on_hand=3, price=Decimal("499.50")), 2)
    )

    refund = payment_refund(payment=payment, amount=Decimal("499.50"), reason="One shirt returned")

    [request] = razorpay_api.calls("POST", f"/payments/{paid['id']}/refund")
    assert json.loads(request.body)["amount"] == 49950
    assert refund.status == Refund.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PARTIALLY_REFUNDED


def test_retrying_a_refund_whose_answer_was_lost_does_not_refund_twice(client, razorpay_api, deliver):
    order, payment, paid = _paid(client, razorpay_api, deliver, (stocked_variant(on_hand=3), 1))
    refund = Refund.objects.create(payment=payment, amount=payment.amount, currency=payment.currency)
    gateway = RazorpayGateway()

    first = gateway.refund(refund, paid["id"], 2500)
    again = gateway.refund(refund, paid["id"], 2500)

    assert len(razorpay_api.calls("POST", f"/payments/{paid['id']}/refund")) == 1
    assert again == first
    assert first.idempotency_key == refund.idempotency_key
    assert len(razorpay_api.refunds) == 1


def test_an_auto_refund_of_a_never_captured_payment_is_ignored(client, razorpay_api, deliver):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    authorised = razorpay_api.pay(payment.provider_order_id, status="authorized")
    refund = {
        "id": "rfnd_auto1",
        "entity": "refund",
        "amount": authorised["amount"],
        "currency": "INR",
        "payment_id": authorised["id"],
        "notes": [],
        "receipt": None,
        "status": "processed",
    }
    body = razorpay_api.event("refund.processed", refund=refund, payment=authorised)

    deliver(body, razorpay_api.webhook_headers(body))

    assert not Refund.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_an_automatic_refund_whose_answer_was_lost_is_retried_with_the_same_row_and_key_and_refunds_once(
    client, razorpay_api, deliver
):
    variant = stocked_variant(on_hand=2, price=Decimal("499.50"))
    order, payment = start_paying(client, (variant, 2))
    lapse(order)
    place_order((variant, 1))  # the lapsed units were free again, and one went
    razorpay_api.lost_refund_answers = 1  # Razorpay makes the refund; its answer never arrives
    paid = razorpay_api.pay(payment.provider_order_id)
    captured = razorpay_api.event("payment.captured", payment=paid)

    deliver(captured, razorpay_api.webhook_headers(captured))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert "could not be reached" in refund.error
    assert len(razorpay_api.refunds) == 1

    refund_rejected_payment.delay(payment.pk)  # the task's retry

    assert len(razorpay_api.refunds) == 1
    [made] = razorpay_api.refunds.values()
    assert made["notes"]["idempotency_key"] == refund.idempotency_key
    assert {
        json.loads(r.body)["notes"]["idempotency_key"] for r in razorpay_api.calls("POST", "/payments/.*/refund")
    } == {refund.idempotency_key}
    assert Refund.objects.count() == 1
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == (Refund.Status.SUCCEEDED, made["id"])
    assert payment.refunded_amount == payment.amount


def test_a_refund_razorpay_reports_failed_frees_its_amount_and_flags_the_order(client, razorpay_api, deliver):
    order, payment, paid = _paid(
        client, razorpay_api, deliver, (stocked_variant(on_hand=3, price=Decimal("499.50")), 2)
    )
    razorpay_api.refund_status = "pending"
    refund = payment_refund(payment=payment, amount=Decimal("499.50"), reason="One returned")
    [entity] = razorpay_api.refunds.values()
    entity["status"] = "failed"
    body = razorpay_api.event("refund.failed", refund=entity)

    deliver(body, razorpay_api.webhook_headers(body))

    refund.refresh_from_db()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert (payment.refunded_amount, order.refunded_total, order.status) == (0, 0, Order.Status.PAID)
    assert payment_refundable_amount(payment) == payment.amount
    assert order.needs_attention
    assert order.events.filter(
        type=OrderEvent.Type.FLAGGED, note__contains=f"Refund {refund.pk} of 499.50 INR"
    ).exists()


def test_refund_processed_before_payment_captured_waits_and_is_applied_once_with_the_capture(
    client, razorpay_api, deliver
):
    order, payment = start_paying(client, (stocked_variant(on_hand=3, price=Decimal("499.50")), 2))
    paid = razorpay_api.pay(payment.provider_order_id)
    captured = razorpay_api.event("payment.captured", payment=paid)
    refunded = razorpay_api.event("refund.processed", refund=razorpay_api.refund_in_dashboard(paid["id"], 20000))
    refund_headers = razorpay_api.webhook_headers(refunded)

    for _ in range(5):
        deliver(refunded, refund_headers)

    waiting = WebhookEvent.objects.get()
    assert (waiting.status, waiting.provider_payment_id) == (WebhookEvent.Status.WAITING, paid["id"])
    assert not Refund.objects.exists()

    deliver(captured, razorpay_api.webhook_headers(captured))

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    refund = Refund.objects.get()
    assert (refund.status, refund.amount) == (Refund.Status.SUCCEEDED, Decimal("200.00"))
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("200.00"))
