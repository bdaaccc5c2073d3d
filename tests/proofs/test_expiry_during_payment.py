"""
A reservation that lapses while its buyer is still on the payment page (DESIGN.md, Inventory):
the units count as free the instant the hold expires, so another buyer can take them at once,
without waiting for the sweeper. The late payment is then honoured only if the stock is still
there (re-reserved and sold); otherwise the payment is rejected, the order expired and flagged
for staff, and the money refunded automatically. Never oversold to honour it. Two buyers, two
real threads, released together.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund
from tests.factories import stocked_variant
from tests.inventory.helpers import on_hand, run_together
from tests.orders.helpers import place_order
from tests.proofs.helpers import assert_check_stock_passes, provider_reports_success, start_payment

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = timedelta(seconds=1.5)  # a real, short hold: it lapses while the buyer "pays"


def _sales(variant):
    return StockMovement.objects.filter(variant=variant, reason=StockMovement.Reason.SALE)


def _wait_until_lapsed(*orders: Order) -> None:
    latest = max(order.reservation_expires_at for order in orders)
    time.sleep(max((latest - timezone.now()).total_seconds(), 0) + 0.05)


def _late_buyer_with_payment_under_way(variant) -> tuple[Order, Payment]:
    """Buyer A placed an order with a short hold and went to pay; the hold lapses meanwhile."""
    order = place_order((variant, 1), ttl=HOLD)
    payment = start_payment(order)  # started while the hold was live
    return order, payment


def _buy(variant, token: str) -> Payment:
    """Buyer B: place an order and pay it straight away."""
    return provider_reports_success(start_payment(place_order((variant, 1), token=token)))


def _assert_rejected_expired_and_refunded(order: Order, payment: Payment) -> None:
    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert order.status == Order.Status.EXPIRED
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    assert order.needs_attention
    # transaction=True: the on-commit refund really ran (eager Celery, dummy gateway).
    refund = payment.refunds.get()
    assert (refund.status, refund.amount) == (Refund.Status.SUCCEEDED, payment.amount)


def test_a_lapsed_hold_frees_the_last_unit_at_once_and_the_late_payment_is_rejected_not_oversold():
    variant = stocked_variant(on_hand=1)
    late_order, late_payment = _late_buyer_with_payment_under_way(variant)
    _wait_until_lapsed(late_order)

    # No sweeper has run: A's reservation is still "active" in the table, yet it no longer
    # counts, and B gets the unit at once.
    assert Reservation.objects.get(owner=late_order.reservation_owner).status == Reservation.Status.ACTIVE
    assert availability([variant.pk]) == {variant.pk: 1}
    new_order = place_order((variant, 1), token="buyer-b")
    new_payment = start_payment(new_order)

    # Both providers report success at the same moment.
    outcomes = run_together(2, lambda i: provider_reports_success(late_payment if i == 0 else new_payment))

    assert [o.error for o in outcomes] == [None, None]
    assert outcomes[1].value.status == Payment.Status.CAPTURED
    assert Order.objects.get(pk=new_order.pk).status == Order.Status.PAID
    _assert_rejected_expired_and_refunded(late_order, late_payment)
    assert on_hand(variant) == 0
    assert list(_sales(variant).values_list("reference", flat=True)) == [new_order.number]
    assert_check_stock_passes()


def test_a_late_payment_re_reserves_and_is_paid_while_another_buyer_takes_the_other_unit():
    variant = stocked_variant(on_hand=2)
    late_order, late_payment = _late_buyer_with_payment_under_way(variant)
    _wait_until_lapsed(late_order)
    new_order = place_order((variant, 1), token="buyer-b")  # takes 1 of the 2 at once
    new_payment = start_payment(new_order)

    outcomes = run_together(2, lambda i: provider_reports_success(late_payment if i == 0 else new_payment))

    assert [o.error for o in outcomes] == [None, None]
    assert [o.value.status for o in outcomes] == [Payment.Status.CAPTURED] * 2
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.PAID}
    assert on_hand(variant) == 0
    assert _sales(variant).count() == 2
    assert_check_stock_passes()


ROUNDS = 8
STAGGER = 0.012  # seconds: the new buyer starts 0, 12, 24 … 84 ms after the late payment


def test_a_late_payment_racing_a_new_buyer_for_the_last_unit_sells_it_exactly_once():
    # Who wins depends on who reaches the stock row lock first: if the late payment does, it
    # re-reserves and is paid, and the new buyer is refused; if the new buyer places first,
    # the late payment finds the unit held and is rejected. Never both. The late payment has
    # more to do before that lock (payment row, order row, the expired commit), so the new
    # buyer starts a little later in each round, to let either side win some rounds.
    variants = [stocked_variant(on_hand=1) for _ in range(ROUNDS)]
    late = [_late_buyer_with_payment_under_way(v) for v in variants]
    _wait_until_lapsed(*(order for order, _ in late))

    for n, variant in enumerate(variants):
        late_order, late_payment = late[n]

        def race(i, late_payment=late_payment, variant=variant, n=n):
            if i == 0:
                return provider_reports_success(late_payment)
            time.sleep(n * STAGGER)
            return _buy(variant, f"race-{n}")

        outcomes = run_together(2, race)

        late_result, new_result = outcomes
        assert late_result.error is None
        if late_result.value.status == Payment.Status.CAPTURED:  # the late payment won
            assert Order.objects.get(pk=late_order.pk).status == Order.Status.PAID
            assert isinstance(new_result.error, InsufficientStock), new_result.error
            assert not Order.objects.filter(checkout_token=f"race-{n}").exists()
        else:  # the new buyer won
            _assert_rejected_expired_and_refunded(late_order, late_payment)
            assert new_result.error is None, new_result.error
            assert new_result.value.status == Payment.Status.CAPTURED
        assert on_hand(variant) == 0
        assert _sales(variant).count() == 1
    assert_check_stock_passes()
