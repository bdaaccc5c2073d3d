"""Reads for the back office's reports (backoffice/reports.py): sales per day, orders by
status, invoices and credit notes issued, top products, for a period of days in the shop's
time zone. Every table is one set-based query (aggregate / annotate, days by TruncDate in
the shop's time zone), so it costs the same for ten orders or ten million.

What counts:
- Sales: orders paid or later (orders.selectors.PAID_OR_LATER: paid, shipped, delivered,
  refunded in part or in full) in the shop currency, by the day they were paid (paid_at).
  Revenue is the order total; refunds are shown beside it, net = revenue − refunded.
- Orders by status: every order placed (created_at) in the period, by its status now.
- Invoices and credit notes: those issued in the period (issued_at) in the shop currency,
  with what they state (the invoice's snapshot total; the credit note's amount and tax).
  Net invoiced = invoiced − credited.
- Top products: units and line totals (before order discounts and shipping) of the lines
  of those paid orders, by product (the snapshot title when the variant is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from .models import CreditNote, Invoice, Order, OrderLine
from .selectors import PAID_OR_LATER

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY: DecimalField = DecimalField(max_digits=14, decimal_places=2)


@dataclass(frozen=True)
class Period:
    """Days `start` to `end`, both included, in the shop's time zone."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def cents(value) -> Decimal:
    """A database sum as Decimal to the cent (SQLite hands back Decimal("75"), not 75.00)."""
    return Decimal(value or 0).quantize(CENT)


@dataclass(frozen=True)
class SalesDay:
    day: date
    orders: int
    revenue: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.revenue - self.refunded


def _paid_in(period: Period) -> dict:
    """Lookups (relative to Order) for paid-or-later orders in the shop currency paid in
    the period. Other currencies are left out rather than added up as if they were ours."""
    return {
        "status__in": PAID_OR_LATER,
        "currency": settings.SHOP_CURRENCY,
        "paid_at__gte": period.since,
        "paid_at__lt": period.until,
    }


def sales_per_day(period: Period) -> list[SalesDay]:
    """Every day of the period (days without sales as zeros), oldest first; one query."""
    rows = (
        Order.objects.filter(**_paid_in(period))
        # TruncDate in the current (shop) time zone: an order paid at 23:30 local time
        # belongs to that day, not to the next one in UTC.
        .annotate(day=TruncDate("paid_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            orders=Count("pk"),
            revenue=Coalesce(Sum("total"), Value(ZERO), output_field=MONEY),
            refunded=Coalesce(Sum("refunded_total"), Value(ZERO), output_field=MONEY),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    return [
        SalesDay(
            day=day,
            orders=by_day[day]["orders"] if day in by_day else 0,
            revenue=cents(by_day[day]["revenue"]) if day in by_day else ZERO,
            refunded=cents(by_day[day]["refunded"]) if day in by_day else ZERO,
        )
        for day in period.days
    ]


@dataclass(frozen=True)
class StatusRow:
    status: str
    label: str
    orders: int
    total: Decimal


def orders_by_status(period: Period) -> list[StatusRow]:
    """Orders placed in the period, by their status now (every status, zeros included);
    one query. Totals are summed in the shop currency only."""
    rows = {
        row["status"]: row
        for row in Order.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .values("status")
        .annotate(
            orders=Count("pk"),
            total=Coalesce(Sum("total", filter=Q(currency=settings.SHOP_CURRENCY)), Value(ZERO), output_field=MONEY),
        )
        .order_by()
    }
    return [
        StatusRow(
            status=value,
            label=str(label),
            orders=rows[value]["orders"] if value in rows else 0,
            total=cents(rows[value]["total"]) if value in rows else ZERO,
        )
        for value, label in Order.Status.choices
    ]


def _issued_in(period: Period) -> dict:
    return {"issued_at__gte": period.since, "issued_at__lt": period.until}


def invoices_issued(period: Period) -> QuerySet[Invoice]:
    """Invoices issued in the period in the shop currency, oldest first, annotated with
    `stated_total` (Decimal): the total the invoice states (its snapshot)."""
    return (
        Invoice.objects.filter(snapshot__currency=settings.SHOP_CURRENCY, **_issued_in(period))
        .annotate(stated_total=Cast(KeyTextTransform("total", "snapshot"), MONEY))
        .select_related("order")
        .order_by("issued_at", "pk")
    )


def credit_notes_issued(period: Period) -> QuerySet[CreditNote]:
    """Credit notes issued in the period on orders in the shop currency, oldest first."""
    return (
        CreditNote.objects.filter(order__currency=settings.SHOP_CURRENCY, **_issued_in(period))
        .select_related("order", "invoice")
        .order_by("issued_at", "pk")
    )


@dataclass(frozen=True)
class DocumentTotals:
    invoices: int
    first_invoice: str | None
    last_invoice: str | None
    invoiced: Decimal
    credit_notes: int
    credited: Decimal
    credited_tax: Decimal

    @property
    def net(self) -> Decimal:
        return self.invoiced - self.credited


def document_totals(period: Period) -> DocumentTotals:
    """How many invoices and credit notes were issued in the period and what they add up to;
    two queries."""
    invoices = (
        invoices_issued(period)
        .order_by()
        .aggregate(
            count=Count("pk"),
            first=Min("number"),
            last=Max("number"),
            total=Coalesce(Sum("stated_total"), Value(ZERO), output_field=MONEY),
        )
    )
    notes = (
        credit_notes_issued(period)
        .order_by()
        .aggregate(
            count=Count("pk"),
            amount=Coalesce(Sum("amount"), Value(ZERO), output_field=MONEY),
            tax=Coalesce(Sum("tax_amount"), Value(ZERO), output_field=MONEY),
        )
    )
    return DocumentTotals(
        invoices=invoices["count"],
        first_invoice=invoices["first"],
        last_invoice=invoices["last"],
        invoiced=cents(invoices["total"]),
        credit_notes=notes["count"],
        credited=cents(notes["amount"]),
        credited_tax=cents(notes["tax"]),
    )


def top_products(period: Period) -> QuerySet:
    """Products by units sold in paid-or-later orders paid in the period, then by revenue
    (Σ line totals); rows of dicts: variant__product_id (None when the variant was deleted),
    title, units, revenue. One query; slice it for the top N, and pass rows through
    top_row()."""
    paid = {f"order__{lookup}": value for lookup, value in _paid_in(period).items()}
    return (
        OrderLine.objects.filter(**paid)
        # The product's current title; the snapshot's when the variant no longer exists.
        .annotate(title=Coalesce("variant__product__title", "product_title"))
        .values("variant__product_id", "title")
        .annotate(units=Sum("quantity"), revenue=Coalesce(Sum("line_total"), Value(ZERO), output_field=MONEY))
        .order_by("-units", "-revenue", "title")
    )


def top_row(row: dict) -> dict:
    """A row of top_products with its revenue to the cent."""
    return {**row, "revenue": cents(row["revenue"])}
