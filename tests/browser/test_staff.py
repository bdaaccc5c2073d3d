"""Staff in a real browser: log into the admin, receive stock for a variant, ship a paid order
with a tracking number, and look at the sales chart on the reports page."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import StockItem
from orders.models import Order
from tests.factories import UserFactory, stocked_variant
from tests.orders.helpers import place_order
from tests.payments.helpers import pay_by_dummy_webhook

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"  # UserFactory's


def paid_order(variant, quantity: int) -> Order:
    """An order for `quantity` × `variant`, paid through the dummy gateway's webhook."""
    order = place_order((variant, quantity))
    pay_by_dummy_webhook(order)
    assert order.status == Order.Status.PAID
    return order


def test_staff_receive_stock_ship_an_order_and_see_the_sales_chart(page, shot):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    variant = stocked_variant(on_hand=3, sku="MUG-BLUE", product__title="Blue Mug")
    order = paid_order(variant, 2)

    page.goto(reverse("admin:index"))
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    shot("admin-login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Sales reports")).to_be_visible()
    shot("admin-home")

    page.goto(reverse("admin:catalog_productvariant_changelist"))
    page.get_by_role("link", name="MUG-BLUE").click()
    page.get_by_role("link", name="Adjust stock").click()
    page.get_by_label("Quantity").fill("12")
    page.get_by_label("Reason").select_option("receipt")
    page.get_by_label("Reference").fill("PO-4711")
    shot("receive-stock")
    page.get_by_role("button", name="Adjust stock").click()
    expect(page.locator(".messagelist")).to_contain_text("MUG-BLUE: +12 (Receipt); 13 on hand now.")
    shot("stock-received")
    assert StockItem.objects.get(variant=variant).on_hand == 13  # 3 + 12, the 2 sold not yet shipped

    page.goto(reverse("admin:orders_order_changelist"))
    page.get_by_role("link", name=order.number).click()
    page.get_by_role("link", name="Ship lines").click()
    page.get_by_label("Carrier").fill("Royal Mail")
    page.get_by_label("Tracking number").fill("RM123456789GB")
    shot("ship-form")
    page.get_by_role("button", name="Ship").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Shipped 2 unit(s) of order {order.number} with Royal Mail")
    shot("shipped")
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.shipments.get().tracking_number == "RM123456789GB"

    page.goto(reverse("admin:index"))
    page.get_by_role("link", name="Sales reports").click()
    chart = page.locator("svg#sales-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).not_to_have_count(0)
    expect(page.locator("#sales-table tfoot")).to_contain_text(str(order.total))
    shot("reports")
