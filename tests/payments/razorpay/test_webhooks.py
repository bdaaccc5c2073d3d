"""Razorpay webhooks: verified over the raw body, stored once, applied once, in any order."""

from decimal import Decimal

import pytest
from django.test import Client

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from payments.models import Payment, WebhookEvent
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand

from .conftest import checkout_in_browser, inr_order, page_form, start_paying

pytestmark = pytest.mark.django_db


def _sales():
    return StockMovement.objects.filter(reason=StockMovement.Reason.SALE)


def test_a_payment_captured_webhook_marks_the_order_paid(client, razorpay_api, deliver):
    variant = stocked_variant(on_hand=3, price=Decimal("499.50"))
    order, payment = start_paying(client, (variant, 2))
    paid = razorpay_api.pay(payment.provider_order_id)
    body = razorpay_api.event("payment.captured", payment=paid)

    response = deliver(body, razorpay_api.webhook_headers(body))

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_payment_id == paid["id"]
    assert order.status == Order.Status.PAID
    assert on_hand(variant) == 1
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_type, event.status) == (
        "razorpay",
        "payment.captured",
        WebhookEvent.Status.PROCESSED,
    )
    assert_stock_consistent()


def test_the_same_event_delivered_five_times_pays_once_and_sells_each_line_once(client, razorpay_api, deliver):
    shirt, scarf = stocked_variant(on_hand=4), stocked_variant(on_hand=4)
    order, payment = start_paying(client, (shirt, 2), (scarf, 1))
    body = razorpay_api.event("payment.captured", payment=razorpay_api.pay(payment.provider_order_id))
    headers = razorpay_api.webhook_headers(body, event_id="evt_Kc8YdL7Q3m2x1a")

    answers = [deliver(body, headers) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert WebhookEvent.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert sorted(_sales().values_list("variant_id", "quantity")) == sorted([(shirt.pk, -2), (scarf.pk, -1)])
    assert (on_hand(shirt), on_hand(scarf)) == (2, 3)
    assert_stock_consistent()


def test_order_paid_and_payment_captured_for_one_payment_make_one_transition(client, razorpay_api, deliver):
    variant = stocked_variant(on_hand=3)
    order, payment = start_paying(client, (variant, 1))
    paid = razorpay_api.pay(payment.provider_order_id)

    for name in ("order.paid", "payment.captured"):
        body = razorpay_api.event(name, payment=paid)
        assert deliver(body, razorpay_api.webhook_headers(body)).status_code == 200

    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).count() == 2
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert _sales().count() == 1
    assert on_hand(variant) == 2
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_order_paid_alone_marks_the_order_paid(client, razorpay_api, deliver):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    body = razorpay_api.event("order.paid", payment=razorpay_api.pay(payment.provider_order_id))

    deliver(body, razorpay_api.webhook_headers(body))

    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_payment_failed_arriving_after_payment_captured_does_not_unpay(client, razorpay_api, deliver):
    variant = stocked_variant(on_hand=3)
    order, payment = start_paying(client, (variant, 1))
    failed = razorpay_api.pay(payment.provider_order_id, status="failed", error_description="Card declined")
    paid = razorpay_api.pay(payment.provider_order_id)
    captured = razorpay_api.event("payment.captured", payment=paid)
    late_failure = razorpay_api.event("payment.failed", payment=failed)

    deliver(captured, razorpay_api.webhook_headers(captured))
    deliver(late_failure, razorpay_api.webhook_headers(late_failure))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    assert not order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).exists()
    assert on_hand(variant) == 2
    assert_stock_consistent()


def test_a_failed_attempt_keeps_the_order_pending_with_its_reservation_for_another_try(client, razorpay_api, deliver):
    # Checkout.js lets the shopper try again on the same Razorpay Order after a failed attempt:
    # treated as Stripe's declined card, it ends nothing.
    variant = stocked_variant(on_hand=3)
    order, payment = start_paying(client, (variant, 2))
    failed = razorpay_api.pay(
        payment.provider_order_id, status="failed", error_description="Payment was cancelled by the bank"
    )
    body = razorpay_api.event("payment.failed", payment=failed)

    deliver(body, razorpay_api.webhook_headers(body))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert payment.error == "Payment was cancelled by the bank"
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not order.events.filter(type=OrderEvent.Type.PAYMENT_FAILED).exists()
    assert Reservation.objects.get(owner=order.reservation_owner).status == Reservation.Status.ACTIVE
    assert availability([variant.pk]) == {variant.pk: 1}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_closing_the_checkout_window_fails_the_payment_and_offers_to_try_again_while_the_hold_lasts(razorpay_api):
    variant = stocked_variant(on_hand=3)
    order = inr_order((variant, 2))
    browser, payment, checkout = checkout_in_browser(order)
    # What static/js/razorpay-checkout.js posts on modal.ondismiss: the page's own form.
    action, token = page_form(checkout, "razorpay-abandon")
    assert action == f"http://testserver/payments/abandon/{payment.reference}/"
    # Without the page's token the post is refused: the door is not csrf-exempt.
    assert Client(enforce_csrf_checks=True).post(action).status_code == 403

    response = browser.post(action, {"csrfmiddlewaretoken": token}, follow=True)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.error == "The shopper closed the payment window"
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([variant.pk]) == {variant.pk: 1}  # still held for this order
    assert response.redirect_chain[-1][0] == f"/payments/order/{order.access_token}/failed/"
    page = response.content.decode()
    assert "Your payment did not go through" in page and "Try again" in page


def test_closing_the_window_after_the_payment_was_captured_changes_nothing(client, razorpay_api, deliver):
    variant = stocked_variant(on_hand=3)
    order, payment = start_paying(client, (variant, 1))
    body = razorpay_api.event("payment.captured", payment=razorpay_api.pay(payment.provider_order_id))
    deliver(body, razorpay_api.webhook_headers(body))

    response = client.post(f"/payments/abandon/{payment.reference}/", follow=True)

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CAPTURED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert "Thank you for your order!" in response.content.decode()
    assert client.get(f"/payments/abandon/{payment.reference}/").status_code == 405


def test_a_success_after_a_failed_attempt_in_the_same_checkout_still_pays(client, razorpay_api, deliver):
    # Checkout.js lets the shopper try again on the same Razorpay Order after a decline.
    variant = stocked_variant(on_hand=3)
    order, payment = start_paying(client, (variant, 1))
    failed = razorpay_api.pay(payment.provider_order_id, status="failed", error_description="Card declined")
    paid = razorpay_api.pay(payment.provider_order_id)

    for body in (
        razorpay_api.event("payment.failed", payment=failed),
        razorpay_api.event("payment.captured", payment=paid),
    ):
        deliver(body, razorpay_api.webhook_headers(body))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_payment_id == paid["id"]
    assert order.status == Order.Status.PAID
    assert _sales().count() == 1
    assert on_hand(variant) == 2
    assert_stock_consistent()


def test_a_captured_payment_for_a_different_amount_is_not_accepted(client, razorpay_api, deliver):
    order, payment = start_paying(client, (stocked_variant(on_hand=3, price=Decimal("499.50")), 1))
    short = razorpay_api.pay(payment.provider_order_id, amount=100)
    body = razorpay_api.event("payment.captured", payment=short)

    deliver(body, razorpay_api.webhook_headers(body))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.needs_attention


def test_events_we_do_not_act_on_are_stored_and_ignored(client, razorpay_api, deliver):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    body = razorpay_api.event(
        "payment.authorized", payment=razorpay_api.pay(payment.provider_order_id, status="authorized")
    )

    response = deliver(body, razorpay_api.webhook_headers(body))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda api, body: api.webhook_headers(body + b" "), id="body-changed-after-signing"),
        pytest.param(lambda api, body: api.webhook_headers(body, secret="not-our-webhook-secret"), id="wrong-secret"),
        pytest.param(
            lambda api, body: {**api.webhook_headers(body), "X-Razorpay-Signature": "0" * 64}, id="bad-signature"
        ),
        pytest.param(
            lambda api, body: {**api.webhook_headers(body), "X-Razorpay-Signature": "é" * 64}, id="non-ascii-signature"
        ),
        pytest.param(lambda api, body: {"X-Razorpay-Event-Id": "evt_1"}, id="no-signature"),
        pytest.param(lambda api, body: api.webhook_headers(body, event_id=None), id="no-event-id"),
    ],
)
def test_an_unverifiable_webhook_is_refused_and_nothing_is_stored(client, razorpay_api, deliver, spoil):
    order, payment = start_paying(client, (stocked_variant(on_hand=3), 1))
    body = razorpay_api.event("payment.captured", payment=razorpay_api.pay(payment.provider_order_id))

    response = deliver(body, spoil(razorpay_api, body))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_a_signed_body_that_is_not_an_event_is_refused(client, razorpay_api, deliver):
    for body in (b"not json", b"[1, 2]", b'{"payload": {}}'):
        response = deliver(body, razorpay_api.webhook_headers(body))
        assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
