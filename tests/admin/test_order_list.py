"""The order list in the admin: filters by status, payment gateway and date (date hierarchy),
search by number, email and SKU; an order is listed once however many payments or lines
match."""

import pytest
from django.urls import reverse

from orders.models import Order
from payments.models import Payment
from tests.factories import stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")


def listed(client, **params) -> list[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return sorted(order.number for order in response.context["cl"].result_list)


def payment(order: Order, gateway: str, status: str = Payment.Status.FAILED) -> Payment:
    return Payment.objects.create(
        order=order, gateway=gateway, amount=order.total, currency=order.currency, status=status
    )


@pytest.fixture
def orders():
    """#1: two lines of SKU-RED-S and SKU-RED-M, two failed stripe payments and a dummy one.
    #2: one line of SKU-BLUE, one razorpay payment. #3: SKU-RED-S, no payment."""
    red_s = stocked_variant(on_hand=10, sku="SKU-RED-S")
    red_m = stocked_variant(on_hand=10, sku="SKU-RED-M")
    blue = stocked_variant(on_hand=10, sku="SKU-BLUE")
    first = place_order((red_s, 1), (red_m, 1))
    second = place_order((blue, 2))
    third = place_order((red_s, 1))
    payment(first, "stripe")
    payment(first, "stripe")
    payment(first, "dummy", Payment.Status.PENDING)
    payment(second, "razorpay")
    return first, second, third


def test_the_gateway_filter_offers_the_gateways_that_have_payments(staff_client, orders):
    response = staff_client.get(CHANGELIST)
    specs = response.context["cl"].filter_specs
    gateway_filter = next(f for f in specs if getattr(f, "parameter_name", "") == "gateway")

    assert [value for value, _label in gateway_filter.lookup_choices] == ["dummy", "razorpay", "stripe"]


def test_filtering_by_gateway_lists_each_order_once_however_many_payments_match(staff_client, orders):
    first, second, _ = orders

    assert listed(staff_client, gateway="stripe") == [first.number]
    assert listed(staff_client, gateway="razorpay") == [second.number]
    assert listed(staff_client, gateway="paypal") == []


def test_searching_a_sku_finds_its_orders_once_each(staff_client, orders):
    first, second, third = orders

    assert listed(staff_client, q="SKU-RED") == sorted([first.number, third.number])
    assert listed(staff_client, q="sku-blue") == [second.number]


def test_searching_still_finds_orders_by_number_and_email(staff_client, orders):
    first, _, _ = orders
    Order.objects.filter(pk=first.pk).update(email="grace@example.com")

    assert listed(staff_client, q=first.number) == [first.number]
    assert listed(staff_client, q="grace@") == [first.number]


def test_filters_combine_with_search_and_status(staff_client, orders):
    first, _, third = orders
    Order.objects.filter(pk=third.pk).update(status=Order.Status.CANCELLED)

    assert listed(staff_client, q="SKU-RED", status__exact="cancelled") == [third.number]
    assert listed(staff_client, q="SKU-RED", gateway="stripe") == [first.number]


def test_the_list_has_a_date_hierarchy_on_the_order_date(staff_client, orders):
    first, _, _ = orders
    created = first.created_at

    response = staff_client.get(CHANGELIST, {"created_at__year": created.year, "created_at__month": created.month})

    assert response.context["cl"].date_hierarchy == "created_at"
    assert response.context["cl"].result_count == 3
