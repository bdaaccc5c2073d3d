"""Payments under real concurrency (real threads and PostgreSQL connections, committed)."""
import pytest

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import PaymentError, payment_capture, payment_fail, payment_start
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_capture_arriving_ten_times_at_once_pays_the_order_once():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment = payment_start(order=order, gateway="dummy")

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
    payments = [payment_start(order=order, gateway="dummy") for order in orders]

    def work(i):
        payment = payments[i // 2]
        return payment_capture(payment=payment) if i % 2 == 0 else payment_fail(payment=payment, reason="x")

    outcomes = run_together(2 * rounds, work)

    # A failure that lands second is ignored quietly; a capture that lands second is refused
    # with PaymentError (the payment already failed). Nothing else may be raised.
    for i, outcome in enumerate(outcomes):
        if i % 2 == 0 and outcome.error is not None:
            assert isinstance(outcome.error, PaymentError), outcome.error
        else:
            assert outcome.error is None, outcome.error
    for payment, order in zip(payments, orders):
        payment.refresh_from_db()
        order.refresh_from_db()
        # Whichever came first wins; the other changes nothing.
        assert (payment.status, order.status) in {
            (Payment.Status.CAPTURED, Order.Status.PAID),
            (Payment.Status.FAILED, Order.Status.PAYMENT_FAILED),
        }
    paid = Order.objects.filter(status=Order.Status.PAID).count()
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == paid
    assert on_hand(variant) == rounds - paid
    assert_stock_consistent()
