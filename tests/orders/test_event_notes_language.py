"""The notes a shopper reads in their order's history are stored as a code and its params
and read in the shopper's language (issue 16): the customer's own cancellation reason reads
"By the customer: …" in English and in German what the German catalog says, with their words
as they wrote them; staff keep the English note. Notes written before codes were stored are
coded by the migration; a note a person wrote is shown as written."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from orders.models import NOTE_CANCELLED_BY_STAFF, CreditNote, Order, OrderEvent
from orders.services import order_cancel
from payments.models import Payment
from payments.services import payment_capture, payment_refund, payment_start
from tests.factories import UserFactory, stocked_variant
from tests.i18n import german
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db

BY_THE_CUSTOMER = "By the customer: %(reason)s"


def history(page: str) -> str:
    return page.split('class="timeline"')[1].split("</ol>")[0]


@pytest.fixture
def paid_order() -> Order:
    owner = UserFactory()
    order = place_order((stocked_variant(on_hand=5), 1))
    Order.objects.filter(pk=order.pk).update(user=owner)
    payment, _action = payment_start(order=order, gateway="dummy")
    payment_capture(payment=payment)
    return Order.objects.get(pk=order.pk)


def test_the_customers_cancellation_reason_reads_in_their_language(client, paid_order):
    client.force_login(paid_order.user)
    cancel = reverse("payments:order_cancel", args=[paid_order.access_token])
    client.post(cancel, {"reason": "Found it cheaper"}, HTTP_ACCEPT_LANGUAGE="de")

    with german({BY_THE_CUSTOMER: "Von Ihnen storniert: %(reason)s"}):
        german_page = client.get(paid_order.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english_page = client.get(paid_order.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Von Ihnen storniert: Found it cheaper" in history(german_page)
    assert "By the customer" not in history(german_page)
    assert "By the customer: Found it cheaper" in history(english_page)
    event = OrderEvent.objects.get(order=paid_order, type=OrderEvent.Type.CANCELLED)
    assert event.note == "By the customer: Found it cheaper"  # staff's timeline: English


def test_a_cancellation_by_staff_reads_in_the_shoppers_language(client):
    order = place_order((stocked_variant(on_hand=5), 1))
    order_cancel(order=order, reason_code=NOTE_CANCELLED_BY_STAFF, unpaid_only=True)

    with german({"Cancelled by staff": "Von unserem Team storniert"}):
        page = client.get(order.get_guest_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert "Von unserem Team storniert" in history(page)
    assert OrderEvent.objects.get(order=order, type=OrderEvent.Type.CANCELLED).note == "Cancelled by staff"


def test_staffs_own_words_are_shown_as_written(client):
    order = place_order((stocked_variant(on_hand=5), 1))
    order_cancel(order=order, reason="Adresse unzustellbar")

    with german({BY_THE_CUSTOMER: "Von Ihnen storniert: %(reason)s"}):
        page = client.get(order.get_guest_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert ": Adresse unzustellbar" in history(page)


def test_notes_written_before_codes_are_coded_by_the_migration_and_read_in_german(client):
    customer = place_order((stocked_variant(on_hand=5), 1))
    order_cancel(order=customer, reason="By the customer: Too slow")  # as the old code wrote it
    staff = place_order((stocked_variant(on_hand=5), 1))
    order_cancel(order=staff, reason="Cancelled by staff")
    other = place_order((stocked_variant(on_hand=5), 1))
    order_cancel(order=other, reason="Duplicate order")
    assert not OrderEvent.objects.exclude(code="").exists()

    migration = importlib.import_module("orders.migrations.0012_event_note_code")
    migration.code_old_cancellation_notes(apps, None)

    coded = {
        event.order_id: (event.code, event.params, event.note)
        for event in OrderEvent.objects.filter(type=OrderEvent.Type.CANCELLED)
    }
    assert coded == {
        customer.pk: ("cancelled_by_customer", {"reason": "Too slow"}, "By the customer: Too slow"),
        staff.pk: ("cancelled_by_staff", {"reason": ""}, "Cancelled by staff"),
        other.pk: ("", {}, "Duplicate order"),
    }
    with german({BY_THE_CUSTOMER: "Von Ihnen storniert: %(reason)s"}):
        page = client.get(customer.get_guest_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Von Ihnen storniert: Too slow" in history(page)


# The credit note states the reason in the order's language --------------------------------

CANCELLED_FOR = "Order cancelled: %(reason)s"


def german_paid_order() -> Order:
    order = place_order((stocked_variant(on_hand=5), 1))
    Order.objects.filter(pk=order.pk).update(language="de")
    payment, _action = payment_start(order=order, gateway="dummy")
    payment_capture(payment=payment)
    return Order.objects.get(pk=order.pk)


def test_a_german_orders_cancellation_credit_note_states_the_reason_in_german(client):
    order = german_paid_order()

    entries = {CANCELLED_FOR: "Bestellung storniert: %(reason)s", BY_THE_CUSTOMER: "Vom Kunden: %(reason)s"}
    with german(entries):
        # Whoever cancels, in whatever language: the document is the order's.
        client.post(
            reverse("payments:order_cancel", args=[order.access_token]),
            {"reason": "Falsche Größe"},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert CreditNote.objects.get(order=order).reason == "Bestellung storniert: Vom Kunden: Falsche Größe"
    event = OrderEvent.objects.get(order=order, type=OrderEvent.Type.CANCELLED)
    assert event.note == "By the customer: Falsche Größe"  # staff's timeline: English


def test_a_german_orders_refund_credit_note_says_refund_in_german():
    order = german_paid_order()
    payment = Payment.objects.get(order=order)

    with german({"Refund": "Erstattung"}):
        payment_refund(payment=payment, amount=Decimal("1.00"))

    assert CreditNote.objects.get(order=order).reason == "Erstattung"
