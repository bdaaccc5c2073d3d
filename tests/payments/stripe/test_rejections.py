"""Money we cannot keep: a wrong amount is flagged for staff; a payment that arrives after the
reservation lapsed and the stock was sold is rejected and refunded at Stripe automatically."""

import pytest

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

from .conftest import event, form, nested

pytestmark = pytest.mark.django_db


def test_an_amount_different_from_the_order_total_is_rejected_and_the_order_flagged(
    started, fake_stripe, deliver, order
):
    payment, session_id = started
    session = fake_stripe.complete(session_id)

    deliver(event("checkout.session.completed", {**session, "amount_total": 6300}))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert "63.00" in payment.error and "63.50" in payment.error
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.needs_attention
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.FLAGGED).exists()
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()
    assert fake_stripe.refund_creates() == []  # staff look at it first


def test_a_currency_different_from_the_order_is_rejected(started, fake_stripe, deliver, order):
    payment, session_id = started

    deliver(event("checkout.session.completed", {**fake_stripe.complete(session_id), "currency": "eur"}))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert order.needs_attention and order.status == Order.Status.PENDING_PAYMENT


def test_a_payment_after_the_reservation_lapsed_is_honoured_while_the_stock_is_there(
    started, fake_stripe, deliver, order, shirt
):
    payment, session_id = started
    lapse(order)

    deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert on_hand(shirt) == 3
    assert fake_stripe.refund_creates() == []
    assert_stock_consistent()


def test_a_payment_after_another_buyer_took_the_lapsed_stock_is_rejected_flagged_and_refunded(
    started, fake_stripe, deliver, order, shirt
):
    payment, session_id = started
    lapse(order)
    other = place_order((shirt, 4))  # 5 on hand: only 1 left for our 2

    deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert order.status == Order.Status.EXPIRED
    assert order.needs_attention
    assert not OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).exists()
    assert on_hand(shirt) == 5 and not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()
    assert Order.objects.get(pk=other.pk).status == Order.Status.PENDING_PAYMENT

    [request] = fake_stripe.refund_creates()
    refund = Refund.objects.get(payment=payment)
    fields = form(request)
    assert fields["payment_intent"] == payment.provider_payment_id
    assert fields["amount"] == "6350"
    assert nested(fields, "metadata")["refund_key"] == refund.idempotency_key
    assert request.headers["Idempotency-Key"] == refund.idempotency_key
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_refund_id.startswith("re_")
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    assert_stock_consistent()


def test_the_automatic_refund_is_sent_once_even_when_the_event_is_delivered_again(
    started, fake_stripe, deliver, order, shirt
):
    payment, session_id = started
    lapse(order)
    place_order((shirt, 4))
    completed = event("checkout.session.completed", fake_stripe.complete(session_id))

    deliver(completed)
    deliver(completed)
    deliver(event("checkout.session.async_payment_succeeded", fake_stripe.session(session_id)))

    assert len(fake_stripe.refund_creates()) == 1
    assert Refund.objects.count() == 1
