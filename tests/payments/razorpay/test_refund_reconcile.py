"""A refund Razorpay accepted as pending ends by refund.processed / refund.failed. When that
webhook is lost, reconciliation (`manage.py reconcile_payments`, the beat) asks Razorpay
(GET /v1/payments/{pay_id}/refunds/{rfnd_id},
https://razorpay.com/docs/api/refunds/fetch-specific-refund-payment/) and applies the answer
as the webhook would have."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.models import CreditNote, Order, OrderEvent
from payments.models import Payment, Refund
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund
from tests.factories import stocked_variant
from tests.payments.helpers import assert_refund_failed_and_freed, run_beat_entry

from .conftest import start_paying

pytestmark = pytest.mark.django_db

NO_PAYMENTS = "Checked 0 payment(s): 0 captured, 0 failed, 0 still pending, 0 error(s).\n"


@pytest.fixture
def paid(client, razorpay_api, deliver):
    """An INR order of 2 × 499.50 + 49.00 shipping = 1048.00, paid: (order, payment)."""
    order, payment = start_paying(client, (stocked_variant(on_hand=3, price=Decimal("499.50")), 2))
    captured = razorpay_api.event("payment.captured", payment=razorpay_api.pay(payment.provider_order_id))
    deliver(captured, razorpay_api.webhook_headers(captured))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    return order, payment


def refund_left_pending(razorpay_api, payment, amount: Decimal) -> tuple[Refund, dict]:
    """A staff refund Razorpay answered "pending": (our refund, Razorpay's refund entity)."""
    razorpay_api.refund_status = "pending"
    refund = payment_refund(payment=payment, amount=amount, reason="Returned")
    entity = razorpay_api.refunds[refund.provider_refund_id]
    assert (refund.status, entity["status"]) == (Refund.Status.PENDING, "pending")
    return refund, entity


def refund_fetches(razorpay_api, payment, refund) -> list:
    return razorpay_api.calls("GET", f"/payments/{payment.provider_payment_id}/refunds/{refund.provider_refund_id}")


def test_a_pending_refund_whose_webhook_was_lost_is_counted_once_when_razorpay_says_processed(
    razorpay_api, paid, capsys
):
    order, payment = paid
    refund, entity = refund_left_pending(razorpay_api, payment, Decimal("1048.00"))
    entity["status"] = "processed"  # refund.processed never arrives

    call_command("reconcile_payments", "--older-than", "0")

    assert capsys.readouterr().out == NO_PAYMENTS + (
        "Checked 1 pending refund(s): 1 settled (1 succeeded, 0 failed), 0 still pending, 0 error(s).\n"
    )
    assert len(refund_fetches(razorpay_api, payment, refund)) == 1
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("1048.00"))
    [note] = CreditNote.objects.filter(order=order)
    assert note.amount == Decimal("1048.00")

    call_command("reconcile_payments", "--older-than", "0")

    assert "Checked 0 pending refund(s)" in capsys.readouterr().out
    assert len(refund_fetches(razorpay_api, payment, refund)) == 1
    order.refresh_from_db()
    assert order.refunded_total == Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("1048.00")
    assert order.events.filter(type=OrderEvent.Type.REFUNDED).count() == 1
    assert CreditNote.objects.count() == 1


def test_a_pending_refund_razorpay_says_failed_frees_its_amount_and_flags_the_order(razorpay_api, paid, capsys):
    _order, payment = paid
    refund, entity = refund_left_pending(razorpay_api, payment, Decimal("499.50"))
    entity["status"] = "failed"

    call_command("reconcile_payments", "--older-than", "0")

    assert "1 settled (0 succeeded, 1 failed)" in capsys.readouterr().out
    assert_refund_failed_and_freed(refund, reason="Razorpay could not make the refund")


@pytest.mark.parametrize("trouble", ["unreachable", "down"])
def test_razorpay_out_of_reach_is_an_error_exit_1_and_the_refund_stays_pending(razorpay_api, paid, capsys, trouble):
    order, payment = paid
    refund, entity = refund_left_pending(razorpay_api, payment, Decimal("499.50"))
    entity["status"] = "processed"
    setattr(razorpay_api, trouble, True)

    with pytest.raises(CommandError) as exc:
        call_command("reconcile_payments", "--older-than", "0")

    assert exc.value.returncode == 1
    assert str(exc.value) == "1 refund(s) could not be checked; see the log."
    # `in`, not ==: razorpay's SDK prints "Connection failed." to stdout itself.
    assert (
        NO_PAYMENTS + "Checked 1 pending refund(s): 0 settled (0 succeeded, 0 failed), 0 still pending, 1 error(s).\n"
        in (capsys.readouterr().out)
    )
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.PENDING
    assert payment_refundable_amount(Payment.objects.get(pk=payment.pk)) == Decimal("548.50")  # still held
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_the_beat_settles_refunds_pending_longer_than_reconcile_after_minutes_only(razorpay_api, paid, settings):
    settings.RECONCILE_AFTER_MINUTES = 15
    order, payment = paid
    old, old_entity = refund_left_pending(razorpay_api, payment, Decimal("500.00"))
    Refund.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    young, young_entity = refund_left_pending(razorpay_api, payment, Decimal("48.00"))
    old_entity["status"] = young_entity["status"] = "processed"

    counts = run_beat_entry("reconcile-payments")

    assert {key: value for key, value in counts.items() if key.startswith("refund")} == {
        "refunds_checked": 1,
        "refunds_succeeded": 1,
        "refunds_failed": 0,
        "refunds_still_pending": 0,
        "refund_errors": 0,
    }
    assert Refund.objects.get(pk=old.pk).status == Refund.Status.SUCCEEDED
    assert Refund.objects.get(pk=young.pk).status == Refund.Status.PENDING
    assert refund_fetches(razorpay_api, payment, young) == []
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("500.00"))
