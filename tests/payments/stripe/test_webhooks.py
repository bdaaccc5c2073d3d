"""Stripe's webhooks through the inbox: verified over the raw body, stored once, applied once,
in any order."""

import json
import time

import pytest

from inventory.models import StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from payments.models import Payment, WebhookEvent
from tests.inventory.helpers import assert_stock_consistent, on_hand

from .conftest import WEBHOOK_URL, event, sign

pytestmark = pytest.mark.django_db


def _sales():
    return StockMovement.objects.filter(reason=StockMovement.Reason.SALE)


def _paid_events(order):
    return OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID)


def test_a_signed_checkout_session_completed_marks_the_order_paid_and_commits_the_stock(
    started, fake_stripe, deliver, order, shirt, socks
):
    payment, session_id = started
    session = fake_stripe.complete(session_id)

    response = deliver(event("checkout.session.completed", session))

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_payment_id == session["payment_intent"]
    assert order.status == Order.Status.PAID
    assert (on_hand(shirt), on_hand(socks)) == (3, 4)
    assert sorted(_sales().values_list("quantity", flat=True)) == [-2, -1]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert_stock_consistent()


def test_the_same_event_delivered_five_times_pays_the_order_once(started, fake_stripe, deliver, order):
    payment, session_id = started
    completed = event("checkout.session.completed", fake_stripe.complete(session_id))

    answers = [deliver(completed) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert WebhookEvent.objects.count() == 1
    assert _paid_events(order).count() == 1
    assert _sales().count() == order.lines.count() == 2
    assert_stock_consistent()


@pytest.mark.parametrize(
    "late_news",
    ["checkout.session.async_payment_failed", "payment_intent.payment_failed", "checkout.session.expired"],
)
def test_a_failure_arriving_after_the_completion_never_unpays_the_order(
    started, fake_stripe, deliver, order, late_news
):
    payment, session_id = started
    completed = fake_stripe.complete(session_id)
    deliver(event("checkout.session.completed", completed))
    if late_news == "payment_intent.payment_failed":
        stale = event(late_news, {**fake_stripe.declined_intent(session_id), "status": "canceled"})
    elif late_news == "checkout.session.expired":
        stale = event(late_news, {**completed, "status": "expired"})
    else:
        stale = event(late_news, completed)

    assert deliver(stale).status_code == 200

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert _paid_events(order).count() == 1
    assert _sales().count() == 2
    assert_stock_consistent()


def test_a_completion_arriving_after_an_expiry_event_still_pays_while_the_stock_is_there(
    started, fake_stripe, deliver, order
):
    # Events out of order: Stripe does not promise delivery order.
    payment, session_id = started
    completed = fake_stripe.complete(session_id)
    deliver(event("checkout.session.expired", {**completed, "status": "expired", "payment_status": "unpaid"}))

    deliver(event("checkout.session.completed", completed))

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert _paid_events(order).count() == 1
    assert_stock_consistent()


def test_a_delayed_payment_completes_unpaid_then_pays_once_when_it_settles(started, fake_stripe, deliver, order, shirt):
    payment, session_id = started
    deliver(event("checkout.session.completed", fake_stripe.complete(session_id, paid=False)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([shirt.pk])[shirt.pk] == 3  # still held for the shopper
    assert not _sales().exists()

    settled = event("checkout.session.async_payment_succeeded", fake_stripe.settle(session_id, succeeded=True))
    deliver(settled)
    deliver(settled)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert _paid_events(order).count() == 1
    assert _sales().count() == 2
    assert_stock_consistent()


def test_a_delayed_payment_that_fails_fails_the_payment_and_the_order_keeps_its_hold_for_another_try(
    started, fake_stripe, deliver, order, shirt
):
    payment, session_id = started
    deliver(event("checkout.session.completed", fake_stripe.complete(session_id, paid=False)))

    deliver(event("checkout.session.async_payment_failed", fake_stripe.settle(session_id, succeeded=False)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    # The order waits for another payment while its reservation lasts, then expires.
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([shirt.pk])[shirt.pk] == 3
    assert not _sales().exists()


def test_an_expired_session_fails_the_payment_and_the_order_keeps_its_reservation(
    started, fake_stripe, deliver, order, shirt
):
    payment, session_id = started

    deliver(event("checkout.session.expired", fake_stripe.expire(session_id)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "Checkout session expired"
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([shirt.pk])[shirt.pk] == 3


def test_a_declined_card_on_the_open_checkout_page_keeps_the_reservation_for_another_try(
    started, fake_stripe, deliver, order, shirt
):
    # On the hosted page the shopper can try another card in the same session.
    payment, session_id = started

    deliver(event("payment_intent.payment_failed", fake_stripe.declined_intent(session_id)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([shirt.pk])[shirt.pk] == 3
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED

    deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))

    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_cancelled_payment_intent_fails_the_payment(started, fake_stripe, deliver, order):
    payment, session_id = started

    deliver(event("payment_intent.payment_failed", fake_stripe.declined_intent(session_id, status="canceled")))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "Your card was declined."
    assert order.status == Order.Status.PENDING_PAYMENT  # another payment may still pay it


def test_events_about_sessions_we_did_not_create_are_stored_and_ignored(started, fake_stripe, deliver, order):
    _, session_id = started
    foreign = {
        **fake_stripe.complete(session_id),
        "id": "cs_test_someone_else",
        "metadata": {},
        "client_reference_id": None,
    }

    assert deliver(event("checkout.session.completed", foreign)).status_code == 200

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_event_types_we_do_not_act_on_are_acknowledged_and_ignored(deliver, fake_stripe):
    response = deliver(
        event("customer.created", {"id": "cus_test_1", "object": "customer", "email": "ada@example.com"})
    )

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forgery",
    [
        "body changed after signing",
        "signed with another secret",
        "no signature header",
        "signature too old",
        "garbage header",
    ],
)
def test_a_webhook_whose_signature_does_not_verify_is_refused_and_nothing_is_stored(
    started, fake_stripe, deliver, order, forgery
):
    payment, session_id = started
    completed = event("checkout.session.completed", fake_stripe.complete(session_id))
    if forgery == "body changed after signing":
        signed = json.dumps(completed)
        tampered = signed.replace('"amount_total": 6350', '"amount_total": 1')
        assert tampered != signed
        response = deliver(completed, body=tampered, signature=sign(signed))
    elif forgery == "signed with another secret":
        response = deliver(completed, secret="whsec_NotOurEndpointSecret000000000")
    elif forgery == "no signature header":
        response = deliver(completed, signature=None)
    elif forgery == "signature too old":
        response = deliver(completed, timestamp=int(time.time()) - 600)
    else:
        response = deliver(completed, signature="t=abc,v1=")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not _sales().exists()


@pytest.mark.parametrize("body", ["not json", "{}", "[]", '{"id": "evt_1"}'])
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(deliver, body):
    response = deliver({}, body=body, signature=sign(body))

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_the_stripe_webhook_does_not_exist_while_stripe_is_disabled(settings, started, fake_stripe, deliver):
    _, session_id = started
    settings.PAYMENT_GATEWAYS = ["dummy"]

    response = deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_an_event_whose_first_enqueue_was_lost_is_processed_when_stripe_delivers_it_again(
    started, fake_stripe, deliver, client, order
):
    """The first delivery is stored but its processing never queued (the broker was down, or
    the process died between commit and enqueue): Stripe's retry must get it processed, not
    only acknowledged as a duplicate."""
    payment, session_id = started
    evt = event("checkout.session.completed", fake_stripe.complete(session_id))
    payload = json.dumps(evt)
    # No on-commit callbacks run here: the enqueue is lost.
    lost = client.post(
        WEBHOOK_URL, data=payload, content_type="application/json", headers={"Stripe-Signature": sign(payload)}
    )
    assert lost.json() == {"received": True, "duplicate": False}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING

    again = deliver(evt)

    assert again.json() == {"received": True, "duplicate": True}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert _paid_events(order).count() == 1
