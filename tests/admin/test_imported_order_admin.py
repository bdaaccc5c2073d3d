"""An imported order in the admin: its money in full (discount, tax) and no offer to issue
an invoice the previous shop already issued."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.importer import orders_import
from orders.models import Order
from tests.orders.shopify import order_rows, write_orders

pytestmark = pytest.mark.django_db


def test_the_change_page_shows_discount_and_tax_and_offers_no_invoice(staff_client, tmp_path):
    rows = order_rows("#1001", discount="2.00", taxes="1.84", lines=(("Widget", "10.00", "2"), ("Gadget", "5.50", "1")))
    orders_import(paths=[write_orders(tmp_path / "orders.csv", rows)])
    order = Order.objects.get(number="#1001")

    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "None (imported: the previous shop invoiced it)" in page
    assert "issue and download it" not in page
    assert "Discount total" in page and "2.00" in page
    assert "Tax total" in page and "1.84" in page
