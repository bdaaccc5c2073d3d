"""Refunds: ours go out with our idempotency key; those made in the Stripe dashboard come in
through refund.created or charge.refunded and are recorded once."""

from decimal import Decimal

import pytest

from orders.models import Order
from payments.gateways import GatewayError
from payments.models import Refund, WebhookEvent
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund

from .conftest import event

pytestmark = pytest.mark.django_db


def test_a_partial_refund_made_in_the_stripe_dashboard_is_recorded_from_charge_refunded(
    paid, fake_stripe, deliver, order
):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 2000)
    charge = fake_stripe.charge(paid.provider_payment_id, refunds=[refund], amount_refunded=2000)

    response = deliver(event("charge.refunded", charge, previous_attributes={"amount_refunded": 0, "refunded": False}))

    assert response.status_code == 200
    recorded = Refund.objects.get()
    assert (recorded.amount, recorded.currency, recorded.status) == (Decimal("20.00"), "USD", Refund.Status.SUCCEEDED)
    assert recorded.provider_refund_id == refund["id"]
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.refunded_total == Decimal("20.00")


def test_a_second_dashboard_refund_covering_the_rest_marks_the_order_refunded(paid, fake_stripe, deliver, order):
    first = fake_stripe.refund_object(paid.provider_payment_id, 2000)
    deliver(
        event("charge.refunded", fake_stripe.charge(paid.provider_payment_id, refunds=[first], amount_refunded=2000))
    )
    second = fake_stripe.refund_object(paid.provider_payment_id, 4350)

    deliver(
        event(
            "charge.refunded",
            fake_stripe.charge(paid.provider_payment_id, refunds=[first, second], amount_refunded=6350),
        )
    )

    assert sorted(Refund.objects.values_list("amount", flat=True)) == [Decimal("20.00"), Decimal("43.50")]
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_total == order.total


def test_a_dashboard_refund_is_recorded_from_refund_created(paid, fake_stripe, deliver, order):
    # Current API versions: the charge no longer lists its refunds; refund.created has it.
    refund = fake_stripe.refund_object(paid.provider_payment_id, 6350)

    deliver(event("refund.created", refund))

    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Refund.objects.get().provider_refund_id == refund["id"]


def test_a_refund_reported_by_both_refund_created_and_charge_refunded_is_recorded_once(
    paid, fake_stripe, deliver, order
):
    refund = fake_stripe.refund_object(paid.provider_payment_id, 1000)

    deliver(event("refund.created", refund))
    deliver(
        event("charge.refunded", fake_stripe.charge(paid.provider_payment_id, refunds=[refund], amount_refunded=1000))
    )
    deliver(event("refund.updated", refund))

    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    order.refresh_from_db()
    assert paid.refunded_amount == order.refunded_total == Decimal("10.00")


def test_charge_refunded_without_a_list_of_refunds_is_ignored_rather_than_guessed(paid, fake_stripe, deliver, order):
    charge = fake_stripe.charge(paid.provider_payment_id, refunds=None, amount_refunded=1000)

    deliver(event("charge.refunded", charge, previous_attributes={"amount_refunded": 0}))

    assert WebhookEvent.objects.filter(event_type="charge.refunded").get().status == WebhookEvent.Status.IGNORED
    assert not Refund.objects.exists()


def test_a_refund_we_made_is_not_recorded_again_by_its_webhooks(paid, fake_stripe, deliver, order):
    ours = payment_refund(payment=paid, amount=Decimal("10.00"), reason="Damaged in transit")

    [request] = fake_stripe.refund_creates()
    assert request.headers["Idempotency-Key"] == ours.idempotency_key
    stripe_refund = fake_stripe.refunds[ours.provider_refund_id]
    deliver(event("refund.created", stripe_refund))
    deliver(
        event(
            "charge.refunded",
            fake_stripe.charge(paid.provider_payment_id, refunds=[stripe_refund], amount_refunded=1000),
        )
    )

    assert Refund.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.refunded_total == Decimal("10.00")


def test_a_refund_webhook_arriving_before_stripes_answer_confirms_our_pending_refund(paid, fake_stripe, deliver, order):
    # Our refund row exists (pending) but the API answer has not been recorded yet: the
    # refund's metadata carries our key, so the webhook confirms ours instead of adding one.
    ours = Refund.objects.create(payment=paid, amount=Decimal("10.00"), currency="USD")
    refund = fake_stripe.refund_object(paid.provider_payment_id, 1000, metadata={"refund_key": ours.idempotency_key})

    deliver(event("refund.created", refund))

    ours.refresh_from_db()
    assert Refund.objects.count() == 1
    assert ours.status == Refund.Status.SUCCEEDED and ours.provider_refund_id == refund["id"]


def test_a_refund_stripe_answers_pending_stays_pending_until_refund_updated_says_it_succeeded(
    paid, fake_stripe, deliver, order
):
    fake_stripe.refund_status = "pending"

    refund = payment_refund(payment=paid)

    # Pending: the money is not back with the customer yet, so nothing counts as refunded,
    # but the amount is held: it cannot be refunded a second time meanwhile.
    assert refund.status == Refund.Status.PENDING
    paid.refresh_from_db()
    order.refresh_from_db()
    assert (paid.refunded_amount, order.refunded_total, order.status) == (0, 0, Order.Status.PAID)
    assert payment_refundable_amount(paid) == 0

    deliver(event("refund.updated", fake_stripe.refund_update(refund.provider_refund_id, status="succeeded")))

    refund.refresh_from_db()
    paid.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert paid.refunded_amount == order.refunded_total == Decimal("63.50")
    assert order.status == Order.Status.REFUNDED


def test_a_refund_stripe_reports_failed_is_recorded_as_failed(paid, fake_stripe, order):
    fake_stripe.refund_status = "failed"

    with pytest.raises(GatewayError, match="failed"):
        payment_refund(payment=paid, amount=Decimal("5.00"))

    assert Refund.objects.get().status == Refund.Status.FAILED
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_refund_stripe_refuses_is_recorded_as_failed(paid, fake_stripe, order):
    fake_stripe.fail_next(
        status=400,
        type_="invalid_request_error",
        message="Charge has already been refunded.",
        code="charge_already_refunded",
    )

    with pytest.raises(GatewayError, match="charge_already_refunded"):
        payment_refund(payment=paid, amount=Decimal("5.00"))

    assert Refund.objects.get().status == Refund.Status.FAILED
    paid.refresh_from_db()
    assert paid.refunded_amount == 0
