"""export_orders: Shopify's orders export, and the round trip import → export → import → export."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.importer import orders_import
from orders.models import Order, OrderLine
from orders.order_export import ORDER_COLUMNS, order_rows
from orders.services import order_mark_paid
from tests.factories import stocked_variant

from .helpers import place_order
from .shopify import read_rows

pytestmark = pytest.mark.django_db

HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
    "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
    "Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,"
    "Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,"
    "Payment ID,Payment Terms Name,Next Payment Due At,Payment References"
)


def test_the_header_is_shopifys_79_columns():
    assert ",".join(ORDER_COLUMNS) == HEADER
    assert len(ORDER_COLUMNS) == 79


def _export(path) -> bytes:
    call_command("export_orders", str(path))
    return path.read_bytes()


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York"])
def test_the_round_trip_gives_the_same_file_and_the_source_back(
    shopify_catalog, orders_csv, tmp_path, settings, time_zone
):
    settings.TIME_ZONE = time_zone
    orders_import(paths=[orders_csv])
    b = _export(tmp_path / "b.csv")

    # Into an empty database (of orders: the catalog stays, as a merchant's would).
    Order.objects.all().delete()
    assert OrderLine.objects.count() == 0
    result = orders_import(paths=[tmp_path / "b.csv"])
    assert (result.created, result.lines, result.lines_without_variant) == (62, 109, 3)
    c = _export(tmp_path / "c.csv")
    assert b == c

    # B against Shopify's own file: the same rows, cell for cell. (Shopify writes some empty
    # fields as "" where csv writes nothing; a CSV reader reads both as empty.)
    assert read_rows(tmp_path / "b.csv") == read_rows(orders_csv)
    assert b.decode().replace('""', "") == orders_csv.read_text(encoding="utf-8").replace('""', "")


def test_our_own_orders_export_with_shopifys_statuses(tmp_path):
    variant = stocked_variant(on_hand=5, price=Decimal("23.00"))
    pending = place_order((variant, 2))
    paid = place_order((variant, 1))
    order_mark_paid(order=paid, reference="ref", reservation_ttl=timedelta(minutes=5))
    rows = {row[0]: dict(zip(ORDER_COLUMNS, row, strict=True)) for row in order_rows(Order.objects.all())}

    assert rows[pending.number]["Financial Status"] == "pending"
    assert rows[pending.number]["Fulfillment Status"] == "unfulfilled"
    assert rows[pending.number]["Outstanding Balance"] == rows[pending.number]["Total"]
    assert rows[paid.number]["Financial Status"] == "paid"
    assert rows[paid.number]["Lineitem quantity"] == "1"
    assert rows[paid.number]["Lineitem price"] == "23.00"
    assert rows[paid.number]["Lineitem sku"] == variant.sku
    assert rows[paid.number]["Shipping Zip"] == "N1 9GU"
    assert rows[paid.number]["Billing Name"] == "Ada Lovelace"  # billed to the shipping address

    # And they import as history (the file's numbers are then imported ones).
    path = tmp_path / "ours.csv"
    call_command("export_orders", str(path))
    Order.objects.all().delete()
    result = orders_import(paths=[path])
    assert result.created == 2
    assert Order.objects.get(number=paid.number).total == paid.total


def test_the_export_reads_in_chunks_with_a_few_queries(shopify_catalog, orders_csv):
    orders_import(paths=[orders_csv])
    with CaptureQueriesContext(connection) as queries:
        rows = list(order_rows(Order.objects.all()))
    assert len(rows) == 109
    assert len(queries) <= 4  # orders, then their lines with variants and products (one chunk)
