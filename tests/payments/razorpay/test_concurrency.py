"""The callback and the webhook for one Razorpay payment racing, and refunds racing the capture
they refund (real threads, PostgreSQL)."""

import random
from decimal import Decimal

import pytest
from django.test import Client

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund, WebhookEvent
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together

from .conftest import start_paying

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_callback_and_the_webhook_arriving_together_pay_the_order_once(razorpay_api):
    # razorpay_api started its RequestsMock in this thread; it patches requests for all threads.
    rounds = 3
    variant = stocked_variant(on_hand=2 * rounds)
    started = [start_paying(Client(), (variant, 2)) for _ in range(rounds)]
    deliveries = []
    for _order, payment in started:
        paid = razorpay_api.pay(payment.provider_order_id)
        body = razorpay_api.event("payment.captured", payment=paid)
        deliveries.append((payment, razorpay_api.callback_data(paid), body, razorpay_api.webhook_headers(body)))

    def work(i):
        payment, callback_data, body, headers = deliveries[i // 2]
        if i % 2 == 0:
            return Client().post(f"/payments/callback/{payment.reference}/", callback_data).status_code
        return (
            Client()
            .post("/payments/webhooks/razorpay/", data=body, content_type="application/json", headers=headers)
            .status_code
        )

    outcomes = run_together(2 * rounds, work)

    assert [(o.error, o.value) for o in outcomes] == [(None, 302), (None, 200)] * rounds
    for order, payment in started:
        assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CAPTURED
        assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
        assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == rounds
    assert on_hand(variant) == 0
    assert_stock_consistent()


def test_refund_webhooks_racing_the_capture_they_refund_are_each_applied_once(razorpay_api, settings):
    settings.STAFF_ALERT_EMAILS = []
    threads = 8
    variant = stocked_variant(on_hand=3, price=Decimal("499.50"))
    order, payment = start_paying(Client(), (variant, 2))  # 2 × 499.50 + 49.00 shipping = 1048.00 INR
    paid = razorpay_api.pay(payment.provider_order_id)
    # Refund A (200.00) processed; refund B (100.00) failed. Both reach us with the capture.
    processed = razorpay_api.refund_in_dashboard(paid["id"], 20000)
    failed = {**razorpay_api.refund_in_dashboard(paid["id"], 10000), "status": "failed"}
    bodies = [
        razorpay_api.event("refund.processed", refund=processed),
        razorpay_api.event("refund.failed", refund=failed),
        razorpay_api.event("payment.captured", payment=paid),
        razorpay_api.event("order.paid", payment=paid),
    ]
    deliveries = []
    for body in bodies:
        deliveries += [(body, razorpay_api.webhook_headers(body, event_id=f"evt_{len(deliveries)}"))] * 5
    seed = random.randrange(10**6)
    random.Random(seed).shuffle(deliveries)

    def work(i):
        browser = Client()
        return [
            browser.post(
                "/payments/webhooks/razorpay/", data=body, content_type="application/json", headers=headers
            ).status_code
            for body, headers in deliveries[i::threads]
        ]

    outcomes = run_together(threads, work)

    assert [o.error for o in outcomes] == [None] * threads, seed
    assert {code for o in outcomes for code in o.value} == {200}, seed
    assert WebhookEvent.objects.count() == len(bodies)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}, seed
    recorded = {r.provider_refund_id: r for r in Refund.objects.all()}
    assert set(recorded) == {processed["id"], failed["id"]}, seed
    assert recorded[processed["id"]].status == Refund.Status.SUCCEEDED
    assert recorded[failed["id"]].status == Refund.Status.FAILED
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.refunded_amount == order.refunded_total == Decimal("200.00"), seed
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.REFUNDED).count() == 1
    assert order.needs_attention  # refund B failed
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert on_hand(variant) == 1
    assert_stock_consistent()
