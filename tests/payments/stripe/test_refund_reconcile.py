"""A refund Stripe accepted as pending ends by refund.updated / refund.failed. When that
webhook is lost, reconciliation (`manage.py reconcile_payments`, the beat) asks Stripe about
the refund (GET /v1/refunds/{id}, https://docs.stripe.com/api/refunds/retrieve) and applies
the answer as the webhook would have: a success counts once and issues its credit note, a
failure frees the amount and flags the order, and Stripe out of reach is an error that
leaves the refund pending (its amount held) for the next run."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from orders.models import CreditNote, Order, OrderEvent
from payments.models import Payment, Refund
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund
from tests.payments.helpers import assert_refund_failed_and_freed

from .conftest import event

pytestmark = pytest.mark.django_db

NO_PAYMENTS = "Checked 0 payment(s): 0 captured, 0 failed, 0 still pending, 0 error(s).\n"


def refund_left_pending(paid, fake_stripe, amount: Decimal) -> Refund:
    """A staff refund Stripe answered "pending" (it has the refund's id): only a refund.*
    webhook would end it."""
    fake_stripe.refund_status = "pending"
    refund = payment_refund(payment=paid, amount=amount, reason="Damaged in transit")
    assert refund.status == Refund.Status.PENDING
    assert refund.provider_refund_id in fake_stripe.refunds
    return refund


def reconcile(capsys) -> str:
    call_command("reconcile_payments", "--older-than", "0")
    return capsys.readouterr().out


def refunded_events(order) -> int:
    return order.events.filter(type=OrderEvent.Type.REFUNDED).count()


@pytest.mark.parametrize(
    ("amount", "status"),
    [(Decimal("63.50"), Order.Status.REFUNDED), (Decimal("20.00"), Order.Status.PARTIALLY_REFUNDED)],
)
def test_a_pending_refund_whose_webhook_was_lost_is_counted_once_when_stripe_says_it_succeeded(
    paid, fake_stripe, deliver, order, capsys, amount, status
):
    refund = refund_left_pending(paid, fake_stripe, amount)
    succeeded = fake_stripe.refund_update(refund.provider_refund_id, status="succeeded")  # refund.updated never arrives

    out = reconcile(capsys)

    assert (
        out
        == NO_PAYMENTS
        + "Checked 1 pending refund(s): 1 settled (1 succeeded, 0 failed), 0 still pending, 0 error(s).\n"
    )
    assert [r.path_url for r in fake_stripe.refund_lookups()] == [f"/v1/refunds/{refund.provider_refund_id}"]
    refund.refresh_from_db()
    paid.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.error) == (Refund.Status.SUCCEEDED, "")
    assert paid.refunded_amount == order.refunded_total == amount
    assert order.status == status
    assert refunded_events(order) == 1
    [note] = CreditNote.objects.filter(order=order)
    assert note.amount == amount

    # Running it again, and the lost webhook turning up after all, change nothing.
    assert (
        reconcile(capsys)
        == NO_PAYMENTS
        + "Checked 0 pending refund(s): 0 settled (0 succeeded, 0 failed), 0 still pending, 0 error(s).\n"
    )
    deliver(event("refund.updated", succeeded))
    assert len(fake_stripe.refund_lookups()) == 1
    order.refresh_from_db()
    assert Payment.objects.get(pk=paid.pk).refunded_amount == order.refunded_total == amount
    assert refunded_events(order) == 1
    assert list(CreditNote.objects.filter(order=order)) == [note]


def test_a_pending_refund_stripe_says_failed_frees_its_amount_and_flags_the_order_with_stripes_reason(
    paid, fake_stripe, capsys
):
    refund = refund_left_pending(paid, fake_stripe, Decimal("20.00"))
    fake_stripe.refund_update(refund.provider_refund_id, status="failed", failure_reason="expired_or_canceled_card")
    assert payment_refundable_amount(paid) == Decimal("43.50")  # held while pending

    out = reconcile(capsys)

    assert (
        out
        == NO_PAYMENTS
        + "Checked 1 pending refund(s): 1 settled (0 succeeded, 1 failed), 0 still pending, 0 error(s).\n"
    )
    assert_refund_failed_and_freed(refund, reason="expired_or_canceled_card")


@pytest.mark.parametrize("still", ["pending", "requires_action"])
def test_a_refund_stripe_still_processes_stays_pending_and_keeps_its_amount_held(
    paid, fake_stripe, order, capsys, still
):
    refund = refund_left_pending(paid, fake_stripe, Decimal("20.00"))
    fake_stripe.refund_update(refund.provider_refund_id, status=still)

    out = reconcile(capsys)

    assert (
        out
        == NO_PAYMENTS
        + "Checked 1 pending refund(s): 0 settled (0 succeeded, 0 failed), 1 still pending, 0 error(s).\n"
    )
    assert len(fake_stripe.refund_lookups()) == 1
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.PENDING
    assert payment_refundable_amount(Payment.objects.get(pk=paid.pk)) == Decimal("43.50")
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_stripe_out_of_reach_is_an_error_exit_1_and_the_refund_is_settled_by_a_later_run(
    paid, fake_stripe, order, capsys
):
    refund = refund_left_pending(paid, fake_stripe, Decimal("20.00"))
    fake_stripe.refund_update(refund.provider_refund_id, status="succeeded")
    fake_stripe.refund_lookups_unreachable = True

    with pytest.raises(CommandError) as exc:
        call_command("reconcile_payments", "--older-than", "0")

    assert exc.value.returncode == 1
    assert str(exc.value) == "1 refund(s) could not be checked; see the log."
    assert capsys.readouterr().out == NO_PAYMENTS + (
        "Checked 1 pending refund(s): 0 settled (0 succeeded, 0 failed), 0 still pending, 1 error(s).\n"
    )
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.PENDING
    assert payment_refundable_amount(Payment.objects.get(pk=paid.pk)) == Decimal("43.50")  # still held
    assert Order.objects.get(pk=order.pk).refunded_total == 0

    fake_stripe.refund_lookups_unreachable = False
    reconcile(capsys)

    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("20.00"))
