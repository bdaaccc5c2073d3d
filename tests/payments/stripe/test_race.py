"""The webhook and the shopper's return page report the same payment at the same instant,
from two threads with their own database connections: one paid transition."""

import json

import pytest
from django.test import Client

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, run_together
from tests.orders.helpers import place_order

from .conftest import WEBHOOK_URL, event, sign


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_the_webhook_and_the_return_page_racing_mark_the_order_paid_once(fake_stripe, round_):
    shirt = stocked_variant(on_hand=5)
    socks = stocked_variant(on_hand=5)
    order = place_order((shirt, 2), (socks, 1))
    Client().post(f"/payments/order/{order.access_token}/", {"gateway": "stripe"})
    payment = Payment.objects.get(order=order)
    payload = json.dumps(event("checkout.session.completed", fake_stripe.complete(payment.provider_order_id)))

    def work(index):
        client = Client()
        if index == 0:
            return client.post(
                WEBHOOK_URL, data=payload, content_type="application/json", headers={"Stripe-Signature": sign(payload)}
            )
        return client.get(f"/payments/return/{payment.reference}/", {"session_id": payment.provider_order_id})

    webhook, returned = run_together(2, work)

    assert webhook.error is None and returned.error is None, (webhook.error, returned.error)
    assert webhook.value.status_code == 200
    assert returned.value.status_code == 302
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert payment.status == Payment.Status.CAPTURED
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE, reference=order.number).count() == 2
    assert_stock_consistent()
