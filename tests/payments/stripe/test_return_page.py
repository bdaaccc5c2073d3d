"""The shopper comes back from Stripe: we ask Stripe about the session we stored (never the
one the URL names) and show the order. Reconciliation asks the same question later."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import payments_reconcile
from tests.orders.helpers import place_order

from .conftest import event

pytestmark = pytest.mark.django_db


def _return(client, payment, session_id):
    return client.get(f"/payments/return/{payment.reference}/", {"session_id": session_id})


def test_the_return_page_asks_stripe_and_shows_the_order_paid(client, started, fake_stripe, order):
    payment, session_id = started
    fake_stripe.complete(session_id)

    response = _return(client, payment, session_id)

    [retrieve] = fake_stripe.retrieves()
    assert retrieve.path_url.startswith(f"/v1/checkout/sessions/{session_id}?")
    assert response.status_code == 302 and response["Location"] == order.get_guest_url()
    page = client.get(response["Location"]).content.decode()
    assert "Thank you" in page and 'data-order-status="paid"' in page
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED


def test_a_forged_session_id_on_the_return_url_changes_nothing(client, started, fake_stripe, order, shirt, socks):
    # Another, paid session of the attacker's: the URL names it, we ask about ours.
    payment, session_id = started
    other_order = place_order((shirt, 1))
    client.post(f"/payments/order/{other_order.access_token}/", {"gateway": "stripe"})
    other_session = Payment.objects.get(order=other_order).provider_order_id
    fake_stripe.complete(other_session)

    _return(client, payment, other_session)

    assert [r.path_url.split("?")[0] for r in fake_stripe.retrieves()] == [f"/v1/checkout/sessions/{session_id}"]
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert payment.status == Payment.Status.PENDING


def test_the_return_page_of_a_delayed_payment_says_we_are_waiting(client, started, fake_stripe, order):
    payment, session_id = started
    fake_stripe.complete(session_id, paid=False)

    page = client.get(
        f"/payments/return/{payment.reference}/", {"session_id": session_id}, follow=True
    ).content.decode()

    assert "waiting for the payment provider" in page
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_the_return_page_still_shows_the_order_when_stripe_cannot_be_asked(client, started, fake_stripe, order):
    payment, session_id = started
    fake_stripe.sessions.clear()  # Stripe answers 404 for the session

    response = _return(client, payment, session_id)

    assert response.status_code == 302 and response["Location"] == order.get_guest_url()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_the_return_page_after_the_webhook_paid_does_not_ask_stripe_again(client, started, fake_stripe, deliver, order):
    payment, session_id = started
    deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))

    _return(client, payment, session_id)

    assert fake_stripe.retrieves() == []
    assert OrderEvent.objects.filter(order=order, type=OrderEvent.Type.PAID).count() == 1


def _age(payment, minutes=20):
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def test_reconciliation_pays_an_order_whose_completed_webhook_was_lost(started, fake_stripe, order):
    payment, session_id = started
    fake_stripe.complete(session_id)
    _age(payment)

    result = payments_reconcile(older_than=timedelta(minutes=15))

    assert (result.checked, result.captured) == (1, 1)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_reconciliation_fails_a_payment_whose_session_expired(started, fake_stripe, order):
    payment, session_id = started
    fake_stripe.expire(session_id)
    _age(payment)

    result = payments_reconcile(older_than=timedelta(minutes=15))

    assert result.failed == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "Checkout session expired"


def test_reconciliation_fails_a_completed_session_whose_delayed_payment_failed(started, fake_stripe, order):
    payment, session_id = started
    fake_stripe.complete(session_id, paid=False)
    fake_stripe.settle(session_id, succeeded=False)
    _age(payment)

    payments_reconcile(older_than=timedelta(minutes=15))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED


def test_reconciliation_leaves_an_open_session_pending(started, fake_stripe, order):
    payment, _ = started
    _age(payment)

    result = payments_reconcile(older_than=timedelta(minutes=15))

    assert result.still_pending == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
