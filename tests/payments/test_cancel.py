"""Cancelling an order (payments.services.order_cancel_and_refund): an unpaid order releases
its reservation; a paid one that has not shipped puts its units back on hand through the
ledger (RESTOCK, once) and is refunded through its gateway (dummy here: no money moves, its
refunds succeed). Twice is harmless; a shipped order is refused. The shopper's "Cancel order"
button and the staff cancel page go through it."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from orders.services import OrderStateError, order_ship
from payments.models import Payment, Refund
from payments.services import order_cancel_and_refund, payment_capture, payment_refund, payment_start
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db


def paid(*lines, user=None) -> Order:
    """A new order of `lines` ((variant, quantity), …), paid through the dummy gateway."""
    order = place_order(*lines)
    if user is not None:
        Order.objects.filter(pk=order.pk).update(user=user)
    payment, _action = payment_start(order=order, gateway="dummy")
    payment_capture(payment=payment)
    return Order.objects.get(pk=order.pk)


def restocks():
    return StockMovement.objects.filter(reason=StockMovement.Reason.RESTOCK)


def test_cancelling_an_unpaid_order_releases_its_reservation_and_refunds_nothing():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 2))

    cancellation = order_cancel_and_refund(order=order, reason="Ordered by mistake")

    assert cancellation.order.status == Order.Status.CANCELLED
    assert (cancellation.refunds, cancellation.refund_errors) == ([], [])
    assert Reservation.objects.get(owner=order.reservation_owner).status == Reservation.Status.RELEASED
    assert availability([variant.pk]) == {variant.pk: 3}
    assert not restocks().exists()
    assert order.events.get(type=OrderEvent.Type.CANCELLED).note == "Ordered by mistake"
    assert_stock_consistent()


def test_cancelling_a_paid_order_restocks_every_line_through_the_ledger_and_refunds_it_in_full():
    staff = UserFactory(is_staff=True)
    shirt, socks = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    order = paid((shirt, 2), (socks, 1))
    assert (on_hand(shirt), on_hand(socks)) == (3, 4)

    cancellation = order_cancel_and_refund(order=order, actor=staff, reason="Out of time")

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (Order.Status.CANCELLED, order.total)
    # Stock: back on hand through RESTOCK rows referencing the order, each line once.
    assert (on_hand(shirt), on_hand(socks)) == (5, 5)
    assert sorted(restocks().values_list("variant_id", "quantity", "reference", "actor")) == sorted(
        [(shirt.pk, 2, order.number, staff.pk), (socks.pk, 1, order.number, staff.pk)]
    )
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.RETURN).exists()
    assert sorted(order.lines.values_list("quantity", "restocked_quantity")) == [(1, 1), (2, 2)]
    # Money: the whole payment refunded through the gateway, with no restock of its own.
    (refund,) = cancellation.refunds
    payment = Payment.objects.get(order=order)
    assert (refund.status, refund.amount, refund.restock, refund.actor) == (
        Refund.Status.SUCCEEDED,
        order.total,
        {},
        staff,
    )
    assert refund.reason == "Order cancelled: Out of time"
    assert payment.refunded_amount == payment.amount
    assert cancellation.refunded == order.total
    types = list(order.events.values_list("type", flat=True))
    assert types[-3:] == [OrderEvent.Type.CANCELLED, OrderEvent.Type.RESTOCKED, OrderEvent.Type.REFUNDED]
    assert_stock_consistent()


def test_cancelling_a_partly_refunded_order_restocks_and_refunds_only_what_is_left():
    shirt = stocked_variant(on_hand=5)
    order = paid((shirt, 3))
    line = order.lines.get()
    payment = Payment.objects.get(order=order)
    payment_refund(payment=payment, amount=Decimal("20.00"), reason="One was damaged", restock={line.pk: 1})

    cancellation = order_cancel_and_refund(order=order, reason="Rest not needed")

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (Order.Status.CANCELLED, order.total)
    assert cancellation.refunded == order.total - Decimal("20.00")
    assert list(restocks().values_list("quantity", flat=True)) == [2]
    assert on_hand(shirt) == 5
    assert order.lines.get().restocked_quantity == 3
    assert_stock_consistent()


def test_cancelling_twice_is_harmless():
    shirt = stocked_variant(on_hand=5)
    order = paid((shirt, 2))
    order_cancel_and_refund(order=order, reason="first")
    events, movements = order.events.count(), StockMovement.objects.count()

    again = order_cancel_and_refund(order=order, reason="second")

    assert (again.refunds, again.refund_errors) == ([], [])
    assert Refund.objects.count() == 1
    assert (order.events.count(), StockMovement.objects.count()) == (events, movements)
    assert on_hand(shirt) == 5
    assert_stock_consistent()


def test_a_shipped_order_is_refused_and_nothing_is_restocked_or_refunded():
    shirt = stocked_variant(on_hand=5)
    order = paid((shirt, 2))
    order_ship(order=order, lines={order.lines.get().pk: 1}, carrier="UPS", tracking_number="1Z")

    with pytest.raises(OrderStateError, match="cannot cancel it"):
        order_cancel_and_refund(order=order, reason="too late")

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (Order.Status.PARTIALLY_FULFILLED, Decimal("0"))
    assert not Refund.objects.exists()
    assert not restocks().exists()


def test_a_refund_the_gateway_refuses_leaves_the_order_cancelled_and_flagged_and_can_be_retried(settings):
    order = paid((stocked_variant(on_hand=5), 1))
    settings.PAYMENT_GATEWAYS = []  # the provider is out of reach: the refund cannot be made

    cancellation = order_cancel_and_refund(order=order, reason="Changed my mind")

    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.CANCELLED
    assert order.needs_attention
    assert len(cancellation.refund_errors) == 1
    assert list(Refund.objects.values_list("status", flat=True)) == [Refund.Status.FAILED]

    settings.PAYMENT_GATEWAYS = ["dummy"]
    retried = order_cancel_and_refund(order=order, reason="Changed my mind")

    assert [refund.status for refund in retried.refunds] == [Refund.Status.SUCCEEDED]
    assert Order.objects.get(pk=order.pk).refunded_total == order.total
    assert restocks().count() == 1  # the retry restocks nothing more


def test_the_shopper_is_emailed_once_the_cancellation_has_committed(django_capture_on_commit_callbacks):
    order = paid((stocked_variant(on_hand=5), 1))

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel_and_refund(order=order, reason="Changed my mind")
        order_cancel_and_refund(order=order, reason="Changed my mind")

    cancelled = [m for m in mail.outbox if m.subject == f"Order {order.number} has been cancelled"]
    assert len(cancelled) == 1
    assert cancelled[0].to == [order.email]


# -- the shopper's "Cancel order" button ---------------------------------------------------


def cancel_url(order: Order) -> str:
    return reverse("payments:order_cancel", args=[order.access_token])


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def owner(db):
    return UserFactory()


def test_the_owner_sees_the_form_and_cancels_their_paid_order_with_a_refund(client, owner):
    order = paid((stocked_variant(on_hand=5), 1), user=owner)
    client.force_login(owner)
    assert cancel_url(order) in client.get(order.get_absolute_url()).content.decode()

    response = client.post(cancel_url(order), {"reason": "Found it cheaper"}, follow=True)

    assert response.redirect_chain[-1][0] == order.get_absolute_url()
    assert page_messages(response) == [
        f"Order {order.number} is cancelled. We are refunding ${order.total} to your payment method."
    ]
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (Order.Status.CANCELLED, order.total)
    event = order.events.get(type=OrderEvent.Type.CANCELLED)
    assert (event.actor, event.note) == (owner, "By the customer: Found it cheaper")
    assert cancel_url(order) not in response.content.decode()  # no second button


def test_a_guest_with_the_link_cancels_an_unpaid_order(client):
    order = place_order((stocked_variant(on_hand=5), 1))
    assert cancel_url(order) in client.get(order.get_guest_url()).content.decode()

    response = client.post(cancel_url(order), {"reason": "Wrong size"}, follow=True)

    assert response.redirect_chain[-1][0] == order.get_guest_url()
    assert page_messages(response) == [f"Order {order.number} is cancelled."]
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED


def test_another_users_order_is_a_404(client, owner):
    order = paid((stocked_variant(on_hand=5), 1), user=owner)
    client.force_login(UserFactory())

    assert client.get(order.get_absolute_url()).status_code == 404
    wrong_token = reverse("payments:order_cancel", args=["not-the-token"])
    assert client.post(wrong_token, {"reason": "mine now"}).status_code == 404
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_staff_cancel_in_the_back_office_not_through_a_shoppers_page(client, owner):
    order = paid((stocked_variant(on_hand=5), 1), user=owner)
    client.force_login(UserFactory(is_staff=True))

    assert client.get(order.get_absolute_url()).status_code == 404
    assert client.post(reverse("payments:order_cancel", args=[order.number]), {"reason": "x"}).status_code == 404
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_a_shipped_order_offers_no_button_and_a_cancel_is_refused_with_a_message(client):
    order = paid((stocked_variant(on_hand=5), 1))
    order_ship(order=order, lines={order.lines.get().pk: 1}, carrier="UPS", tracking_number="1Z")
    assert cancel_url(order) not in client.get(order.get_guest_url()).content.decode()

    response = client.post(cancel_url(order), {"reason": "too late?"}, follow=True)

    assert page_messages(response) == [f"Order {order.number} is shipped; cannot cancel it."]
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED
    assert not Refund.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201], ids=["empty", "blank", "too long"])
def test_a_cancel_without_a_proper_reason_is_refused_with_a_message(client, reason):
    order = place_order((stocked_variant(on_hand=5), 1))

    response = client.post(cancel_url(order), {"reason": reason}, follow=True)

    assert page_messages(response) == ["Please tell us why you are cancelling (at most 200 characters)."]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_the_cancel_endpoint_only_takes_posts(client):
    order = place_order((stocked_variant(on_hand=5), 1))

    assert client.get(cancel_url(order)).status_code == 405


# -- the staff cancel page --------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(email="support@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def admin_cancel_url(order: Order) -> str:
    return reverse("admin:payments_payment_cancel_order", args=[order.pk])


def test_the_order_page_links_to_the_cancel_page_while_the_order_can_be_cancelled(staff_client):
    order = paid((stocked_variant(on_hand=5), 1))
    change = reverse("admin:orders_order_change", args=[order.pk])

    assert admin_cancel_url(order) in staff_client.get(change).content.decode()

    order_cancel_and_refund(order=order, reason="done")
    assert admin_cancel_url(order) not in staff_client.get(change).content.decode()


def test_the_cancel_page_says_what_will_happen_then_cancels_and_refunds(staff_client, staff):
    shirt = stocked_variant(on_hand=5)
    order = paid((shirt, 2))

    page = staff_client.get(admin_cancel_url(order)).content.decode()
    assert f"puts 2 × {shirt.sku} back on hand" in page
    assert f"refunds <strong>{order.total} USD</strong>" in page

    response = staff_client.post(admin_cancel_url(order), {"reason": "Customer phoned"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:orders_order_change", args=[order.pk])
    assert f"Cancelled order {order.number}; refunded {order.total} USD." in page_messages(response)
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (Order.Status.CANCELLED, order.total)
    assert order.events.get(type=OrderEvent.Type.CANCELLED).actor == staff
    assert on_hand(shirt) == 5
    assert_stock_consistent()


def test_the_cancel_page_needs_a_reason(staff_client):
    order = place_order((stocked_variant(on_hand=5), 1))

    response = staff_client.post(admin_cancel_url(order), {"reason": ""})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_the_cancel_page_of_a_shipped_order_sends_staff_back_with_a_message(staff_client):
    order = paid((stocked_variant(on_hand=5), 1))
    order_ship(order=order, lines={order.lines.get().pk: 1}, carrier="UPS", tracking_number="1Z")

    response = staff_client.post(admin_cancel_url(order), {"reason": "late"}, follow=True)

    assert f"Order {order.number} is shipped: it can no longer be cancelled." in page_messages(response)
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED


def test_staff_who_may_not_refund_cannot_cancel_a_paid_order(client):
    from django.contrib.auth.models import Permission

    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="change_order"), Permission.objects.get(codename="view_order")
    )
    client.force_login(clerk)
    unpaid, paid_order = place_order((stocked_variant(on_hand=5), 1)), paid((stocked_variant(on_hand=5), 1))

    assert client.get(admin_cancel_url(paid_order)).status_code == 403
    assert client.post(admin_cancel_url(unpaid), {"reason": "duplicate"}).status_code == 302
    assert Order.objects.get(pk=unpaid.pk).status == Order.Status.CANCELLED
    assert Order.objects.get(pk=paid_order.pk).status == Order.Status.PAID


def test_the_cancel_action_leads_to_the_cancel_page_of_one_order(staff_client):
    first, second = place_order((stocked_variant(on_hand=5), 1)), place_order((stocked_variant(on_hand=5), 1))
    changelist = reverse("admin:orders_order_changelist")

    response = staff_client.post(changelist, {"action": "cancel_and_refund", "_selected_action": [first.pk]})
    assert response["Location"] == admin_cancel_url(first)

    response = staff_client.post(
        changelist, {"action": "cancel_and_refund", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Choose one order to cancel: each is confirmed on its own page." in page_messages(response)
    assert Order.objects.filter(status=Order.Status.CANCELLED).count() == 0


def test_the_bulk_unpaid_only_action_never_cancels_a_paid_order(staff_client):
    paid_order = paid((stocked_variant(on_hand=5), 1))

    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "cancel_orders", "_selected_action": [paid_order.pk]},
        follow=True,
    )

    assert f"Order {paid_order.number} is paid; cannot set it cancelled." in page_messages(response)
    assert Order.objects.get(pk=paid_order.pk).status == Order.Status.PAID
    assert not restocks().exists()


# -- at the same moment -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_cancellations_at_once_restock_and_refund_once():
    shirt = stocked_variant(on_hand=5)
    order = paid((shirt, 2))

    outcomes = run_together(
        4, lambda i: order_cancel_and_refund(order=Order.objects.get(pk=order.pk), reason=f"click {i}")
    )

    assert [o.error for o in outcomes] == [None] * 4
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.refunded_total) == (Order.Status.CANCELLED, order.total)
    assert list(Refund.objects.values_list("status", "amount")) == [(Refund.Status.SUCCEEDED, order.total)]
    assert list(restocks().values_list("quantity", flat=True)) == [2]
    assert order.events.filter(type=OrderEvent.Type.CANCELLED).count() == 1
    assert on_hand(shirt) == 5
    assert_stock_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_cancellation_racing_a_shipment_lets_exactly_one_of_them_happen():
    for _ in range(3):
        order = paid((stocked_variant(on_hand=5), 1))
        line_id = order.lines.get().pk

        def work(i: int, order_pk=order.pk, line_id=line_id):
            fresh = Order.objects.get(pk=order_pk)
            if i == 0:
                return order_cancel_and_refund(order=fresh, reason="race")
            return order_ship(order=fresh, lines={line_id: 1}, carrier="UPS", tracking_number="RACE")

        cancel, shipment = run_together(2, work)

        order = Order.objects.get(pk=order.pk)
        if order.status == Order.Status.CANCELLED:
            assert isinstance(shipment.error, OrderStateError) and cancel.error is None
            assert not order.shipments.exists() and order.refunded_total == order.total
        else:
            assert order.status == Order.Status.FULFILLED
            assert isinstance(cancel.error, OrderStateError) and shipment.error is None
            assert (
                not Refund.objects.filter(payment__order=order).exists()
                and not restocks().filter(reference=order.number).exists()
            )
        assert_stock_consistent()
