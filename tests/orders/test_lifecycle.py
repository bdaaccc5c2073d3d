"""The order status machine: every status change goes through one table
(orders.services.ORDER_TRANSITIONS). Each allowed move works through its service and writes
its event; each move the table does not list is refused and changes nothing; applying the
same change twice changes nothing the second time. Orders are archived, never deleted."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from inventory.models import StockMovement
from orders.models import Order, OrderEvent
from orders.services import (
    ORDER_TRANSITIONS,
    OrderStateError,
    order_archive,
    order_cancel,
    order_flag,
    order_mark_delivered,
    order_mark_paid,
    order_mark_payment_failed,
    order_record_refund,
    order_ship,
    orders_expire_overdue,
)
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)
S = Order.Status
E = OrderEvent.Type

# The lifecycle as the shop promises it, written out in full: the table must say exactly this.
EXPECTED_TRANSITIONS = {
    (S.PENDING_PAYMENT, S.PAID),
    (S.PENDING_PAYMENT, S.PAYMENT_FAILED),
    (S.PENDING_PAYMENT, S.EXPIRED),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.PAYMENT_FAILED, S.PAID),
    (S.EXPIRED, S.PAID),
    (S.PAID, S.PARTIALLY_FULFILLED),
    (S.PAID, S.FULFILLED),
    (S.PAID, S.CANCELLED),
    (S.PAID, S.PARTIALLY_REFUNDED),
    (S.PAID, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_FULFILLED),
    (S.PARTIALLY_REFUNDED, S.FULFILLED),
    (S.PARTIALLY_REFUNDED, S.CANCELLED),
    (S.PARTIALLY_REFUNDED, S.REFUNDED),
    (S.PARTIALLY_FULFILLED, S.FULFILLED),
    (S.FULFILLED, S.DELIVERED),
    # A refund that failed after it succeeded is taken back (order_record_refund).
    (S.PARTIALLY_REFUNDED, S.PAID),
    (S.REFUNDED, S.PARTIALLY_REFUNDED),
    (S.REFUNDED, S.PAID),
}
# The moves back towards paid that only a refund taken back makes: not a second payment.
REFUND_TAKEN_BACK = {(S.PARTIALLY_REFUNDED, S.PAID), (S.REFUNDED, S.PARTIALLY_REFUNDED), (S.REFUNDED, S.PAID)}
# A refund of a shipped or delivered order is recorded without changing its status.
KEEP_STATUS_ON_REFUND = {S.PARTIALLY_FULFILLED, S.FULFILLED, S.DELIVERED}


def _ship(order: Order, units: int, tracking: str = "TRACK-1"):
    line = order.lines.get()
    return order_ship(order=order, lines={line.pk: units}, carrier="DHL", tracking_number=tracking)


def order_in(status: str) -> Order:
    """A new order of one line of 2 units, brought to `status` through the services only."""
    order = place_order((stocked_variant(on_hand=10), 2))
    if status == S.PENDING_PAYMENT:
        return order
    if status == S.PAYMENT_FAILED:
        return order_mark_payment_failed(order=order, note="declined")
    if status == S.EXPIRED:
        lapse(order)
        orders_expire_overdue()
        return Order.objects.get(pk=order.pk)
    if status == S.CANCELLED:
        return order_cancel(order=order, reason="changed my mind")
    order = order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)
    if status == S.PARTIALLY_REFUNDED:
        order = order_record_refund(order=order, refunded_total=Decimal("1.00"))
    elif status == S.REFUNDED:
        order = order_record_refund(order=order, refunded_total=order.total)
    elif status == S.PARTIALLY_FULFILLED:
        _ship(order, 1)
    elif status in (S.FULFILLED, S.DELIVERED):
        _ship(order, 2)
        if status == S.DELIVERED:
            order_mark_delivered(order=order)
    order = Order.objects.get(pk=order.pk)
    assert order.status == status
    return order


def attempt(order: Order, target: str) -> None:
    """Asks the service that moves an order to `target` to do so."""
    if (order.status, target) in REFUND_TAKEN_BACK:
        order_record_refund(order=order, refunded_total=Decimal("0") if target == S.PAID else Decimal("2.00"))
    elif target == S.PAID:
        order_mark_paid(order=order, reference="pay_2", reservation_ttl=TTL)
    elif target == S.PAYMENT_FAILED:
        order_mark_payment_failed(order=order, note="declined")
    elif target == S.EXPIRED:
        lapse(order)
        orders_expire_overdue()
    elif target == S.CANCELLED:
        order_cancel(order=order, reason="no longer needed")
    elif target == S.PARTIALLY_REFUNDED:
        order_record_refund(order=order, refunded_total=Decimal("2.00"))
    elif target == S.REFUNDED:
        order_record_refund(order=order, refunded_total=order.total)
    elif target == S.PARTIALLY_FULFILLED:
        _ship(order, 1, tracking="TRACK-2")
    elif target == S.FULFILLED:
        # What is left: 1 unit after a partial shipment, else both (the same request when
        # it is sent again).
        _ship(order, 1 if order.status == S.PARTIALLY_FULFILLED else 2, tracking="TRACK-2")
    elif target == S.DELIVERED:
        order_mark_delivered(order=order)
    else:  # pragma: no cover
        raise AssertionError(target)


EVENT_OF = {
    S.PAID: E.PAID,
    S.PAYMENT_FAILED: E.PAYMENT_FAILED,
    S.EXPIRED: E.EXPIRED,
    S.CANCELLED: E.CANCELLED,
    S.PARTIALLY_REFUNDED: E.REFUNDED,
    S.REFUNDED: E.REFUNDED,
    S.PARTIALLY_FULFILLED: E.SHIPPED,
    S.FULFILLED: E.SHIPPED,
    S.DELIVERED: E.DELIVERED,
}

# Every move between two statuses, except into pending_payment: only order_create makes an
# order pending (the table lists no way back to it, and no service offers one).
ALL_MOVES = [
    (source, target) for source in S.values for target in S.values if source != target and target != S.PENDING_PAYMENT
]


def test_the_table_lists_exactly_the_promised_transitions_for_every_status():
    assert set(ORDER_TRANSITIONS) == set(S.values)
    listed = {(source, target) for source, targets in ORDER_TRANSITIONS.items() for target in targets}
    assert listed == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(("source", "target"), sorted(EXPECTED_TRANSITIONS), ids=lambda status: str(status))
def test_every_allowed_transition_moves_the_order_and_writes_its_event(source, target):
    order = order_in(source)
    events_before = order.events.count()

    attempt(order, target)

    order = Order.objects.get(pk=order.pk)
    assert order.status == target
    new_events = list(order.events.order_by("pk").values_list("type", flat=True)[events_before:])
    assert (E.REFUNDED if (source, target) in REFUND_TAKEN_BACK else EVENT_OF[target]) in new_events
    assert_stock_consistent()


@pytest.mark.parametrize("status", [S.PARTIALLY_REFUNDED, S.REFUNDED], ids=str)
def test_a_refund_taken_back_makes_the_order_paid_again_without_a_second_sale(status):
    order = order_in(status)
    sales = StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count()

    # A second payment cannot pay it again (its stock was sold once) …
    with pytest.raises(OrderStateError):
        order_mark_paid(order=order, reference="pay_2", reservation_ttl=TTL)
    # … only the refund taken back brings it back to paid (order_record_refund).
    order = order_record_refund(order=order, refunded_total=Decimal("0"), note="the refund failed")

    assert (order.status, order.refunded_total) == (S.PAID, Decimal("0"))
    assert order.events.filter(type=E.PAID).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == sales
    assert_stock_consistent()


@pytest.mark.parametrize(
    ("source", "target"),
    [move for move in ALL_MOVES if move not in EXPECTED_TRANSITIONS],
    ids=lambda status: str(status),
)
def test_every_other_transition_is_refused_and_changes_nothing(source, target):
    order = order_in(source)
    events_before = order.events.count()

    if target == S.EXPIRED:
        attempt(order, target)  # the sweep skips what the table does not let expire
    elif target in (S.REFUNDED, S.PARTIALLY_REFUNDED) and source in KEEP_STATUS_ON_REFUND:
        attempt(order, target)  # the money is recorded; the status stays (tested below)
        events_before += 1
    else:
        with pytest.raises(OrderStateError):
            attempt(order, target)

    order = Order.objects.get(pk=order.pk)
    assert order.status == source
    assert order.events.count() == events_before
    assert_stock_consistent()


@pytest.mark.parametrize("target", sorted(set(S.values) - {S.PENDING_PAYMENT}), ids=str)
def test_applying_the_same_transition_twice_changes_nothing_the_second_time(target):
    source = next(src for src, tgt in sorted(EXPECTED_TRANSITIONS) if tgt == target)
    order = order_in(source)
    attempt(order, target)
    order = Order.objects.get(pk=order.pk)
    events, shipments = order.events.count(), order.shipments.count()

    attempt(order, target)

    order = Order.objects.get(pk=order.pk)
    assert order.status == target
    assert (order.events.count(), order.shipments.count()) == (events, shipments)
    assert_stock_consistent()


def test_a_refund_after_shipping_is_recorded_and_the_order_still_says_it_shipped():
    order = order_in(S.FULFILLED)

    order_record_refund(order=order, refunded_total=Decimal("5.00"), note="Goodwill")

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (S.FULFILLED, Decimal("5.00"))
    assert order.events.filter(type=E.REFUNDED, note="5.00 USD refunded in all: Goodwill").exists()
    order_mark_delivered(order=order)
    assert Order.objects.get(pk=order.pk).status == S.DELIVERED


def test_a_refund_of_an_order_that_was_never_paid_is_refused():
    order = order_in(S.CANCELLED)  # cancelled before payment

    with pytest.raises(OrderStateError):
        order_record_refund(order=order, refunded_total=Decimal("1.00"))


# -- archiving ------------------------------------------------------------------------------


def test_archiving_a_closed_order_sets_archived_at_with_an_event_and_changes_nothing_else():
    staff = UserFactory(is_staff=True)
    order = order_in(S.DELIVERED)

    order = order_archive(order=order, actor=staff)
    order_archive(order=order, actor=staff)  # twice: harmless

    order = Order.objects.get(pk=order.pk)
    assert order.archived_at is not None
    assert order.status == S.DELIVERED
    assert list(order.events.filter(note="Archived").values_list("type", "actor")) == [(E.NOTE, staff.pk)]


@pytest.mark.parametrize("status", [S.PENDING_PAYMENT, S.PAID, S.PARTIALLY_FULFILLED, S.PARTIALLY_REFUNDED], ids=str)
def test_an_order_that_still_needs_work_cannot_be_archived(status):
    order = order_in(status)

    with pytest.raises(OrderStateError):
        order_archive(order=order)

    assert Order.objects.get(pk=order.pk).archived_at is None


def test_a_late_payment_brings_an_archived_expired_order_back():
    order = order_archive(order=order_in(S.EXPIRED))

    order_mark_paid(order=order, reference="late", reservation_ttl=TTL)

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.archived_at) == (S.PAID, None)


def test_flagging_an_archived_order_brings_it_back():
    order = order_archive(order=order_in(S.CANCELLED))

    order_flag(order=order, reason="Customer called")

    assert Order.objects.get(pk=order.pk).archived_at is None


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(email="boss@example.com", is_staff=True, is_superuser=True))
    return client


CHANGELIST = reverse("admin:orders_order_changelist")


def test_orders_are_never_deleted_in_the_admin(staff_client):
    order = order_in(S.CANCELLED)
    request = staff_client.get(CHANGELIST).wsgi_request
    model_admin = admin.site.get_model_admin(Order)

    assert model_admin.has_delete_permission(request, order) is False
    assert "delete_selected" not in model_admin.get_actions(request)
    assert staff_client.post(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403


def test_the_archive_action_archives_closed_orders_and_reports_the_others(staff_client):
    closed, busy = order_in(S.CANCELLED), order_in(S.PAID)

    response = staff_client.post(
        CHANGELIST, {"action": "archive_orders", "_selected_action": [closed.pk, busy.pk]}, follow=True
    )

    messages = [str(m) for m in response.context["messages"]]
    assert "Archived 1 order(s)." in messages
    assert f"Order {busy.number} is paid; cannot archive it while it still needs work." in messages
    assert Order.objects.get(pk=closed.pk).archived_at is not None
    assert Order.objects.get(pk=busy.pk).archived_at is None


def test_the_order_list_hides_archived_orders_unless_asked(staff_client):
    archived = order_archive(order=order_in(S.CANCELLED))
    live = order_in(S.PAID)

    def listed(**params) -> set[str]:
        response = staff_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return {order.number for order in response.context["cl"].result_list}

    assert listed() == {live.number}
    assert listed(archived="no") == {live.number}
    assert listed(archived="yes") == {archived.number}
    assert listed(archived="all") == {live.number, archived.number}
    # Looking an order up by its number finds it, archived or not.
    assert listed(q=archived.number) == {archived.number}
