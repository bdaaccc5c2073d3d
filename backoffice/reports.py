"""The shop's reports page: sales per day (with a bar chart), orders by status, invoices and
credit notes, top products, most viewed products, low stock and reservations, for a date
range, as an admin page and each table as CSV
(?export=sales|status|invoices|credit_notes|top|viewed|low_stock|reservations).

Mounted under the Order admin (backoffice/orders.py, get_urls), so it needs the permission to
view orders; linked from the admin home. Read-only. Every table is one set-based query of a
domain app's selectors (orders.reports, catalog and inventory selectors), so the page costs
the same handful of queries for ten orders or ten million, and a CSV one query. What each
figure counts: orders/reports.py; besides those:
- Most viewed: page views since counting began (not per period), as of the last flush.
- Low stock: now, not per period (available ≤ the variant's low-stock threshold).
- Reservations: those created in the period, by state.
The page lists the first CREDIT_NOTES_ON_PAGE credit notes; the CSVs list them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from catalog.selectors import most_viewed_products
from inventory.selectors import low_stock_variants, reservation_counts
from orders.reports import (
    ZERO,
    Period,
    SalesDay,
    cents,
    credit_notes_issued,
    document_totals,
    invoices_issued,
    orders_by_status,
    sales_per_day,
    top_products,
    top_row,
)

from .exports import csv_cell, csv_download

DEFAULT_DAYS = 30
# A longer period would make a chart of hair-thin bars; a year is the useful maximum.
MAX_DAYS = 366
TOP_ON_PAGE = 10
CREDIT_NOTES_ON_PAGE = 50

# The bar chart's drawing area in SVG user units; the SVG scales to the page width.
CHART_WIDTH = 720
CHART_HEIGHT = 200
CHART_LEFT = 70  # room for the value labels
CHART_BOTTOM = 24  # room for the date labels


# The period --------------------------------------------------------------------------------


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


def _sales_rows(period: Period) -> Iterable[list]:
    for d in sales_per_day(period):
        yield [d.day.isoformat(), d.orders, d.revenue, d.refunded, d.net]


def _status_rows(period: Period) -> Iterable[list]:
    for row in orders_by_status(period):
        yield [row.status, row.label, row.orders, row.total]


def _invoice_rows(period: Period) -> Iterable[list]:
    for invoice in invoices_issued(period).iterator(chunk_size=2000):
        yield [
            invoice.number,
            timezone.localtime(invoice.issued_at).date().isoformat(),
            invoice.order.number,
            cents(invoice.stated_total),
        ]


def _credit_note_rows(period: Period) -> Iterable[list]:
    for note in credit_notes_issued(period).iterator(chunk_size=2000):
        yield [
            note.number,
            timezone.localtime(note.issued_at).date().isoformat(),
            note.order.number,
            note.invoice.number,
            note.amount,
            note.tax_amount,
            csv_cell(note.reason),
        ]


def _top_rows(period: Period) -> Iterable[list]:
    for row in map(top_row, top_products(period).iterator(chunk_size=2000)):
        yield [row["variant__product_id"] or "", csv_cell(row["title"]), row["units"], row["revenue"]]


def _viewed_rows(period: Period) -> Iterable[list]:
    for stat in most_viewed_products(limit=None).iterator(chunk_size=2000):
        yield [stat.product_id, csv_cell(stat.product.title), stat.views]


def _low_stock_rows(period: Period) -> Iterable[list]:
    for variant in low_stock_variants().iterator(chunk_size=2000):
        yield [
            csv_cell(variant.sku),
            csv_cell(variant.product.title),
            csv_cell(variant.title),
            variant.on_hand,
            variant.available,
            variant.threshold,
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


def _csv_response(export: str, period: Period) -> StreamingHttpResponse:
    header, rows = EXPORTS[export]
    return csv_download(
        header=[heading.format(currency=settings.SHOP_CURRENCY) for heading in header],
        rows=rows(period),
        filename=f"{export}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv",
    )


def report_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """The reports page's URL, for the Order admin's get_urls (before its defaults)."""
    prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    return [
        path(
            "reports/",
            model_admin.admin_site.admin_view(lambda request: reports_view(model_admin, request)),
            name=f"{prefix}_reports",
        ),
    ]
