"""The callback and the webhook for one Razorpay payment racing (real threads, PostgreSQL)."""
import pytest
from django.test import Client

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment
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
    for order, payment in started:
        paid = razorpay_api.pay(payment.provider_order_id)
        body = razorpay_api.event("payment.captured", payment=paid)
        deliveries.append((payment, razorpay_api.callback_data(paid), body, razorpay_api.webhook_headers(body)))

    def work(i):
        payment, callback_data, body, headers = deliveries[i // 2]
        if i % 2 == 0:
            return Client().post(f"/payments/callback/{payment.reference}/", callback_data).status_code
        return Client().post(
            "/payments/webhooks/razorpay/", data=body, content_type="application/json", headers=headers
        ).status_code

    outcomes = run_together(2 * rounds, work)

    assert [(o.error, o.value) for o in outcomes] == [(None, 302), (None, 200)] * rounds
    for order, payment in started:
        assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CAPTURED
        assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
        assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == rounds
    assert on_hand(variant) == 0
    assert_stock_consistent()
