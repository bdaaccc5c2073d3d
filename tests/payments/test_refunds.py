"""Refunds through payments.services.payment_refund with the dummy gateway (no money moves,
its refunds always succeed): the order becomes partially refunded or refunded, the payment
adds up what was given back, and restocked units come back on hand through the ledger, never
more than were sold. A refund that cannot be made changes nothing."""

from decimal import Decimal

import pytest

from inventory.models import StockMovement
from kernel.money import to_minor
from orders.models import Order, OrderEvent
from payments.gateways import GatewayError
from payments.gateways.base import ProviderRefund
from payments.models import Payment, Refund
from payments.services import PaymentError, payment_capture, payment_fail, payment_refund, payment_start, refund_apply
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import place_order
from tests.payments.helpers import second_payment_of_a_paid_order

pytestmark = pytest.mark.django_db


def paid(*lines) -> Payment:
    """A captured dummy payment of a new order of `lines` ((variant, quantity), …), its
    provider payment id its reference, as the dummy gateway's webhook reports it."""
    payment, _action = payment_start(order=place_order(*lines), gateway="dummy")
    return payment_capture(payment=payment, provider_payment_id=payment.reference)


def returns():
    return StockMovement.objects.filter(reason=StockMovement.Reason.RETURN)


def assert_nothing_changed(payment: Payment, *, order_status=Order.Status.PAID, refunds: int = 0) -> None:
    payment.refresh_from_db()
    order = Order.objects.get(pk=payment.order_id)
    assert payment.refunded_amount == sum((r.amount for r in payment.refunds.filter(status="succeeded")), Decimal(0))
    assert Refund.objects.count() == refunds
    assert order.status == order_status
    assert not returns().exists()
    assert not order.lines.filter(restocked_quantity__gt=0).exists()


def test_a_full_refund_refunds_the_order_and_the_payment():
    staff = UserFactory(is_staff=True)
    payment = paid((stocked_variant(on_hand=5), 2))

    refund = payment_refund(payment=payment, reason="Changed their mind", actor=staff)

    payment.refresh_from_db()
    order = Order.objects.get(pk=payment.order_id)
    assert (refund.status, refund.amount, refund.currency) == (Refund.Status.SUCCEEDED, Decimal("45.00"), "USD")
    assert refund.provider_refund_id == f"dummy_refund_{refund.idempotency_key}"
    assert payment.refunded_amount == payment.amount == Decimal("45.00")
    assert payment.status == Payment.Status.CAPTURED  # it was taken; the refund is its own row
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("45.00"))
    event = order.events.get(type=OrderEvent.Type.REFUNDED)
    assert event.actor == staff and event.note == "45.00 USD refunded in all: Changed their mind"


def test_a_full_refund_with_restock_puts_the_units_back_through_the_ledger():
    shirt, socks = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    payment = paid((shirt, 2), (socks, 1))
    order = payment.order
    shirt_line, socks_line = order.lines.get(variant=shirt), order.lines.get(variant=socks)
    assert (on_hand(shirt), on_hand(socks)) == (3, 4)

    payment_refund(payment=payment, reason="Returned", restock={shirt_line.pk: 2, socks_line.pk: 1})

    assert (on_hand(shirt), on_hand(socks)) == (5, 5)
    assert sorted(returns().values_list("variant_id", "quantity", "reference")) == sorted(
        [(shirt.pk, 2, order.number), (socks.pk, 1, order.number)]
    )
    shirt_line.refresh_from_db()
    socks_line.refresh_from_db()
    assert (shirt_line.restocked_quantity, socks_line.restocked_quantity) == (2, 1)
    assert Refund.objects.get().restock == {str(shirt_line.pk): 2, str(socks_line.pk): 1}
    assert order.events.filter(type=OrderEvent.Type.RESTOCKED, note="3 unit(s) back on hand").count() == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    assert_stock_consistent()


def test_partial_refunds_make_the_order_partially_refunded_until_they_add_up():
    payment = paid((stocked_variant(on_hand=5), 2))  # 45.00
    order = payment.order

    payment_refund(payment=payment, amount=Decimal("5.00"), reason="Shipping")
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("5.00"))

    payment_refund(payment=payment, amount=Decimal("20.00"), reason="One shirt")
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("25.00"))

    payment_refund(payment=payment, amount=Decimal("20.00"), reason="The other shirt")
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("45.00"))
    assert payment.refunded_amount == Decimal("45.00")
    assert order.events.filter(type=OrderEvent.Type.REFUNDED).count() == 3


def test_restocking_over_several_refunds_stops_at_the_quantity_sold():
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    payment_refund(payment=payment, amount=Decimal("20.00"), restock={line.pk: 1})
    payment_refund(payment=payment, amount=Decimal("20.00"), restock={line.pk: 1})

    with pytest.raises(PaymentError, match="between 0 and 0"):
        payment_refund(payment=payment, amount=Decimal("5.00"), restock={line.pk: 1})

    line.refresh_from_db()
    payment.refresh_from_db()
    assert line.restocked_quantity == 2
    assert on_hand(variant) == 5
    assert payment.refunded_amount == Decimal("40.00")
    assert Refund.objects.count() == 2
    assert_stock_consistent()


@pytest.mark.parametrize("units", [3, -1])
def test_restocking_more_than_was_sold_is_refused_and_nothing_changes(units):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()

    with pytest.raises(PaymentError, match="between 0 and 2"):
        payment_refund(payment=payment, reason="x", restock={line.pk: units})

    assert_nothing_changed(payment)
    assert on_hand(variant) == 3


def test_restocking_a_line_of_another_order_is_refused_and_nothing_changes():
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 1))
    other_line = paid((variant, 1)).order.lines.get()

    with pytest.raises(PaymentError, match="not a restockable line"):
        payment_refund(payment=payment, restock={other_line.pk: 1})

    assert_nothing_changed(payment)
    assert on_hand(variant) == 3


def test_a_rejected_payment_is_refunded_without_restock(settings, django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 1))
    second = second_payment_of_a_paid_order(order)
    # Rejected (already paid); its automatic refund cannot be made (the gateway was switched
    # off meanwhile): it fails, and the amount is free for a refund by hand.
    settings.PAYMENT_GATEWAYS = []
    with django_capture_on_commit_callbacks(execute=True):
        second = payment_capture(payment=second)
    settings.PAYMENT_GATEWAYS = ["dummy"]
    line = order.lines.get()

    with pytest.raises(PaymentError, match="sold nothing"):
        payment_refund(payment=second, restock={line.pk: 1})
    refund = payment_refund(payment=second, reason="Paid twice")

    second.refresh_from_db()
    assert (refund.status, second.refunded_amount) == (Refund.Status.SUCCEEDED, Decimal("25.00"))
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PAID, Decimal("0"))
    assert on_hand(variant) == 4
    assert not returns().exists()


@pytest.mark.parametrize("amount", ["45.01", "100", "0", "-1", "0.00"])
def test_refunding_more_than_was_taken_or_nothing_at_all_is_refused_and_nothing_changes(amount):
    payment = paid((stocked_variant(on_hand=5), 2))

    with pytest.raises(PaymentError, match="at most 45.00 USD"):
        payment_refund(payment=payment, amount=Decimal(amount))

    assert_nothing_changed(payment)


def test_refunding_more_than_is_left_after_a_partial_refund_is_refused_and_nothing_changes():
    payment = paid((stocked_variant(on_hand=5), 2))
    payment_refund(payment=payment, amount=Decimal("40.00"))

    with pytest.raises(PaymentError, match="at most 5.00 USD"):
        payment_refund(payment=payment, amount=Decimal("5.01"))

    assert_nothing_changed(payment, order_status=Order.Status.PARTIALLY_REFUNDED, refunds=1)
    assert Order.objects.get(pk=payment.order_id).refunded_total == Decimal("40.00")


def test_a_fully_refunded_payment_cannot_be_refunded_again():
    payment = paid((stocked_variant(on_hand=5), 1))
    payment_refund(payment=payment)

    with pytest.raises(PaymentError, match="at most 0.00 USD"):
        payment_refund(payment=payment)

    assert_nothing_changed(payment, order_status=Order.Status.REFUNDED, refunds=1)


@pytest.mark.parametrize("outcome", ["pending", "failed"])
def test_a_payment_that_took_no_money_cannot_be_refunded(outcome):
    payment, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")
    if outcome == "failed":
        payment_fail(payment=payment, reason="declined")

    with pytest.raises(PaymentError, match="took no money"):
        payment_refund(payment=payment)

    assert not Refund.objects.exists()


def test_a_refund_through_a_gateway_that_is_no_longer_enabled_is_recorded_failed_and_changes_nothing(settings):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    settings.PAYMENT_GATEWAYS = []

    with pytest.raises(GatewayError, match="not enabled"):
        payment_refund(payment=payment, reason="x", restock={line.pk: 2})

    failed = Refund.objects.get()
    assert (failed.status, failed.error) == (Refund.Status.FAILED, "The dummy gateway is not enabled.")
    assert_nothing_changed(payment, refunds=1)
    assert on_hand(variant) == 3
    # A failed refund holds nothing back: the whole amount can be refunded once it works.
    settings.PAYMENT_GATEWAYS = ["dummy"]
    assert payment_refund(payment=payment, reason="x", restock={line.pk: 2}).status == Refund.Status.SUCCEEDED
    assert on_hand(variant) == 5


def test_the_provider_confirming_our_refund_again_changes_nothing():
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    refund = payment_refund(payment=payment, amount=Decimal("20.00"), restock={line.pk: 1})

    # The refund's webhook arrives after the API answer already recorded it, twice.
    for _ in range(2):
        again = refund_apply(
            gateway="dummy",
            answer=ProviderRefund(
                provider_refund_id=refund.provider_refund_id,
                provider_payment_id=payment.provider_payment_id,
                amount_minor=2000,
            ),
        )
        assert again.pk == refund.pk

    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("20.00")
    assert Order.objects.get(pk=payment.order_id).events.filter(type=OrderEvent.Type.REFUNDED).count() == 1
    assert on_hand(variant) == 4
    assert_stock_consistent()


def test_a_refund_made_at_the_provider_is_recorded_once():
    payment = paid((stocked_variant(on_hand=5), 2))
    answer = ProviderRefund(
        provider_refund_id="dashboard_refund_1",
        provider_payment_id=payment.provider_payment_id,
        amount_minor=to_minor(Decimal("10.00"), "USD"),
    )

    first = refund_apply(gateway="dummy", answer=answer)
    again = refund_apply(gateway="dummy", answer=answer)

    assert again.pk == first.pk
    assert (first.status, first.amount, first.reason) == (
        Refund.Status.SUCCEEDED,
        Decimal("10.00"),
        "Refunded at the provider",
    )
    payment.refresh_from_db()
    order = Order.objects.get(pk=payment.order_id)
    assert payment.refunded_amount == Decimal("10.00")
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("10.00"))


def test_a_refund_report_for_no_payment_of_ours_waits_and_records_nothing():
    answer = ProviderRefund(provider_refund_id="re_x", provider_payment_id="not-ours", amount_minor=100)
    # RefundWaits: the inbox keeps the event waiting for the payment (test_inbox.py).
    with pytest.raises(PaymentError, match="waiting for its capture"):
        refund_apply(gateway="dummy", answer=answer)
    assert not Refund.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_refunds_restocking_the_same_units_at_once_never_restock_them_twice():
    for _ in range(5):
        variant = stocked_variant(on_hand=2)
        payment = paid((variant, 2))
        line = payment.order.lines.get()

        outcomes = run_together(
            2,
            lambda i, payment=payment, line=line: payment_refund(
                payment=payment, amount=Decimal("20.00"), restock={line.pk: 2}
            ),
        )

        # The second is refused up front (PaymentError), or, when both passed the check
        # before either restocked, its refund is recorded and the order flagged for staff.
        assert all(o.error is None or isinstance(o.error, PaymentError) for o in outcomes), outcomes
        made = [o.value for o in outcomes if o.error is None]
        assert {r.status for r in made} == {Refund.Status.SUCCEEDED}
        payment.refresh_from_db()
        line.refresh_from_db()
        order = Order.objects.get(pk=payment.order_id)
        assert payment.refunded_amount == Decimal("20.00") * len(made)
        assert not Refund.objects.filter(payment=payment, status=Refund.Status.PENDING).exists()
        assert line.restocked_quantity == 2
        assert on_hand(variant) == 2
        assert order.needs_attention == (len(made) == 2)
    assert_stock_consistent()
