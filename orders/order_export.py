"""
Orders as Shopify's orders export (orders_export.csv): ORDER_COLUMNS is its 79-column
header, order_rows(orders) yields one row per order line, the order's own columns on its
first row; the following rows repeat only Name, Email, Created at and Phone besides their
line columns (Lineitem …, Vendor, Lineitem discount), as Shopify writes them.

Values: dates "YYYY-MM-DD HH:MM:SS -0500" in settings.TIME_ZONE, money with 2 places,
Subtotal = our subtotal − discount_total (Shopify's subtotal is after the discount), all-digit
zips with Shopify's "'" prefix, Street = Address1 + ", " + Address2. Then an imported order's
`source_data` (and each line's) is written over the computed values: it holds what the source
said that has no field of ours, and, where our field would write a value differently from the
source ("38" for "38.00", a phone as typed, a date in another offset), the source's text; see
orders.importer. Our own orders (no imported_at) get their Financial and Fulfillment Status
mapped from their status and their tax lines from their lines' rates.

The orders are read with .iterator(chunk_size=CHUNK) and their lines prefetched per chunk,
so an export of 100,000 orders never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from kernel.csvfiles import SHOPIFY_DATETIME

from .models import Order, OrderLine

ORDER_COLUMNS = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
]

# The columns of one line item (Lineitem …, Vendor), in ORDER_COLUMNS order; every other
# column belongs to the order.
LINE_COLUMNS = tuple(column for column in ORDER_COLUMNS if column.startswith("Lineitem ") or column == "Vendor")
# Order columns Shopify repeats on every row of an order.
REPEATED_COLUMNS = ("Name", "Email", "Created at", "Phone")
TAX_COLUMNS = tuple((f"Tax {n} Name", f"Tax {n} Value") for n in range(1, 6))
DATE_FORMAT = SHOPIFY_DATETIME
CHUNK = 500

# Our status -> Shopify's Financial Status and, when the status says it, Fulfillment Status.
_FINANCIAL: dict[str, str] = {
    Order.Status.PENDING_PAYMENT: "pending",
    Order.Status.PAID: "paid",
    Order.Status.PARTIALLY_FULFILLED: "paid",
    Order.Status.FULFILLED: "paid",
    Order.Status.DELIVERED: "paid",
    Order.Status.PARTIALLY_REFUNDED: "partially_refunded",
    Order.Status.REFUNDED: "refunded",
    Order.Status.CANCELLED: "voided",
    Order.Status.EXPIRED: "voided",
    Order.Status.PAYMENT_FAILED: "voided",
}


def date_format(value: datetime | None) -> str:
    """A datetime as Shopify writes it, in the shop's time zone: "2024-01-09 10:14:37 -0500"."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime(DATE_FORMAT)


def money_format(value: Decimal | None) -> str:
    return "" if value is None else f"{Decimal(value):.2f}"


def zip_format(code: str) -> str:
    """Shopify's apostrophe before all-digit postal codes, so that spreadsheets keep the zeros."""
    return f"'{code}" if code.isdigit() else code


def line_name(line: OrderLine) -> str:
    """Shopify's Lineitem name: "Title", or "Title - Option / Option"."""
    return f"{line.product_title} - {line.variant_title}" if line.variant_title else line.product_title


def _address_values(order: Order, kind: str, prefix: str) -> dict[str, str]:
    line1 = getattr(order, f"{kind}_line1")
    line2 = getattr(order, f"{kind}_line2")
    return {
        f"{prefix} Name": getattr(order, f"{kind}_name"),
        f"{prefix} Street": f"{line1}, {line2}" if line1 and line2 else line1 or line2,
        f"{prefix} Address1": line1,
        f"{prefix} Address2": line2,
        f"{prefix} Company": getattr(order, f"{kind}_company"),
        f"{prefix} City": getattr(order, f"{kind}_city"),
        f"{prefix} Zip": zip_format(getattr(order, f"{kind}_postal_code")),
        f"{prefix} Province": getattr(order, f"{kind}_country_area"),
        f"{prefix} Country": str(getattr(order, f"{kind}_country") or ""),
        f"{prefix} Phone": str(getattr(order, f"{kind}_phone") or ""),
    }


def order_values_computed(order: Order, lines: Iterable[OrderLine] = ()) -> dict[str, str]:
    """The order-level columns as our fields give them (before source_data). For an imported
    order only the columns we have fields for; for our own order also the statuses and tax
    lines, which an imported order keeps in source_data. `lines` are needed for our own."""
    values = {
        "Name": order.number,
        "Email": order.email,
        "Paid at": date_format(order.paid_at),
        "Currency": order.currency,
        "Subtotal": money_format(order.subtotal - order.discount_total),
        "Shipping": money_format(order.shipping_total),
        "Taxes": money_format(order.tax_total),
        "Total": money_format(order.total),
        "Discount Code": order.voucher_code,
        "Discount Amount": money_format(order.discount_total),
        "Shipping Method": order.shipping_method_name,
        "Created at": date_format(order.created_at),
        "Refunded Amount": money_format(order.refunded_total),
        **_address_values(order, "billing", "Billing"),
        **_address_values(order, "shipping", "Shipping"),
    }
    if order.imported_at is None:
        values.update(_own_order_values(order, list(lines)))
    return values


def _own_order_values(order: Order, lines: list[OrderLine]) -> dict[str, str]:
    """What Shopify would say about one of our own orders where an imported order has its
    source's words (statuses, outstanding balance, tax lines)."""
    values: dict[str, str] = {}
    if not order.billing_line1:  # billed to the shipping address
        values.update(_address_values(order, "shipping", "Billing"))
    financial = _FINANCIAL.get(order.status, "")
    if order.status == Order.Status.CANCELLED and order.refunded_total:
        financial = "refunded"
    values["Financial Status"] = financial
    shipped = sum(line.shipped_quantity for line in lines)
    ordered = sum(line.quantity for line in lines)
    if order.status in (Order.Status.FULFILLED, Order.Status.DELIVERED) or (ordered and shipped >= ordered):
        values["Fulfillment Status"] = "fulfilled"
    elif shipped:
        values["Fulfillment Status"] = "partial"
    else:
        values["Fulfillment Status"] = "unfulfilled"
    values["Outstanding Balance"] = money_format(
        order.total if order.status == Order.Status.PENDING_PAYMENT else Decimal("0.00")
    )
    values["Source"] = "web"
    # Tax lines by rate, at most Shopify's five.
    by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        if line.tax_amount:
            by_rate[line.tax_rate] = by_rate.get(line.tax_rate, Decimal(0)) + line.tax_amount
    for (name_col, value_col), (rate, amount) in zip(TAX_COLUMNS, sorted(by_rate.items()), strict=False):
        values[name_col] = f"Tax {rate * 100:.2f}".rstrip("0").rstrip(".") + "%"
        values[value_col] = money_format(amount)
    return values


def line_values_computed(line: OrderLine, *, imported: bool) -> dict[str, str]:
    """The line columns as our fields give them (before the line's source_data)."""
    values = {
        "Lineitem quantity": str(line.quantity),
        "Lineitem name": line_name(line),
        "Lineitem price": money_format(line.unit_price),
        "Lineitem sku": line.sku,
    }
    if not imported:
        variant = line.variant
        values.update(
            {
                "Lineitem compare at price": money_format(variant.compare_at_price) if variant else "",
                "Lineitem requires shipping": "true",
                "Lineitem taxable": "true" if line.tax_rate else "false",
                "Lineitem fulfillment status": "fulfilled" if line.shipped_quantity >= line.quantity else "pending",
                "Vendor": variant.product.vendor if variant else "",
                "Lineitem discount": "0.00",
            }
        )
    return values


def order_export_rows(order: Order, lines: list[OrderLine]) -> list[list[str]]:
    """The rows of one order, in ORDER_COLUMNS order: one per line (one row with empty line
    columns for an order without lines)."""
    values = order_values_computed(order, lines)
    values.update(order.source_data or {})
    imported = order.imported_at is not None
    rows = []
    for index, line in enumerate(lines or [None]):
        row = dict(values) if index == 0 else {column: values.get(column, "") for column in REPEATED_COLUMNS}
        if line is not None:
            row.update(line_values_computed(line, imported=imported))
            row.update(line.source_data or {})
        rows.append([str(row.get(column, "")) for column in ORDER_COLUMNS])
    return rows


def order_rows(orders: QuerySet[Order]) -> Iterator[list[str]]:
    """One row per order line of `orders` (a queryset; read in chunks of CHUNK with their
    lines, variants and products prefetched per chunk), oldest order first unless `orders`
    is ordered otherwise, in ORDER_COLUMNS order."""
    if not orders.query.order_by:
        orders = orders.order_by("created_at", "pk")
    lines = Prefetch("lines", queryset=OrderLine.objects.select_related("variant__product").order_by("pk"))
    for order in orders.prefetch_related(lines).iterator(chunk_size=CHUNK):
        yield from order_export_rows(order, list(order.lines.all()))
