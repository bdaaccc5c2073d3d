"""Shipping an order (orders.services.order_ship) in one or more parcels, marking it
delivered, and the staff pages for both: what ships, what is refused (nothing is written
then), the shipped email, and what the shopper sees."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from orders.models import Order, OrderEvent, Shipment, ShipmentLine
from orders.services import (
    OrderStateError,
    ShipmentError,
    order_cancel,
    order_mark_delivered,
    order_mark_paid,
    order_ship,
)
from tests.factories import UserFactory, stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)


def paid_order(*lines) -> Order:
    """A paid order of `lines` ((variant, quantity), …)."""
    return order_mark_paid(order=place_order(*lines), reference="pay_1", reservation_ttl=TTL)


def two_line_order() -> tuple[Order, object, object]:
    order = paid_order((stocked_variant(on_hand=5), 3), (stocked_variant(on_hand=5), 1))
    shirt, socks = order.lines.order_by("pk")
    return order, shirt, socks


def ship(order, lines, tracking="1Z999", **kwargs):
    return order_ship(order=order, lines=lines, carrier="UPS", tracking_number=tracking, **kwargs)


def assert_nothing_shipped(order: Order) -> None:
    order = Order.objects.get(pk=order.pk)
    assert not Shipment.objects.filter(order=order).exists()
    assert not order.lines.filter(shipped_quantity__gt=0).exists()
    assert not order.events.filter(type=OrderEvent.Type.SHIPPED).exists()


def test_a_partial_shipment_then_the_rest_fulfils_the_order():
    staff = UserFactory(is_staff=True)
    order, shirt, socks = two_line_order()

    first = ship(order, {shirt.pk: 2}, tracking="1Z-A", tracking_url="https://ups.example/1Z-A", actor=staff)

    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PARTIALLY_FULFILLED
    assert list(first.lines.values_list("line_id", "quantity")) == [(shirt.pk, 2)]
    assert (first.carrier, first.tracking_number, first.tracking_url, first.actor) == (
        "UPS",
        "1Z-A",
        "https://ups.example/1Z-A",
        staff,
    )

    second = ship(order, {shirt.pk: 1, socks.pk: 1}, tracking="1Z-B")

    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.FULFILLED
    assert sorted(order.lines.values_list("quantity", "shipped_quantity")) == [(1, 1), (3, 3)]
    assert sorted(second.lines.values_list("line_id", "quantity")) == sorted([(shirt.pk, 1), (socks.pk, 1)])
    notes = list(order.events.filter(type=OrderEvent.Type.SHIPPED).values_list("note", flat=True))
    assert notes == [
        f"UPS 1Z-A: 2 × {shirt.sku} (https://ups.example/1Z-A)",
        f"UPS 1Z-B: 1 × {shirt.sku}, 1 × {socks.sku}",
    ]


def test_shipping_more_than_is_left_is_refused_and_writes_nothing():
    order, shirt, _ = two_line_order()

    with pytest.raises(ShipmentError, match="only 3 unit"):
        ship(order, {shirt.pk: 4})

    assert_nothing_shipped(order)


def test_shipping_more_than_is_left_after_a_first_parcel_is_refused():
    order, shirt, _ = two_line_order()
    ship(order, {shirt.pk: 2}, tracking="1Z-A")

    with pytest.raises(ShipmentError, match="only 1 unit"):
        ship(order, {shirt.pk: 2}, tracking="1Z-B")

    shirt.refresh_from_db()
    assert shirt.shipped_quantity == 2
    assert Shipment.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"lines": "zero"}, "at least one unit"),
        ({"lines": "negative"}, "cannot be negative"),
        ({"lines": "other order"}, "is not a line of order"),
        ({"tracking": "  "}, "carrier and a tracking number"),
        ({"tracking_url": "javascript:alert(1)"}, "http(s)"),
    ],
    ids=["all zeros", "negative units", "line of another order", "blank tracking number", "unsafe tracking URL"],
)
def test_bad_shipments_are_refused_and_write_nothing(kwargs, error):
    order, shirt, _ = two_line_order()
    other_line = paid_order((stocked_variant(on_hand=2), 1)).lines.get()
    lines = {
        "zero": {shirt.pk: 0},
        "negative": {shirt.pk: -1},
        "other order": {other_line.pk: 1},
    }.get(kwargs.pop("lines", None), {shirt.pk: 1})

    with pytest.raises(ShipmentError, match=error.replace("(", r"\(").replace(")", r"\)")):
        ship(order, lines, **kwargs)

    assert_nothing_shipped(order)


@pytest.mark.parametrize("state", ["pending_payment", "cancelled"])
def test_an_order_that_is_not_paid_or_was_cancelled_cannot_ship(state):
    order = place_order((stocked_variant(on_hand=5), 1))
    if state == "cancelled":
        order = order_cancel(order=order, reason="test")

    with pytest.raises(OrderStateError, match="cannot ship it"):
        ship(order, {order.lines.get().pk: 1})

    assert_nothing_shipped(order)


def test_the_same_shipment_submitted_twice_is_recorded_once():
    order, shirt, _ = two_line_order()

    first = ship(order, {shirt.pk: 1})
    again = ship(order, {shirt.pk: 1})

    assert again.pk == first.pk
    shirt.refresh_from_db()
    assert shirt.shipped_quantity == 1
    assert order.events.filter(type=OrderEvent.Type.SHIPPED).count() == 1


def test_a_tracking_number_already_used_for_other_lines_is_refused():
    order, shirt, socks = two_line_order()
    ship(order, {shirt.pk: 1})

    with pytest.raises(ShipmentError, match="already used"):
        ship(order, {socks.pk: 1})

    assert ShipmentLine.objects.filter(line=socks).count() == 0


def test_a_shipped_order_is_marked_delivered_once():
    order, shirt, socks = two_line_order()
    ship(order, {shirt.pk: 3, socks.pk: 1})

    order_mark_delivered(order=order)
    order_mark_delivered(order=order)

    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.DELIVERED
    assert order.events.filter(type=OrderEvent.Type.DELIVERED).count() == 1


def test_an_order_shipped_in_part_cannot_be_marked_delivered():
    order, shirt, _ = two_line_order()
    ship(order, {shirt.pk: 1})

    with pytest.raises(OrderStateError):
        order_mark_delivered(order=order)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PARTIALLY_FULFILLED


def test_each_parcel_emails_the_shopper_once_it_has_committed(django_capture_on_commit_callbacks):
    order, shirt, socks = two_line_order()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ship(order, {shirt.pk: 3}, tracking="1Z-A", tracking_url="https://ups.example/1Z-A")
        ship(order, {shirt.pk: 3}, tracking="1Z-A", tracking_url="https://ups.example/1Z-A")  # resubmitted
    with django_capture_on_commit_callbacks(execute=True):
        ship(order, {socks.pk: 1}, tracking="1Z-B")

    assert len(callbacks) == 1  # the resubmission enqueued nothing
    shipped = [m for m in mail.outbox if m.subject == f"Order {order.number} is on its way"]
    assert len(shipped) == 2
    assert all(m.to == [order.email] for m in shipped)
    assert "1Z-A" in shipped[0].body and "1Z-B" in shipped[1].body


# -- the back office ---------------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(email="warehouse@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def ship_url(order: Order) -> str:
    return reverse("admin:orders_order_ship", args=[order.pk])


def form_data(order: Order, **overrides) -> dict:
    data = {"carrier": "DHL", "tracking_number": "JD0001", "tracking_url": ""}
    data.update({f"ship_{line.pk}": line.quantity - line.shipped_quantity for line in order.lines.all()})
    data.update(overrides)
    return data


def test_the_order_page_offers_ship_lines_while_units_are_left(staff_client):
    order, shirt, socks = two_line_order()
    change = reverse("admin:orders_order_change", args=[order.pk])

    assert ship_url(order) in staff_client.get(change).content.decode()

    ship(order, {shirt.pk: 3, socks.pk: 1})
    assert ship_url(order) not in staff_client.get(change).content.decode()


def test_the_ship_form_defaults_to_what_is_left_and_ships_it(staff_client, staff):
    order, shirt, socks = two_line_order()
    ship(order, {shirt.pk: 1}, tracking="FIRST")

    page = staff_client.get(ship_url(order))
    assert page.status_code == 200
    form = page.context["form"]
    assert (form[f"ship_{shirt.pk}"].initial, form[f"ship_{socks.pk}"].initial) == (2, 1)

    response = staff_client.post(
        ship_url(order), form_data(order, tracking_url="https://dhl.example/JD0001"), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("admin:orders_order_change", args=[order.pk])
    assert "Shipped 3 unit(s) of order" in response.content.decode()
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.FULFILLED
    shipment = order.shipments.get(tracking_number="JD0001")
    assert (shipment.carrier, shipment.tracking_url, shipment.actor) == ("DHL", "https://dhl.example/JD0001", staff)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"ship_shirt": 4}, "Ensure this value is less than or equal to 3."),
        ({"ship_shirt": 0, "ship_socks": 0}, "Choose at least one unit to ship."),
        ({"tracking_number": ""}, "This field is required."),
        ({"tracking_url": "not a url"}, "Enter a valid URL."),
        ({"ship_shirt": "many"}, "Enter a whole number."),
    ],
    ids=["more than left", "all zeros", "missing tracking", "bad URL", "not a number"],
)
def test_bad_input_on_the_ship_form_is_a_form_error_never_a_500(staff_client, overrides, error):
    order, shirt, socks = two_line_order()
    names = {"ship_shirt": f"ship_{shirt.pk}", "ship_socks": f"ship_{socks.pk}"}
    data = form_data(order, **{names.get(key, key): value for key, value in overrides.items()})

    response = staff_client.post(ship_url(order), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert_nothing_shipped(order)


def test_a_shipment_the_service_refuses_is_shown_as_a_form_error(staff_client):
    order, shirt, _ = two_line_order()
    ship(order, {shirt.pk: 1}, tracking="JD0001")  # the number is taken, for other units

    response = staff_client.post(ship_url(order), form_data(order, tracking_number="JD0001"))

    assert response.status_code == 200
    assert "already used by another shipment" in response.content.decode()


def test_the_ship_page_of_an_unpaid_order_sends_staff_back_with_a_message(staff_client):
    order = place_order((stocked_variant(on_hand=5), 1))

    response = staff_client.get(ship_url(order), follow=True)

    assert "nothing left to ship" in response.content.decode()
    assert not Shipment.objects.exists()


def test_the_mark_delivered_action_delivers_shipped_orders_and_reports_the_others(staff_client, staff):
    shipped, _, _ = two_line_order()
    ship(shipped, {line.pk: line.quantity for line in shipped.lines.all()})
    unshipped = paid_order((stocked_variant(on_hand=5), 1))

    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_delivered", "_selected_action": [shipped.pk, unshipped.pk]},
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert "Marked 1 order(s) delivered." in messages
    assert f"Order {unshipped.number} is paid; cannot mark it delivered." in messages
    event = Order.objects.get(pk=shipped.pk).events.get(type=OrderEvent.Type.DELIVERED)
    assert event.actor == staff


# -- what the shopper sees ---------------------------------------------------------------------


def test_the_shopper_sees_each_parcel_with_its_tracking_link_and_the_timeline(client):
    order, shirt, socks = two_line_order()
    ship(order, {shirt.pk: 3}, tracking="1Z-A", tracking_url="https://ups.example/track?n=1Z-A")

    page = client.get(order.get_guest_url()).content.decode()

    assert "Partially shipped" in page
    assert 'href="https://ups.example/track?n=1Z-A"' in page
    assert "UPS" in page and f"3 × {shirt.product_title}" in page
    assert "Shipped: UPS 1Z-A" in page  # the timeline
