from datetime import timedelta

import pytest
from django.core import mail

from inventory.models import StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, stock_reserve
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund
from payments.services import PaymentError, payment_capture, payment_fail, payment_start
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db


def _sales():
    return StockMovement.objects.filter(reason=StockMovement.Reason.SALE)


def start(order) -> Payment:
    payment, _action = payment_start(order=order, gateway="dummy")
    return payment


def second_payment(order) -> Payment:
    """A second payment of the same order, as when the shopper paid in another tab, or with
    another provider: payment_start itself resumes the pending one instead."""
    payment = Payment(order=order, gateway="dummy", amount=order.total, currency=order.currency)
    payment.provider_order_id = payment.reference
    payment.save()
    return payment


@pytest.fixture
def staff_inbox(db):
    UserFactory(email="staff@example.com", is_staff=True)
    return mail.outbox


def test_a_captured_payment_marks_the_order_paid_and_sells_the_stock():
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 3))
    payment = start(order)
    assert payment.status == Payment.Status.PENDING
    assert payment.amount == order.total

    payment = payment_capture(payment=payment)

    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 1
    assert list(_sales().values_list("quantity", "reference")) == [(-3, order.number)]
    assert_stock_consistent()


def test_capturing_the_same_payment_twice_pays_the_order_once():
    # The return page and the webhook both report the capture.
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    payment = start(order)

    payment_capture(payment=payment)
    again = payment_capture(payment=payment)

    assert again.status == Payment.Status.CAPTURED
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert _sales().count() == 1
    assert on_hand(variant) == 3
    assert_stock_consistent()


def test_a_payment_captured_after_the_hold_lapsed_is_honoured_when_the_stock_is_still_there():
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 2))
    payment = start(order)
    lapse(order)

    payment = payment_capture(payment=payment)

    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 0
    assert _sales().count() == 1
    assert_stock_consistent()


def test_a_payment_captured_after_another_buyer_took_the_lapsed_stock_is_rejected_and_sells_nothing(
    django_capture_on_commit_callbacks, staff_inbox
):
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 2))
    payment = start(order)
    lapse(order)
    other = place_order((variant, 1))  # the lapsed units counted as free again

    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_capture(payment=payment)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert "enough in stock" in payment.error
    assert order.status == Order.Status.EXPIRED
    assert order.needs_attention
    assert order.events.filter(type=OrderEvent.Type.FLAGGED, note__contains="enough in stock").count() == 1
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    assert on_hand(variant) == 2
    assert not _sales().exists()
    assert availability([variant.pk]) == {variant.pk: 1}
    assert Order.objects.get(pk=other.pk).status == Order.Status.PENDING_PAYMENT
    # The money is given back at once, and staff hear about it.
    refund = payment.refunds.get()
    assert (refund.status, refund.amount) == (Refund.Status.SUCCEEDED, payment.amount)
    assert payment.refunded_amount == payment.amount
    assert [m.subject for m in staff_inbox] == [f"Order {order.number} needs attention"]
    # A retry of the same capture does not turn the rejection into a sale, nor refund twice.
    with django_capture_on_commit_callbacks(execute=True):
        again = payment_capture(payment=payment)
    assert again.status == Payment.Status.REJECTED
    assert not _sales().exists()
    assert payment.refunds.count() == 1
    assert order.events.filter(type=OrderEvent.Type.FLAGGED).count() == 1
    assert_stock_consistent()


def test_a_payment_cannot_start_for_an_order_whose_hold_lapsed_and_the_order_expires():
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 1))
    lapse(order)

    with pytest.raises(PaymentError):
        payment_start(order=order, gateway="dummy")

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert not Payment.objects.exists()


def test_an_unknown_gateway_is_refused():
    order = place_order((stocked_variant(on_hand=1), 1))

    with pytest.raises(PaymentError):
        payment_start(order=order, gateway="cash-in-envelope")


def test_a_success_reported_after_a_failure_pays_the_order_when_the_stock_is_still_there():
    # The provider said "declined", then took the money after all (a retried 3-D Secure, an
    # out-of-order webhook): the money is real, so the order is honoured if the stock allows.
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 1))
    payment = start(order)
    payment_fail(payment=payment, reason="card declined")

    payment = payment_capture(payment=payment)

    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 1
    assert _sales().count() == 1
    assert_stock_consistent()


def test_a_success_reported_after_a_failure_never_sells_stock_that_is_gone(django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=1)
    order = place_order((variant, 1))
    payment = start(order)
    lapse(order)  # the hold ran out …
    payment_fail(payment=payment, reason="card declined")  # … so the failure releases it …
    place_order((variant, 1))  # … and the released unit went to someone else

    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_capture(payment=payment)

    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.needs_attention
    assert payment.refunds.get().status == Refund.Status.SUCCEEDED
    assert on_hand(variant) == 1
    assert not _sales().exists()
    assert_stock_consistent()


def test_a_reservation_elsewhere_does_not_stop_a_live_hold_from_being_paid():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:7", ttl=timedelta(minutes=30))

    payment_capture(payment=start(order))

    assert on_hand(variant) == 1
    assert availability([variant.pk]) == {variant.pk: 0}
    assert_stock_consistent()


def test_starting_to_pay_twice_resumes_the_same_pending_payment():
    order = place_order((stocked_variant(on_hand=4), 1))

    first, first_action = payment_start(order=order, gateway="dummy")
    again, again_action = payment_start(order=order, gateway="dummy")  # e.g. a second tab

    assert again.pk == first.pk
    assert again_action.redirect_url == first_action.redirect_url == f"/payments/dummy/{first.reference}/"
    assert Payment.objects.count() == 1


def test_a_second_payment_for_a_paid_order_is_rejected_not_taken(django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    first = start(order)
    second = second_payment(order)
    payment_capture(payment=first)

    with django_capture_on_commit_callbacks(execute=True):
        second = payment_capture(payment=second)

    order.refresh_from_db()
    assert second.status == Payment.Status.REJECTED
    assert "already paid" in second.error
    assert order.status == Order.Status.PAID
    assert order.needs_attention
    assert order.events.filter(type=OrderEvent.Type.FLAGGED, note__contains="already paid").count() == 1
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1
    # The second charge goes back in full; the order's own payment is untouched.
    refund = second.refunds.get()
    assert (refund.status, refund.amount) == (Refund.Status.SUCCEEDED, second.amount)
    assert not first.refunds.exists()
    assert order.refunded_total == 0
    assert on_hand(variant) == 3
    assert _sales().count() == 1
    assert_stock_consistent()


def test_a_payment_of_the_wrong_amount_is_rejected_and_left_to_staff(django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    payment = start(order)

    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_capture(payment=payment, amount_minor=100, currency="USD")

    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert "1.00 USD" in payment.error
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.needs_attention
    # Not refunded automatically: a mismatch needs a person to look at what was charged.
    assert not payment.refunds.exists()
    assert not _sales().exists()


def test_a_failed_second_payment_leaves_a_paid_order_paid():
    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    first = start(order)
    second = second_payment(order)
    payment_capture(payment=first)

    payment_fail(payment=second, reason="declined")

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 3


def test_a_capture_locks_the_order_once_and_before_its_stock():
    # payment_capture locks the order, then order_mark_paid works on that same locked row:
    # one FOR UPDATE of the order, taken before the stock rows' (order_lock's rule).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    variant = stocked_variant(on_hand=4)
    order = place_order((variant, 1))
    payment = start(order)

    with CaptureQueriesContext(connection) as queries:
        payment_capture(payment=payment)

    statements = [query["sql"] for query in queries.captured_queries]
    order_locks = [i for i, sql in enumerate(statements) if 'FROM "orders_order"' in sql and "FOR UPDATE" in sql]
    stock_lock = next(i for i, sql in enumerate(statements) if "inventory_stockitem" in sql and "FOR UPDATE" in sql)
    assert len(order_locks) == 1
    assert order_locks[0] < stock_lock
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
