"""The webhook inbox with the dummy gateway: every provider report is stored once under
(provider, event id) and processed once, however often it arrives; a report that cannot be
processed is recorded with its error and can be replayed once its cause is fixed."""

import pytest

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.gateways import GatewayError
from payments.gateways.base import InboxEvent
from payments.models import Payment, WebhookEvent
from payments.services import PaymentError, payment_start, webhook_process, webhook_receive, webhook_replay
from payments.tasks import process_webhook_event
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db


def start(order) -> Payment:
    payment, _action = payment_start(order=order, gateway="dummy")
    return payment


def complete_url(payment: Payment) -> str:
    return f"/payments/dummy/{payment.reference}/complete/"


def dummy_event(reference: str, *, event_type: str = "payment.succeeded", amount: str = "45.00") -> InboxEvent:
    """What the dummy page stores when the shopper presses "Pay"."""
    outcome = {"payment.succeeded": "pay", "payment.failed": "fail"}.get(event_type, event_type)
    return InboxEvent(
        event_id=f"{reference}:{outcome}",
        event_type=event_type,
        payload={"reference": reference, "amount": amount, "currency": "USD"},
    )


def _sales():
    return StockMovement.objects.filter(reason=StockMovement.Reason.SALE)


def test_the_dummy_pay_delivered_five_times_pays_the_order_once(client):
    shirt, socks = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    order = place_order((shirt, 2), (socks, 1))
    payment = start(order)

    responses = [client.post(complete_url(payment), {"outcome": "pay"}) for _ in range(5)]

    assert {r.status_code for r in responses} == {302}
    assert {r["Location"] for r in responses} == {order.get_guest_url()}
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert payment.status == Payment.Status.CAPTURED
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert sorted(_sales().values_list("variant_id", "quantity")) == sorted([(shirt.pk, -2), (socks.pk, -1)])
    assert (on_hand(shirt), on_hand(socks)) == (3, 4)
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_type, event.status, event.attempts) == (
        "dummy",
        "payment.succeeded",
        WebhookEvent.Status.PROCESSED,
        1,
    )
    assert_stock_consistent()


def test_processing_the_same_stored_event_five_times_applies_it_once():
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 2))
    payment = start(order)
    stored, created = webhook_receive(provider="dummy", event=dummy_event(payment.reference))
    assert created

    results = [webhook_process(event=stored) for _ in range(5)]

    assert {r.status for r in results} == {WebhookEvent.Status.PROCESSED}
    stored.refresh_from_db()
    assert stored.attempts == 1 and stored.processed_at is not None
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert order.events.filter(type=OrderEvent.Type.PAID).count() == 1
    assert _sales().count() == 1
    assert on_hand(variant) == 3
    assert_stock_consistent()


def test_the_same_event_received_again_is_stored_once_and_reported_as_a_duplicate():
    payment = start(place_order((stocked_variant(on_hand=5), 1)))

    first, created_first = webhook_receive(provider="dummy", event=dummy_event(payment.reference))
    again, created_again = webhook_receive(provider="dummy", event=dummy_event(payment.reference))

    assert (created_first, created_again) == (True, False)
    assert again.pk == first.pk
    assert WebhookEvent.objects.count() == 1


def test_a_failure_reported_after_the_payment_is_a_separate_event_that_unpays_nothing(client):
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 1))
    payment = start(order)
    client.post(complete_url(payment), {"outcome": "pay"})

    client.post(complete_url(payment), {"outcome": "fail"})

    assert WebhookEvent.objects.count() == 2
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.CAPTURED, Order.Status.PAID)
    assert on_hand(variant) == 4


def test_an_event_for_no_payment_of_ours_is_recorded_failed_with_its_error_and_attempts():
    stored, _ = webhook_receive(provider="dummy", event=dummy_event("no-such-reference"))

    for _ in range(2):
        with pytest.raises(PaymentError):
            webhook_process(event=stored)

    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.FAILED
    assert stored.attempts == 2
    assert stored.error == "PaymentError: No dummy payment matches no-such-reference."
    assert stored.processed_at is None


def test_the_task_records_a_failed_event_instead_of_raising_without_a_broker():
    stored, _ = webhook_receive(provider="dummy", event=dummy_event("no-such-reference"))

    assert process_webhook_event.delay(stored.pk).get() == WebhookEvent.Status.FAILED

    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (WebhookEvent.Status.FAILED, 1)


def test_a_failed_event_replayed_once_its_payment_exists_is_processed(django_capture_on_commit_callbacks):
    # The provider's report overtook the payment it is about (its row was not committed
    # yet): the event fails; once the payment is there, staff replay it.
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 1))
    early = Payment(order=order, gateway="dummy", amount=order.total, currency=order.currency)
    stored, _ = webhook_receive(provider="dummy", event=dummy_event(early.reference, amount="25.00"))
    with pytest.raises(PaymentError):
        webhook_process(event=stored)
    early.provider_order_id = early.reference
    early.save()  # the cause is fixed

    with django_capture_on_commit_callbacks(execute=True):
        webhook_replay(event=stored)

    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.error) == (WebhookEvent.Status.PROCESSED, 2, "")
    early.refresh_from_db()
    assert early.status == Payment.Status.CAPTURED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert on_hand(variant) == 4
    assert_stock_consistent()


def test_a_failed_event_replayed_once_its_gateway_is_enabled_again_is_processed(
    settings, django_capture_on_commit_callbacks
):
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 1))
    payment = start(order)
    stored, _ = webhook_receive(provider="dummy", event=dummy_event(payment.reference, amount="25.00"))
    settings.PAYMENT_GATEWAYS = []
    with pytest.raises(GatewayError):
        webhook_process(event=stored)
    stored.refresh_from_db()
    assert stored.error == "GatewayError: Unknown payment method 'dummy'."
    settings.PAYMENT_GATEWAYS = ["dummy"]

    with django_capture_on_commit_callbacks(execute=True):
        webhook_replay(event=stored)

    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_replaying_an_event_that_did_not_fail_changes_nothing(django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=5)
    payment = start(place_order((variant, 1)))
    stored, _ = webhook_receive(provider="dummy", event=dummy_event(payment.reference, amount="25.00"))
    webhook_process(event=stored)

    with django_capture_on_commit_callbacks(execute=True):
        webhook_replay(event=stored)

    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    assert _sales().count() == 1


def test_an_event_we_do_not_act_on_is_ignored():
    payment = start(place_order((stocked_variant(on_hand=5), 1)))
    stored, _ = webhook_receive(provider="dummy", event=dummy_event(payment.reference, event_type="payment.created"))

    stored = webhook_process(event=stored)

    assert stored.status == WebhookEvent.Status.IGNORED
    assert stored.processed_at is not None
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_the_webhook_door_refuses_unknown_providers_and_unsigned_bodies(client):
    assert client.post("/payments/webhooks/paypal/", data="{}", content_type="application/json").status_code == 404
    # The dummy gateway reports through its own page, never through a public webhook.
    response = client.post("/payments/webhooks/dummy/", data="{}", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert client.get("/payments/webhooks/dummy/").status_code == 405
    assert not WebhookEvent.objects.exists()
