"""Helpers for the order import and export tests: the shared Shopify sample (skipped when
../shared is absent) and small orders exports written in the test."""

from __future__ import annotations

import csv
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from inventory.importer import catalog_import
from orders.order_export import LINE_COLUMNS, ORDER_COLUMNS
from tests.catalog.conftest import SHOPIFY_DIR

ORDERS_CSV = SHOPIFY_DIR / "orders.csv"
CATALOGS = [SHOPIFY_DIR / "apparel.csv", SHOPIFY_DIR / "home-and-garden.csv"]


@pytest.fixture
def offline(monkeypatch):
    """Every image download fails at once, as on a machine without internet."""

    def urlopen(request, timeout=None):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


@pytest.fixture
def orders_csv() -> Path:
    if not ORDERS_CSV.exists() or not all(f.exists() for f in CATALOGS):
        pytest.skip(f"the shared Shopify exports are not in {SHOPIFY_DIR}")
    return ORDERS_CSV


@pytest.fixture
def shopify_catalog(db, offline, orders_csv):
    """The two sample catalogs imported (what a merchant does before import_orders)."""
    catalog_import(paths=CATALOGS)


def order_rows(
    number: str = "#1001",
    *,
    email: str = "ada@example.com",
    lines: tuple[tuple[str, str, str], ...] = (("Widget", "10.00", "2"), ("Gadget", "5.50", "1")),
    shipping: str = "5.00",
    taxes: str = "1.00",
    discount: str = "0.00",
    financial: str = "paid",
    fulfillment: str = "fulfilled",
    created: str = "2024-03-01 10:00:00 -0500",
    paid: str = "2024-03-01 10:00:05 -0500",
) -> list[dict[str, str]]:
    """The rows of one order as Shopify writes them, adding up (prices exclude tax)."""
    items = sum((Decimal(price) * int(qty) for _, price, qty in lines), Decimal(0))
    subtotal = items - Decimal(discount)
    total = subtotal + Decimal(shipping) + Decimal(taxes)
    first = {
        "Name": number,
        "Email": email,
        "Financial Status": financial,
        "Paid at": paid if financial != "pending" else "",
        "Fulfillment Status": fulfillment,
        "Currency": "USD",
        "Subtotal": f"{subtotal:.2f}",
        "Shipping": shipping,
        "Taxes": taxes,
        "Total": f"{total:.2f}",
        "Discount Amount": discount,
        "Shipping Method": "Standard Shipping",
        "Created at": created,
        "Billing Name": "Ada Lovelace",
        "Billing Address1": "12 Analytical Row",
        "Billing City": "Brooklyn",
        "Billing Zip": "'11201",
        "Billing Province": "NY",
        "Billing Country": "US",
        "Shipping Name": "Ada Lovelace",
        "Shipping Address1": "12 Analytical Row",
        "Shipping City": "Brooklyn",
        "Shipping Zip": "'11201",
        "Shipping Province": "NY",
        "Shipping Country": "US",
        "Payment Method": "Shopify Payments",
        "Refunded Amount": "0.00",
        "Tax 1 Name": "NY State Tax 4%",
        "Tax 1 Value": taxes,
    }
    rows = []
    for index, (name, price, qty) in enumerate(lines):
        row = dict(first) if index == 0 else {c: first[c] for c in ("Name", "Email", "Created at")}
        row.update(
            {
                "Lineitem quantity": qty,
                "Lineitem name": name,
                "Lineitem price": price,
                "Lineitem fulfillment status": "fulfilled" if fulfillment == "fulfilled" else "pending",
            }
        )
        rows.append(row)
    return rows


def write_orders(path: Path, rows: list[dict[str, str]], *, columns=ORDER_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])
    return path


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.reader(source))


__all__ = [
    "LINE_COLUMNS",
    "ORDERS_CSV",
    "offline",
    "order_rows",
    "orders_csv",
    "read_rows",
    "shopify_catalog",
    "write_orders",
]
