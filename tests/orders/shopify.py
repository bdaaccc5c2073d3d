"""Helpers for the order import and export tests: where the shared Shopify sample is, and
small orders exports written in the test (fixtures: conftest.py)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from orders.order_export import ORDER_COLUMNS
from tests.conftest import SHOPIFY_DIR

ORDERS_CSV = SHOPIFY_DIR / "orders.csv"
CATALOGS = [SHOPIFY_DIR / "apparel.csv", SHOPIFY_DIR / "home-and-garden.csv"]


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
