"""A payment that succeeds after its reservation expired (DESIGN.md, "Inventory"): honoured
when the stock is still there; otherwise the order is flagged for staff, expired, and the
payment refunded automatically. The stock is never oversold to honour it."""

import pytest
from django.core import mail

from inventory.exceptions import InsufficientStock, StockBusy
from inventory.models import StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from orders.services import sweep_run
from payments.models import Payment, Refund
from payments.services import payment_capture, payment_start
from tests.factories import stocked_variant
from tests.i18n import german
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import lapse, place_order
from tests.payments.helpers import second_payment_of_a_paid_order

STAFF = "ops@example.com"


@pytest.fixture(autouse=True)
def _staff_alerts(settings):
    settings.STAFF_ALERT_EMAILS = [STAFF]


def start(order) -> Payment:
    payment, _action = payment_start(order=order, gateway="dummy")
    return payment


def pay_on_the_dummy_page(client, payment: Payment):
    return client.post(f"/payments/dummy/{payment.reference}/complete/", {"outcome": "pay"})


def _sales():
    return StockMovement.objects.filter(reason=StockMovement.Reason.SALE)


@pytest.mark.django_db
@pytest.mark.parametrize("swept", [False, True], ids=["before-the-sweep", "after-the-sweep"])
def test_a_late_success_with_the_stock_still_there_pays_the_order(client, swept):
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))
    payment = start(order)
    lapse(order)
    if swept:
        sweep_run(trigger="command")
        assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED

    response = pay_on_the_dummy_page(client, payment)

    assert response.status_code == 302
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.CAPTURED, Order.Status.PAID)
    assert not order.needs_attention
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert list(_sales().values_list("quantity", flat=True)) == [-2]
    assert on_hand(variant) == 1
    assert not Refund.objects.exists()
    assert mail.outbox == []
    assert "Thank you" in client.get(response["Location"]).content.decode()
    assert_stock_consistent()


@pytest.mark.django_db
@pytest.mark.parametrize("swept", [False, True], ids=["before-the-sweep", "after-the-sweep"])
def test_a_late_success_after_the_stock_was_sold_is_rejected_flagged_and_refunded(
    client, swept, django_capture_on_commit_callbacks
):
    variant = stocked_variant(on_hand=2)
    order = place_order((variant, 2))
    payment = start(order)
    lapse(order)
    if swept:
        sweep_run(trigger="command")
    other = start(place_order((variant, 2)))  # someone else takes the units that came free
    payment_capture(payment=other)

    with django_capture_on_commit_callbacks(execute=True):
        response = pay_on_the_dummy_page(client, payment)

    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert "reservation lapsed" in payment.error and "0 left, 2 wanted" in payment.error
    assert order.status == Order.Status.EXPIRED
    assert order.needs_attention
    assert order.events.filter(type=OrderEvent.Type.FLAGGED).count() == 1
    assert not order.events.filter(type=OrderEvent.Type.PAID).exists()
    # The money goes back by itself, recorded on the payment.
    refund = payment.refunds.get()
    assert (refund.status, refund.amount, refund.restock) == (Refund.Status.SUCCEEDED, payment.amount, {})
    assert refund.reason.startswith("Automatic refund: Paid after the reservation lapsed")
    assert payment.refunded_amount == payment.amount
    # Staff are told, with the order and why.
    assert len(mail.outbox) == 1
    alert = mail.outbox[0]
    assert alert.to == [STAFF]
    assert alert.subject == f"Order {order.number} needs attention"
    assert "reservation lapsed" in alert.body and order.email in alert.body
    # The shopper is told too.
    page = client.get(response["Location"]).content.decode()
    assert (
        "We could not accept this payment, as your reservation had run out and the items were sold meanwhile: "
        "we are refunding it."
    ) in page
    assert "reservation lapsed" not in page  # payment.error: staff's English
    # Sold once, to the other buyer; nothing oversold.
    assert list(_sales().values_list("reference", flat=True)) == [other.order.number]
    assert on_hand(variant) == 0
    assert availability([variant.pk]) == {variant.pk: 0}
    assert_stock_consistent()


@pytest.mark.django_db(transaction=True)
def test_the_alert_and_the_refund_happen_once_the_request_commits(client):
    # A real commit (no test transaction around it): the on_commit hooks of payment_capture
    # and order_flag run, as they do in production.
    variant = stocked_variant(on_hand=1)
    order = place_order((variant, 1))
    payment = start(order)
    lapse(order)
    other = place_order((variant, 1))
    payment_capture(payment=start(other))

    pay_on_the_dummy_page(client, payment)
    pay_on_the_dummy_page(client, payment)  # delivered again: nothing more

    payment.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert payment.refunds.get().status == Refund.Status.SUCCEEDED
    assert payment.refunded_amount == payment.amount
    # Staff are alerted once; the buyer who got the unit has their confirmation (on commit too).
    assert sorted(m.subject for m in mail.outbox) == sorted(
        [f"Order {order.number} needs attention", f"Order {other.number} confirmed: thank you"]
    )
    assert on_hand(variant) == 0
    assert_stock_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_late_success_racing_a_new_buyer_for_the_last_units_never_oversells():
    rounds = 6
    for _ in range(rounds):
        variant = stocked_variant(on_hand=1)
        late = place_order((variant, 1))
        payment = start(late)
        lapse(late)

        def work(i, variant=variant, payment=payment):
            if i == 0:
                return payment_capture(payment=payment)
            return payment_capture(payment=start(place_order((variant, 1))))

        outcomes = run_together(2, work, timeout=30)

        errors = [o.error for o in outcomes if o.error is not None]
        # The new buyer may find the unit gone (InsufficientStock at Place order) or the row
        # busy; the late payment never raises: it is captured or rejected.
        assert all(isinstance(e, (InsufficientStock, StockBusy)) for e in errors), errors
        assert outcomes[0].error is None
        assert outcomes[0].value.status in (Payment.Status.CAPTURED, Payment.Status.REJECTED)
        assert on_hand(variant) >= 0
        assert _sales().filter(variant=variant).count() <= 1
        assert Order.objects.filter(lines__variant=variant, status=Order.Status.PAID).count() == (1 - on_hand(variant))
    assert_stock_consistent()


ALREADY_PAID = (
    "We could not accept this payment, as your order was already paid by another payment: we are refunding it."
)


@pytest.mark.django_db
def test_a_second_payment_of_a_paid_order_is_refused_in_one_sentence_in_the_shoppers_language(
    client, django_capture_on_commit_callbacks
):
    order = place_order((stocked_variant(on_hand=2), 1))
    second = second_payment_of_a_paid_order(order)

    with german({ALREADY_PAID: "Ihre Bestellung war schon bezahlt: Wir erstatten diese Zahlung."}):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/payments/dummy/{second.reference}/complete/", {"outcome": "pay"}, HTTP_ACCEPT_LANGUAGE="de"
            )
        german_page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="de").content.decode()

    second.refresh_from_db()
    assert second.status == Payment.Status.REJECTED
    assert "Ihre Bestellung war schon bezahlt: Wir erstatten diese Zahlung." in german_page
    assert second.error not in german_page  # staff's English stays off the shopper's page
