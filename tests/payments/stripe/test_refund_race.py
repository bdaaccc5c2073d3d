"""Refunds that overtake their capture, under real concurrency: every webhook of the scenario
delivered five times, shuffled, from eight threads over HTTP with real signatures (tasks
eager, so each request processes what it stored; PostgreSQL, committed transactions)."""

import json
import random
from decimal import Decimal

import pytest
from django.test import Client

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund, WebhookEvent
from tests.inventory.helpers import assert_stock_consistent, run_together

from .conftest import WEBHOOK_URL, event, sign

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def test_refund_events_racing_their_capture_are_each_applied_once(started, fake_stripe, order, settings):
    settings.STAFF_ALERT_EMAILS = []
    payment, session_id = started
    completed = fake_stripe.complete(session_id)
    intent = completed["payment_intent"]
    # Refund A: 20.00, pending, then succeeded. Refund B: 10.00, pending, then failed.
    a = fake_stripe.refund_object(intent, 2000, status="pending")
    a_done = {**a, "status": "succeeded"}
    b = fake_stripe.refund_object(intent, 1000, status="pending")
    b_failed = {**b, "status": "failed", "failure_reason": "declined"}
    events = [
        event("refund.created", a),
        event("refund.updated", a_done),
        event("charge.refunded", fake_stripe.charge(intent, refunds=[a_done], amount_refunded=2000)),
        event("refund.created", b),
        event("refund.failed", b_failed),
        event("checkout.session.completed", completed),
    ]
    deliveries = []
    for evt in events:
        body = json.dumps(evt)
        deliveries += [(body, sign(body))] * 5
    seed = random.randrange(10**6)
    random.Random(seed).shuffle(deliveries)

    def work(i: int) -> list[int]:
        browser = Client()
        return [
            browser.post(
                WEBHOOK_URL, data=body, content_type="application/json", headers={"Stripe-Signature": signature}
            ).status_code
            for body, signature in deliveries[i::THREADS]
        ]

    outcomes = run_together(THREADS, work)

    assert [o.error for o in outcomes] == [None] * THREADS, seed
    assert {code for o in outcomes for code in o.value} == {200}, seed
    assert WebhookEvent.objects.count() == len(events)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}, seed
    recorded = {r.provider_refund_id: r for r in Refund.objects.all()}
    assert set(recorded) == {a["id"], b["id"]}, seed
    assert (recorded[a["id"]].status, recorded[a["id"]].amount) == (Refund.Status.SUCCEEDED, Decimal("20.00"))
    assert (recorded[b["id"]].status, recorded[b["id"]].amount) == (Refund.Status.FAILED, Decimal("10.00"))
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.refunded_amount == order.refunded_total == Decimal("20.00"), seed
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert order.events.filter(type=OrderEvent.Type.REFUNDED).count() == 1
    assert order.needs_attention  # refund B failed
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 2
    assert_stock_consistent()
