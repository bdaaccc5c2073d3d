"""The shop's reports: sales per day (with a bar chart), orders by status, invoices and
credit notes, top products, most viewed products, low stock and reservations, for a date
range, as an admin page and each table as CSV
(?export=sales|status|invoices|credit_notes|top|viewed|low_stock|reservations).

Mounted under the Order admin (orders/admin.py, get_urls), so it needs the permission to view
orders; linked from the admin home. Read-only. Every table is one set-based query
(aggregate / annotate, days by TruncDate in the shop's time zone), so the page costs the same
handful of queries for ten orders or ten million, and a CSV one query.

What counts:
- Sales: orders paid or later (orders.selectors.PAID_OR_LATER: paid, shipped, delivered,
  refunded in part or in full) in the shop currency, by the day they were paid (paid_at).
  Revenue is the order total; refunds are shown beside it, net = revenue − refunded.
- Orders by status: every order placed (created_at) in the period, by its status now.
- Invoices and credit notes: those issued in the period (issued_at) in the shop currency,
  with what they state (the invoice's snapshot total; the credit note's amount and tax).
  Net invoiced = invoiced − credited. The page lists the first CREDIT_NOTES_ON_PAGE credit
  notes; the CSVs list them all.
- Top products: units and line totals (before order discounts and shipping) of the lines
  of those paid orders, by product (the snapshot title when the variant is gone).
- Most viewed: page views since counting began (not per period), as of the last flush.
- Low stock: now, not per period (available ≤ the variant's low-stock threshold).
- Reservations: those created in the period, by state.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from catalog.selectors import most_viewed_products
from inventory.selectors import low_stock_variants, reservation_counts

from .models import CreditNote, Invoice, Order, OrderLine
from .selectors import PAID_OR_LATER

DEFAULT_DAYS = 30
# A longer period would make a chart of hair-thin bars; a year is the useful maximum.
MAX_DAYS = 366
TOP_ON_PAGE = 10
CREDIT_NOTES_ON_PAGE = 50
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=14, decimal_places=2)

# The bar chart's drawing area in SVG user units; the SVG scales to the page width.
CHART_WIDTH = 720
CHART_HEIGHT = 200
CHART_LEFT = 70  # room for the value labels
CHART_BOTTOM = 24  # room for the date labels

# A spreadsheet runs a cell that starts with one of these as a formula; product titles and
# SKUs come from imported files, so they are not ours to trust.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# The period --------------------------------------------------------------------------------


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


def default_period() -> Period:
    today = timezone.localdate()
    return Period(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)


class PeriodForm(forms.Form):
    """?start=YYYY-MM-DD&end=YYYY-MM-DD; either may be left out (default: the last 30 days,
    today included)."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        default = default_period()
        end = data.get("end") or default.end
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The start date must not be after the end date.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose a period of at most {MAX_DAYS} days.")
        data["period"] = Period(start=start, end=end)
        return data


# The tables: one query each -----------------------------------------------------------------


def _money(value) -> Decimal:
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
            revenue=_money(by_day[day]["revenue"]) if day in by_day else ZERO,
            refunded=_money(by_day[day]["refunded"]) if day in by_day else ZERO,
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
            total=Coalesce(
                Sum("total", filter=Q(currency=settings.SHOP_CURRENCY)), Value(ZERO), output_field=MONEY
            ),
        )
        .order_by()
    }
    return [
        StatusRow(
            status=value,
            label=label,
            orders=rows[value]["orders"] if value in rows else 0,
            total=_money(rows[value]["total"]) if value in rows else ZERO,
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
    invoices = invoices_issued(period).order_by().aggregate(
        count=Count("pk"), first=Min("number"), last=Max("number"),
        total=Coalesce(Sum("stated_total"), Value(ZERO), output_field=MONEY),
    )
    notes = credit_notes_issued(period).order_by().aggregate(
        count=Count("pk"),
        amount=Coalesce(Sum("amount"), Value(ZERO), output_field=MONEY),
        tax=Coalesce(Sum("tax_amount"), Value(ZERO), output_field=MONEY),
    )
    return DocumentTotals(
        invoices=invoices["count"], first_invoice=invoices["first"], last_invoice=invoices["last"],
        invoiced=_money(invoices["total"]), credit_notes=notes["count"], credited=_money(notes["amount"]),
        credited_tax=_money(notes["tax"]),
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
    return {**row, "revenue": _money(row["revenue"])}


# The page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    label: str


def sales_chart(days: list[SalesDay]) -> dict:
    """Geometry of an inline SVG bar chart of revenue per day (drawn on the server: no
    JavaScript, nothing fetched from elsewhere). Decimal throughout; rounded to 0.1 unit."""
    tenth = Decimal("0.1")
    peak = max((d.revenue for d in days), default=ZERO)
    plot_width = Decimal(CHART_WIDTH - CHART_LEFT)
    slot = plot_width / max(len(days), 1)
    gap = slot * Decimal("0.15") if slot > 4 else Decimal(0)
    bars = []
    for i, day in enumerate(days):
        height = (day.revenue / peak * CHART_HEIGHT).quantize(tenth) if peak else Decimal(0)
        bars.append(
            Bar(
                x=(CHART_LEFT + slot * i + gap / 2).quantize(tenth),
                y=(CHART_HEIGHT - height).quantize(tenth),
                width=(slot - gap).quantize(tenth),
                height=height,
                label=f"{day.day:%a %d %b %Y}: {day.orders} order(s), {day.revenue} {settings.SHOP_CURRENCY}",
            )
        )
    # Date labels under the first, middle and last bars; the outer ones aligned to the
    # chart's edges so that they are not cut off.
    ticks = []
    if days:
        last = len(days) - 1
        for i in sorted({0, len(days) // 2, last}):
            if i == 0:
                x, anchor = CHART_LEFT + slot * i, "start"
            elif i == last:
                x, anchor = CHART_LEFT + slot * (i + 1), "end"
            else:
                x, anchor = CHART_LEFT + slot * i + slot / 2, "middle"
            ticks.append({"x": x.quantize(tenth), "anchor": anchor, "text": f"{days[i].day:%d %b}"})
    return {
        "bars": bars,
        "ticks": ticks,
        "peak": peak,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "total_height": CHART_HEIGHT + CHART_BOTTOM,
        "label_y": CHART_HEIGHT + 16,
        "axis_x": CHART_LEFT - 6,
    }


def _check(model_admin: admin.ModelAdmin, request: HttpRequest) -> None:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied


def reports_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The reports page, or one of its tables as CSV with ?export=<table>."""
    _check(model_admin, request)
    form = PeriodForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        if "export" in request.GET:
            return HttpResponseBadRequest(" ".join(str(e) for errors in form.errors.values() for e in errors))
        period = default_period()
    else:
        period = form.cleaned_data["period"] if form.is_bound else default_period()
    export = request.GET.get("export")
    if export is not None:
        if export not in EXPORTS:
            return HttpResponseBadRequest(f"Unknown export {export!r}; one of: {', '.join(EXPORTS)}.")
        return _csv_response(export, period)

    sales = sales_per_day(period)
    statuses = orders_by_status(period)
    totals = {
        "orders": sum(d.orders for d in sales),
        "revenue": sum((d.revenue for d in sales), ZERO),
        "refunded": sum((d.refunded for d in sales), ZERO),
    }
    totals["net"] = totals["revenue"] - totals["refunded"]
    params = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Reports",
        "opts": model_admin.opts,
        "form": form if form.is_bound else PeriodForm(initial=params),
        "period": period,
        "currency": settings.SHOP_CURRENCY,
        "sales": sales,
        "sales_days_with_orders": [d for d in sales if d.orders],
        "totals": totals,
        "chart": sales_chart(sales),
        "statuses": statuses,
        "status_total": sum(row.orders for row in statuses),
        "documents": document_totals(period),
        "credit_notes": list(credit_notes_issued(period)[:CREDIT_NOTES_ON_PAGE]),
        "credit_notes_on_page": CREDIT_NOTES_ON_PAGE,
        "top": [top_row(row) for row in top_products(period)[:TOP_ON_PAGE]],
        "viewed": list(most_viewed_products(TOP_ON_PAGE)),
        "low_stock": list(low_stock_variants()),
        "reservations": reservation_counts(created_from=period.since, created_to=period.until),
        "period_query": f"start={params['start']}&end={params['end']}",
        "top_on_page": TOP_ON_PAGE,
    }
    return TemplateResponse(request, "admin/orders/reports.html", context)


# CSV --------------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() hands the line back: csv.writer into a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _sales_rows(period: Period) -> Iterable[list]:
    for d in sales_per_day(period):
        yield [d.day.isoformat(), d.orders, d.revenue, d.refunded, d.net]


def _status_rows(period: Period) -> Iterable[list]:
    for row in orders_by_status(period):
        yield [row.status, row.label, row.orders, row.total]


def _invoice_rows(period: Period) -> Iterable[list]:
    for invoice in invoices_issued(period).iterator(chunk_size=2000):
        yield [
            invoice.number, timezone.localtime(invoice.issued_at).date().isoformat(), invoice.order.number,
            _money(invoice.stated_total),
        ]


def _credit_note_rows(period: Period) -> Iterable[list]:
    for note in credit_notes_issued(period).iterator(chunk_size=2000):
        yield [
            note.number, timezone.localtime(note.issued_at).date().isoformat(), note.order.number,
            note.invoice.number, note.amount, note.tax_amount, _cell(note.reason),
        ]


def _top_rows(period: Period) -> Iterable[list]:
    for row in map(top_row, top_products(period).iterator(chunk_size=2000)):
        yield [row["variant__product_id"] or "", _cell(row["title"]), row["units"], row["revenue"]]


def _viewed_rows(period: Period) -> Iterable[list]:
    for stat in most_viewed_products(limit=None).iterator(chunk_size=2000):
        yield [stat.product_id, _cell(stat.product.title), stat.views]


def _low_stock_rows(period: Period) -> Iterable[list]:
    for variant in low_stock_variants().iterator(chunk_size=2000):
        yield [
            _cell(variant.sku), _cell(variant.product.title), _cell(variant.title),
            variant.on_hand, variant.available, variant.threshold,
        ]


def _reservation_rows(period: Period) -> Iterable[list]:
    counts = reservation_counts(created_from=period.since, created_to=period.until)
    yield ["live", counts.live]
    yield ["lapsed (awaiting sweep)", counts.lapsed]
    yield ["expired", counts.expired]
    yield ["committed", counts.committed]
    yield ["released", counts.released]


# name -> (header, rows of the period). Amounts are plain numbers, so that a spreadsheet can
# add them up; the currency goes in the header ("{currency}", filled in when exported).
EXPORTS: dict[str, tuple[list[str], Callable[[Period], Iterable[list]]]] = {
    "sales": (["Day", "Orders", "Revenue ({currency})", "Refunded ({currency})", "Net ({currency})"], _sales_rows),
    "status": (["Status", "Label", "Orders", "Total ({currency})"], _status_rows),
    "invoices": (["Invoice", "Issued", "Order", "Total ({currency})"], _invoice_rows),
    "credit_notes": (
        ["Credit note", "Issued", "Order", "Invoice", "Credited ({currency})", "Tax in it ({currency})", "Reason"],
        _credit_note_rows,
    ),
    "top": (["Product id", "Product", "Units", "Revenue ({currency})"], _top_rows),
    "viewed": (["Product id", "Product", "Views"], _viewed_rows),
    "low_stock": (["SKU", "Product", "Options", "On hand", "Available", "Low-stock threshold"], _low_stock_rows),
    "reservations": (["State", "Reservations"], _reservation_rows),
}


def _csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def _csv_response(export: str, period: Period) -> StreamingHttpResponse:
    header, rows = EXPORTS[export]
    header = [heading.format(currency=settings.SHOP_CURRENCY) for heading in header]
    filename = f"{export}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    return StreamingHttpResponse(
        _csv_lines(header, rows(period)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def report_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """The reports page's URL, for the Order admin's get_urls (before its defaults)."""
    info = model_admin.opts.app_label, model_admin.opts.model_name
    return [
        path(
            "reports/",
            model_admin.admin_site.admin_view(lambda request: reports_view(model_admin, request)),
            name="%s_%s_reports" % info,
        ),
    ]
