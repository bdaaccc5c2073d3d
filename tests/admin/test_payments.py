"""Payments in the admin: read-only payments, refunds and webhook events; the "Refund" page of
a payment (payments.services.payment_refund, with restock; one refund per form shown), the
"Send … again" action of the refunds list (refund_submit) and the "Replay selected events"
action of the webhook inbox (webhook_replay). All with the dummy gateway: no money moves."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from payments.gateways import GatewayError
from payments.gateways.base import InboxEvent
from payments.models import Payment, Refund, WebhookEvent
from payments.services import (
    PaymentError,
    payment_capture,
    payment_refund,
    payment_start,
    webhook_process,
    webhook_receive,
)
from tests.factories import UserFactory, stocked_variant
from tests.i18n import german
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import place_order
from tests.payments.helpers import refund_form_token, second_payment_of_a_paid_order

pytestmark = pytest.mark.django_db

WEBHOOKS = reverse("admin:payments_webhookevent_changelist")


def refund_url(payment: Payment) -> str:
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def change_url(payment: Payment) -> str:
    return reverse("admin:payments_payment_change", args=[payment.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def post_refund(client, payment: Payment, data: dict, **kwargs):
    """Posts the refund form as a browser does: `data` typed into the page just shown, with
    the form's own token."""
    return client.post(refund_url(payment), {"intent": refund_form_token(client, payment), **data}, **kwargs)


def paid(*lines) -> Payment:
    """A captured dummy payment of a new order of `lines` ((variant, quantity), …)."""
    payment, _action = payment_start(order=place_order(*lines), gateway="dummy")
    return payment_capture(payment=payment)


def dummy_event(reference: str, outcome: str = "pay", amount: str = "25.00") -> WebhookEvent:
    event, _created = webhook_receive(
        provider="dummy",
        event=InboxEvent(
            event_id=f"{reference}:{outcome}",
            event_type={"pay": "payment.succeeded", "fail": "payment.failed"}.get(outcome, f"payment.{outcome}"),
            payload={"reference": reference, "amount": amount, "currency": "USD"},
        ),
    )
    return event


# -- the payment page ------------------------------------------------------------------------


def test_the_payment_page_shows_references_money_and_refunds_read_only(staff_client):
    payment = paid((stocked_variant(on_hand=5), 1))
    payment_refund(payment=payment, amount=Decimal("5.00"), reason="Late delivery")

    response = staff_client.get(change_url(payment))

    assert response.status_code == 200
    page = response.content.decode()
    for text in (payment.reference, payment.provider_order_id, "25.00", "5.00", "Captured", "Late delivery"):
        assert text in page
    assert not response.context["adminform"].form.fields  # nothing editable
    (refunds,) = response.context["inline_admin_formsets"]
    assert not (refunds.has_add_permission or refunds.has_change_permission or refunds.has_delete_permission)
    assert [f.instance.amount for f in refunds.formset.forms] == [Decimal("5.00")]


def test_a_captured_payment_has_a_refund_button_and_a_pending_one_has_none(staff_client):
    captured = paid((stocked_variant(on_hand=5), 1))
    pending, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")

    assert refund_url(captured) in staff_client.get(change_url(captured)).content.decode()
    assert refund_url(pending) not in staff_client.get(change_url(pending)).content.decode()


def test_the_staff_message_stays_one_english_sentence_for_staff_reading_german(staff_client):
    pending, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")

    with german({"Pending": "Ausstehend"}):
        response = staff_client.get(refund_url(pending), follow=True, HTTP_ACCEPT_LANGUAGE="de")

    assert messages_of(response)[0].startswith(f"Payment {pending.reference} is pending with ")


def test_a_pending_payment_cannot_be_refunded(staff_client):
    pending, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")

    response = staff_client.get(refund_url(pending), follow=True)

    assert response.redirect_chain == [(change_url(pending), 302)]
    assert "nothing to refund" in messages_of(response)[0]
    assert not Refund.objects.exists()


# -- the refund page -------------------------------------------------------------------------


def test_the_refund_form_offers_what_is_left_and_a_restock_field_per_line(staff_client):
    shirt, socks = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    payment = paid((shirt, 2), (socks, 1))
    payment_refund(payment=payment, amount=Decimal("10.00"), reason="Goodwill")
    line = payment.order.lines.get(variant=shirt)

    response = staff_client.get(refund_url(payment))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["amount"].initial == Decimal("55.00")  # 2 × 20 + 20 + 5 shipping − 10
    restock = form.fields[f"restock_{line.pk}"]
    assert (restock.min_value, restock.max_value, form[f"restock_{line.pk}"].initial) == (0, 2, 0)
    assert len([name for name in form.fields if name.startswith("restock_")]) == 2


def test_a_full_refund_with_restock_refunds_the_order_and_puts_the_units_back(staff_client, staff):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    assert on_hand(variant) == 3

    response = post_refund(
        staff_client, payment, {"amount": "45.00", "reason": "Returned unworn", f"restock_{line.pk}": "2"}, follow=True
    )

    assert response.redirect_chain == [(change_url(payment), 302)]
    assert messages_of(response) == ["Refunded 45.00 USD; 2 unit(s) back on hand."]
    payment.refresh_from_db()
    order = Order.objects.get(pk=payment.order_id)
    line.refresh_from_db()
    assert payment.refunded_amount == Decimal("45.00")
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("45.00"))
    refund = Refund.objects.get()
    assert (refund.status, refund.actor, refund.reason, refund.restock) == (
        Refund.Status.SUCCEEDED,
        staff,
        "Returned unworn",
        {str(line.pk): 2},
    )
    assert on_hand(variant) == 5
    assert line.restocked_quantity == 2
    ret = StockMovement.objects.get(reason=StockMovement.Reason.RETURN)
    assert (ret.quantity, ret.actor, ret.reference) == (2, staff, order.number)
    assert order.events.filter(type=OrderEvent.Type.REFUNDED, actor=staff).count() == 1
    assert_stock_consistent()


def test_a_partial_refund_without_restock_leaves_the_stock_alone(staff_client):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))

    response = post_refund(staff_client, payment, {"amount": "5.00", "reason": "Shipping refunded"})

    assert response.status_code == 302
    order = Order.objects.get(pk=payment.order_id)
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_REFUNDED, Decimal("5.00"))
    assert Refund.objects.get().restock == {}
    assert on_hand(variant) == 3
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.RETURN).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"amount": "0", "reason": "x"},
        {"amount": "-5", "reason": "x"},
        {"amount": "45.01", "reason": "x"},  # more than was taken
        {"amount": "abc", "reason": "x"},
        {"amount": "", "reason": "x"},
        {"amount": "1.005", "reason": "x"},  # finer than a cent
        {"amount": "9" * 20, "reason": "x"},
        {"amount": "5.00", "reason": ""},  # no reason
        {"amount": "5.00", "reason": "x" * 256},
        {"amount": "5.00", "reason": "x", "restock": "3"},  # more than were sold
        {"amount": "5.00", "reason": "x", "restock": "-1"},
        {"amount": "5.00", "reason": "x", "restock": "one"},
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(staff_client, data):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    if "restock" in data:
        data = {**data, f"restock_{line.pk}": data.pop("restock")}

    response = post_refund(staff_client, payment, data)

    assert response.status_code == 200
    assert response.context["form"].errors
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert not Refund.objects.exists()
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PAID
    assert on_hand(variant) == 3


def test_refunding_more_than_is_left_after_an_earlier_refund_is_a_form_error(staff_client):
    payment = paid((stocked_variant(on_hand=5), 2))
    payment_refund(payment=payment, amount=Decimal("40.00"), reason="Most of it")

    response = post_refund(staff_client, payment, {"amount": "5.01", "reason": "x"})

    assert response.status_code == 200
    assert "At most 5.00 USD is left to refund." in response.context["form"].errors["amount"]
    assert Refund.objects.count() == 1


def test_units_restocked_already_cannot_be_restocked_again(staff_client):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    payment_refund(payment=payment, amount=Decimal("20.00"), reason="One back", restock={line.pk: 1})

    form = staff_client.get(refund_url(payment)).context["form"]
    assert form.fields[f"restock_{line.pk}"].max_value == 1
    response = post_refund(staff_client, payment, {"amount": "5.00", "reason": "x", f"restock_{line.pk}": "2"})

    assert response.status_code == 200
    assert response.context["form"].errors[f"restock_{line.pk}"]
    line.refresh_from_db()
    assert line.restocked_quantity == 1
    assert on_hand(variant) == 4


def test_a_refund_the_gateway_cannot_make_is_a_form_error_not_a_500(staff_client, settings):
    variant = stocked_variant(on_hand=5)
    payment = paid((variant, 2))
    line = payment.order.lines.get()
    settings.PAYMENT_GATEWAYS = []  # the gateway was switched off since the payment

    response = post_refund(staff_client, payment, {"amount": "45.00", "reason": "x", f"restock_{line.pk}": "2"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The dummy gateway is not enabled."]
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert Refund.objects.get().status == Refund.Status.FAILED
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PAID
    assert on_hand(variant) == 3


def test_a_rejected_payment_can_be_refunded_but_offers_no_restock(
    staff_client, settings, django_capture_on_commit_callbacks
):
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 1))
    second = second_payment_of_a_paid_order(order)
    # The automatic refund cannot be made (the gateway was switched off meanwhile): it fails,
    # and the amount is free again for staff to refund by hand.
    settings.PAYMENT_GATEWAYS = []
    with django_capture_on_commit_callbacks(execute=True):
        second = payment_capture(payment=second)
    settings.PAYMENT_GATEWAYS = ["dummy"]
    assert second.status == Payment.Status.REJECTED
    assert Refund.objects.get(payment=second).status == Refund.Status.FAILED

    form = staff_client.get(refund_url(second)).context["form"]
    assert set(form.fields) == {"amount", "reason", "intent"}
    response = post_refund(staff_client, second, {"amount": "25.00", "reason": "Paid twice"})

    assert response.status_code == 302
    second.refresh_from_db()
    assert second.refunded_amount == Decimal("25.00")
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID  # its own payment stands
    assert on_hand(variant) == 4


def test_staff_without_the_refund_permission_cannot_refund(client):
    payment = paid((stocked_variant(on_hand=5), 1))
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(clerk)

    assert client.get(change_url(payment)).status_code == 200
    assert refund_url(payment) not in client.get(change_url(payment)).content.decode()
    assert client.get(refund_url(payment)).status_code == 403
    assert client.post(refund_url(payment), {"amount": "25.00", "reason": "x"}).status_code == 403
    assert not Refund.objects.exists()


def test_shoppers_are_sent_to_the_admin_login_from_the_refund_page(client):
    payment = paid((stocked_variant(on_hand=5), 1))
    client.force_login(UserFactory())
    response = client.post(refund_url(payment), {"amount": "25.00", "reason": "x"})
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    assert not Refund.objects.exists()


# -- the webhook inbox -----------------------------------------------------------------------


def test_the_inbox_lists_events_and_filters_by_status_provider_and_type(staff_client):
    payment, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")
    webhook_process(event=dummy_event(payment.reference))
    with pytest.raises(PaymentError):
        webhook_process(event=dummy_event("no-such-reference"))

    listing = staff_client.get(WEBHOOKS)
    assert listing.context["cl"].result_count == 2
    assert "No dummy payment matches no-such-reference" in listing.content.decode()
    for query, count in [
        ({"status__exact": "failed"}, 1),
        ({"status__exact": "processed"}, 1),
        ({"provider": "dummy"}, 2),
        ({"event_type": "payment.succeeded"}, 2),
        ({"q": f"{payment.reference}:pay"}, 1),
    ]:
        response = staff_client.get(WEBHOOKS, query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == count, query


def test_replaying_a_failed_event_after_its_cause_is_fixed_processes_it(
    staff_client, settings, django_capture_on_commit_callbacks
):
    variant = stocked_variant(on_hand=5)
    payment, _ = payment_start(order=place_order((variant, 1)), gateway="dummy")
    event = dummy_event(payment.reference)
    settings.PAYMENT_GATEWAYS = []  # switched off by mistake when the event came in
    with pytest.raises(GatewayError):
        webhook_process(event=event)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    settings.PAYMENT_GATEWAYS = ["dummy"]  # fixed

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(WEBHOOKS, {"action": "replay_events", "_selected_action": [event.pk]}, follow=True)

    assert messages_of(response) == ["Queued 1 event(s) for processing again: 1 failed. The list shows how each ends."]
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (WebhookEvent.Status.PROCESSED, 2, "")
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PAID
    assert on_hand(variant) == 4


def test_replay_leaves_events_that_did_not_fail_alone_and_says_so(staff_client, django_capture_on_commit_callbacks):
    payment, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")
    done = webhook_process(event=dummy_event(payment.reference))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(WEBHOOKS, {"action": "replay_events", "_selected_action": [done.pk]}, follow=True)

    assert messages_of(response) == ["1 processed event(s) were left as they are: they have done their work."]
    done.refresh_from_db()
    assert (done.status, done.attempts) == (WebhookEvent.Status.PROCESSED, 1)


def test_staff_without_the_replay_permission_do_not_get_the_action(client):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(clerk)
    response = client.get(WEBHOOKS)
    assert response.status_code == 200
    assert "replay_events" not in response.content.decode()


def test_webhook_events_and_refunds_cannot_be_changed_in_the_admin(staff_client):
    payment = paid((stocked_variant(on_hand=5), 1))
    refund = payment_refund(payment=payment, amount=Decimal("1.00"), reason="x")
    event = dummy_event("some-reference")
    for url in (
        reverse("admin:payments_webhookevent_change", args=[event.pk]),
        reverse("admin:payments_refund_change", args=[refund.pk]),
    ):
        response = staff_client.get(url)
        assert response.status_code == 200
        assert not response.context["adminform"].form.fields


# -- orders: attention and refunds ----------------------------------------------------------


def test_the_order_list_shows_and_filters_orders_that_need_attention(staff_client, django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=1)
    calm = paid((variant, 1)).order
    order = place_order((stocked_variant(on_hand=1), 1))
    payment, _ = payment_start(order=order, gateway="dummy")
    with django_capture_on_commit_callbacks(execute=True):
        payment_capture(payment=payment, amount_minor=1, currency="USD")  # wrong amount: flagged

    listing = staff_client.get(reverse("admin:orders_order_changelist"), {"needs_attention__exact": "1"})

    assert [o.pk for o in listing.context["cl"].result_list] == [order.pk]
    assert calm.pk not in [o.pk for o in listing.context["cl"].result_list]
    assert listing.content.decode().count('<span class="needs-attention">Needs attention</span>') == 1


def test_the_order_page_shows_refunded_total_and_links_to_its_payments(staff_client):
    payment = paid((stocked_variant(on_hand=5), 1))
    payment_refund(payment=payment, amount=Decimal("5.00"), reason="x")

    response = staff_client.get(reverse("admin:orders_order_change", args=[payment.order_id]))

    page = response.content.decode()
    assert change_url(payment) in page and payment.reference in page
    assert "5.00" in page and "Partially refunded" in page
    listing_url = reverse("admin:payments_payment_changelist") + f"?order__id__exact={payment.order_id}"
    assert listing_url in page
    listing = staff_client.get(listing_url)
    assert listing.status_code == 200
    assert [p.pk for p in listing.context["cl"].result_list] == [payment.pk]


# -- one refund per form, and refunds sent again ---------------------------------------------


def test_the_same_refund_form_posted_twice_makes_one_refund_and_says_so(staff_client):
    payment = paid((stocked_variant(on_hand=5), 2))
    data = {"intent": refund_form_token(staff_client, payment), "amount": "5.00", "reason": "Shipping refunded"}

    first = staff_client.post(refund_url(payment), data, follow=True)
    again = staff_client.post(refund_url(payment), data, follow=True)

    assert messages_of(first) == ["Refunded 5.00 USD."]
    assert messages_of(again) == ["Refunded 5.00 USD."]
    assert again.redirect_chain == [(change_url(payment), 302)]
    payment.refresh_from_db()
    assert Refund.objects.count() == 1
    assert payment.refunded_amount == Decimal("5.00")
    # A page shown anew is a new form: a second refund on purpose is still possible.
    assert post_refund(staff_client, payment, {"amount": "5.00", "reason": "More"}).status_code == 302
    assert Refund.objects.count() == 2


def test_a_refund_form_with_a_tampered_token_is_a_form_error(staff_client):
    payment = paid((stocked_variant(on_hand=5), 2))

    response = staff_client.post(refund_url(payment), {"intent": "x' OR 1=1", "amount": "5.00", "reason": "x"})

    assert response.status_code == 200
    assert response.context["form"].errors["intent"] == ["This form has expired; reload the page."]
    assert "This form has expired; reload the page." in response.content.decode()
    assert not Refund.objects.exists()


def test_an_automatic_refund_waiting_for_a_worker_holds_its_amount_and_staff_can_send_it_now(staff_client):
    variant = stocked_variant(on_hand=5)
    order = place_order((variant, 1))
    second = second_payment_of_a_paid_order(order)
    # No on_commit callbacks run here: the automatic refund's task is still waiting for a
    # worker. Its intent is written already and holds the amount: no second refund by hand.
    second = payment_capture(payment=second)
    automatic = Refund.objects.get(payment=second)
    assert (automatic.status, automatic.attempts, automatic.amount) == (Refund.Status.PENDING, 0, Decimal("25.00"))
    response = staff_client.get(refund_url(second), follow=True)
    assert "nothing to refund" in messages_of(response)[0]

    response = staff_client.post(
        reverse("admin:payments_refund_changelist"),
        {"action": "send_again", "_selected_action": [automatic.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Sent 1 refund(s) again: now 1 succeeded."]
    automatic.refresh_from_db()
    second.refresh_from_db()
    assert (automatic.status, automatic.attempts) == (Refund.Status.SUCCEEDED, 1)
    assert second.refunded_amount == Decimal("25.00")
    assert Refund.objects.count() == 1


def test_replay_queues_every_event_that_was_not_processed_and_says_what_each_was(
    staff_client, settings, django_capture_on_commit_callbacks
):
    payment, _ = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")
    done = webhook_process(event=dummy_event(payment.reference))
    ignored = webhook_process(event=dummy_event(payment.reference, outcome="created"))  # not an event we act on
    pending = dummy_event("another-reference")  # stored; its processing was never queued
    failed = dummy_event("no-such-reference", outcome="fail")
    with pytest.raises(PaymentError):
        webhook_process(event=failed)
    assert ignored.status == WebhookEvent.Status.IGNORED
    picked = [done.pk, ignored.pk, pending.pk, failed.pk]

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(WEBHOOKS, {"action": "replay_events", "_selected_action": picked}, follow=True)

    assert messages_of(response) == [
        "Queued 3 event(s) for processing again: 1 failed, 1 ignored, 1 pending. The list shows how each ends.",
        "1 processed event(s) were left as they are: they have done their work.",
    ]
    attempts = dict(WebhookEvent.objects.values_list("pk", "attempts"))
    assert (attempts[done.pk], attempts[ignored.pk], attempts[pending.pk], attempts[failed.pk]) == (1, 2, 1, 2)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_the_refund_form_makes_one_refund_even_when_both_clicks_land_at_once(staff):
    for _ in range(3):
        payment = paid((stocked_variant(on_hand=5), 2))
        browsers = [Client(), Client()]
        for browser in browsers:
            browser.force_login(staff)
        data = {"intent": refund_form_token(browsers[0], payment), "amount": "5.00", "reason": "Shipping refunded"}

        url = refund_url(payment)
        outcomes = run_together(
            2, lambda i, browsers=browsers, url=url, data=data: browsers[i].post(url, data).status_code
        )

        assert [(o.error, o.value) for o in outcomes] == [(None, 302), (None, 302)]
        payment.refresh_from_db()
        assert Refund.objects.filter(payment=payment).count() == 1
        assert payment.refunded_amount == Decimal("5.00")
