"""The stock report: every variant with its stock figures, as an admin page and as CSV.

Mounted under the ProductVariant admin (backoffice/inventory.py, get_urls), so it needs the
permission to view variants. Read-only. Every figure comes from one query over all the rows
(inventory.selectors.stock_report_rows: on hand minus live reservations, computed in SQL), so
the page costs the same few queries for ten variants or ten thousand, and the CSV one query
whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from inventory.selectors import STOCK_REPORT_SORTS, stock_report_rows

from .exports import csv_cell, csv_download

PAGE_SIZE = 100
DEFAULT_SORT = "sku"

# (heading, sort key or None): the page's columns; the CSV has the same ones, in this order.
COLUMNS = (
    ("SKU", "sku"),
    ("Product", "product"),
    ("Options", None),
    ("On hand", "on_hand"),
    ("Reserved (live)", "reserved"),
    ("Available", "available"),
    ("Low-stock threshold", None),
    ("Low stock", None),
)


def _params(request: HttpRequest) -> tuple[str, bool, str]:
    search = request.GET.get("q", "").strip()
    low_only = request.GET.get("low") == "1"
    sort = request.GET.get("o", DEFAULT_SORT)
    if sort.lstrip("-") not in STOCK_REPORT_SORTS:
        sort = DEFAULT_SORT
    return search, low_only, sort


def _check(model_admin: admin.ModelAdmin, request: HttpRequest) -> None:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied


def stock_report_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The report page: filters (SKU search, low stock only), sortable columns, 100 a page."""
    _check(model_admin, request)
    search, low_only, sort = _params(request)
    page = Paginator(stock_report_rows(search=search, low_only=low_only, sort=sort), PAGE_SIZE).get_page(
        request.GET.get("p")
    )
    filters = request.GET.copy()
    filters.pop("p", None)
    headers = []
    for heading, key in COLUMNS:
        header = {"text": heading, "url": None, "sorted": None}
        if key:
            # A click sorts ascending; a click on the column already sorted ascending reverses it.
            params = filters.copy()
            params["o"] = f"-{key}" if sort == key else key
            header["url"] = "?" + params.urlencode()
            header["sorted"] = "ascending" if sort == key else "descending" if sort == f"-{key}" else None
        headers.append(header)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Stock report",
        "opts": model_admin.opts,
        "page": page,
        "headers": headers,
        "search": search,
        "low_only": low_only,
        "sort": sort,
        # The filters and sort without the page number: for the page links and the CSV link.
        "query": filters.urlencode(),
    }
    return TemplateResponse(request, "admin/inventory/stock_report.html", context)


def _csv_rows(rows: QuerySet) -> Iterator[list]:
    # iterator(): rows stream from the one query (a server-side cursor on PostgreSQL) instead
    # of being loaded into memory all at once.
    for variant in rows.iterator(chunk_size=2000):
        yield [
            csv_cell(variant.sku),
            csv_cell(variant.product.title),
            csv_cell(variant.title),
            variant.on_hand,
            variant.reserved,
            variant.available,
            "" if variant.threshold is None else variant.threshold,
            "yes" if variant.low_stock else "no",
        ]


def stock_report_csv_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> StreamingHttpResponse:
    """The report as CSV: every row matching the page's filters (all variants without any),
    unpaginated, same columns, one query."""
    _check(model_admin, request)
    search, low_only, sort = _params(request)
    rows = stock_report_rows(search=search, low_only=low_only, sort=sort)
    return csv_download(
        header=[heading for heading, _ in COLUMNS],
        rows=_csv_rows(rows),
        filename=f"stock-report-{timezone.localtime():%Y%m%d-%H%M}.csv",
    )


def stock_report_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """The report's two URLs, for the ProductVariant admin's get_urls (before its defaults)."""
    prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "stock-report/",
            wrap(lambda request: stock_report_view(model_admin, request)),
            name=f"{prefix}_stock_report",
        ),
        path(
            "stock-report.csv",
            wrap(lambda request: stock_report_csv_view(model_admin, request)),
            name=f"{prefix}_stock_report_csv",
        ),
    ]
