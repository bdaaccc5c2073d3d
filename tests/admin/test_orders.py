"""Orders in the admin: read-only money and status, a read-only timeline, and the
"Cancel selected orders (unpaid only)" action that goes through orders.services."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from inventory.models import Reservation
from orders.models import Order, OrderEvent
from orders.services import order_mark_paid
from tests.admin.conftest import place_order
from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")


def cancel(client, orders):
    return client.post(
        CHANGELIST,
        {"action": "cancel_orders", "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def pay(order: Order) -> Order:
    return order_mark_paid(order=order, reference="pay_1", reservation_ttl=timedelta(minutes=15))


def test_cancel_action_cancels_unpaid_orders_and_releases_their_stock(staff_client, staff):
    order = place_order(stocked_variant(on_hand=5), quantity=2)

    response = cancel(staff_client, [order])

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Reservation.objects.get(owner=order.reservation_owner).status == Reservation.Status.RELEASED
    event = order.events.last()
    assert (event.type, event.actor, event.note) == (OrderEvent.Type.CANCELLED, staff, "Cancelled by staff")
    assert messages_of(response) == ["Cancelled 1 order(s)."]


def test_cancel_action_reports_paid_orders_and_cancels_the_others(staff_client):
    unpaid = place_order(stocked_variant(on_hand=5))
    paid = pay(place_order(stocked_variant(on_hand=5)))

    response = cancel(staff_client, [unpaid, paid])

    unpaid.refresh_from_db()
    paid.refresh_from_db()
    assert (unpaid.status, paid.status) == (Order.Status.CANCELLED, Order.Status.PAID)
    assert f"Order {paid.number} is paid; cannot set it cancelled." in messages_of(response)
    assert "Cancelled 1 order(s)." in messages_of(response)


def test_cancelling_an_order_twice_writes_one_event(staff_client):
    order = place_order(stocked_variant(on_hand=5))
    cancel(staff_client, [order])
    response = cancel(staff_client, [order])
    assert order.events.filter(type=OrderEvent.Type.CANCELLED).count() == 1
    assert messages_of(response) == ["1 order(s) were already cancelled."]


def test_order_page_shows_lines_and_timeline_read_only(staff_client):
    order = place_order(stocked_variant(on_hand=5), quantity=3)
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    lines, events = response.context["inline_admin_formsets"]
    for inline in (lines, events):
        assert not inline.has_add_permission
        assert not inline.has_change_permission
        assert not inline.has_delete_permission
    assert [f.instance.quantity for f in lines.formset.forms] == [3]
    assert [f.instance.type for f in events.formset.forms] == [OrderEvent.Type.PLACED]
    form_fields = set(response.context["adminform"].form.fields)
    assert not form_fields & {"number", "status", "total", "subtotal", "shipping_total", "currency", "paid_at"}


def test_staff_edit_of_the_address_never_undoes_a_payment_captured_meanwhile(staff):
    order = place_order(stocked_variant(on_hand=5))
    model_admin = admin.site.get_model_admin(Order)
    request = RequestFactory().post("/")
    request.user = staff
    stale = Order.objects.get(pk=order.pk)  # loaded by the admin before the payment lands
    pay(order)
    form_class = model_admin.get_form(request, stale, change=True)
    data = {name: getattr(stale, name) or "" for name in form_class.base_fields}
    data.update(user="", email="new@example.com")
    form = form_class(data, instance=stale)
    assert form.is_valid(), form.errors

    model_admin.save_model(request, form.save(commit=False), form, change=True)

    order.refresh_from_db()
    assert (order.email, order.status) == ("new@example.com", Order.Status.PAID)
    assert order.paid_at is not None


def test_staff_can_clear_the_attention_flag_with_an_event(staff_client):
    from orders.models import Order, OrderEvent
    from orders.services import order_flag
    from tests.factories import stocked_variant
    from tests.orders.helpers import place_order

    order = place_order((stocked_variant(on_hand=2), 1))
    order_flag(order=order, reason="Amount mismatch")

    response = staff_client.post(
        "/admin/orders/order/", {"action": "resolve_attention", "_selected_action": [order.pk]}
    )

    assert response.status_code == 302
    order = Order.objects.get(pk=order.pk)
    assert order.needs_attention is False
    assert order.events.filter(type=OrderEvent.Type.NOTE, note="Attention resolved").count() == 1
