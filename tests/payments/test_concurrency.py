"""Payments under real concurrency (real threads and PostgreSQL connections, committed)."""

import pytest

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment, WebhookEvent
from payments.services import payment_capture, payment_fail, payment_start, webhook_process, webhook_receive
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import place_order
from tests.payments.helpers import dummy_paid_event

pytestmark = pytest.mark.django_db(transaction=True)


def start(order) -> Payment:
    payment, _action = payment_start(order=order, gateway="dummy")
    return payment


def test_the_same_capture_arriving_ten_times_at_once_pays_the_order_once():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment = start(order)

    outcomes = run_together(10, lambda i: payment_capture(payment=payment))

    assert [o.error for o in outcomes] == [None] * 10
    assert {o.value.status for o in outcomes} == {Payment.Status.CAPTURED}
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert on_hand(variant) == 1
    assert_stock_consistent()


def test_a_capture_and_a_failure_arriving_together_settle_on_one_answer():
    rounds = 5
    variant = stocked_variant(on_hand=rounds)
    orders = [place_order((variant, 1)) for _ in range(rounds)]
    payments = [start(order) for order in orders]

    def work(i):
        payment = payments[i // 2]
        return payment_capture(payment=payment) if i % 2 == 0 else payment_fail(payment=payment, reason="x")

    outcomes = run_together(2 * rounds, work)

    # Neither answer raises, whichever lands second.
    assert [o.error for o in outcomes] == [None] * (2 * rounds)
    for payment, order in zip(payments, orders, strict=True):
        payment.refresh_from_db()
        order.refresh_from_db()
        # The money was taken, so the capture wins either way: landing first, it makes the
        # late failure a no-op; landing second, it re-reserves the unit the failure released
        # (nobody else wanted it) and pays. Never both, never half.
        assert (payment.status, order.status) == (Payment.Status.CAPTURED, Order.Status.PAID)
        assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
        assert not order.needs_attention
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == rounds
    assert on_hand(variant) == 0
    assert_stock_consistent()


def test_one_webhook_event_processed_by_five_workers_at_once_pays_the_order_once():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment = start(order)
    stored, _ = webhook_receive(provider="dummy", event=dummy_paid_event(payment))

    outcomes = run_together(5, lambda i: webhook_process(event=stored))

    assert [o.error for o in outcomes] == [None] * 5
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert on_hand(variant) == 1
    assert_stock_consistent()
