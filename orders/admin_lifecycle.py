"""The order admin's lifecycle parts, mixed into OrderAdmin (orders/admin.py): the order's
shipments, delivery and archiving. Everything goes through orders.services; nothing here
decides anything.

- Actions "Mark selected orders delivered" (order_mark_delivered) and "Archive selected
  orders" (order_archive). Orders are never deleted; archived ones are hidden from the list
  by default (ArchivedFilter).
- Shipping ("Ship lines") and cancelling ("Cancel (and refund if paid)") reach inventory and
  payments: the back office adds them (backoffice/orders.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .models import Order
from .services import OrderStateError, order_archive, order_mark_delivered


class ArchivedFilter(admin.SimpleListFilter):
    """Archived: no (the default: archived orders are hidden), yes, or all. A search shows
    archived orders too, unless a choice was made: staff looking up an order number from a
    customer's email must find it."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "No"), ("yes", "Yes"), ("all", "All")]

    def _choice(self, searching: bool) -> str:
        return self.value() or ("all" if searching else "no")

    def choices(self, changelist):
        # No "All" entry of Django's own: "no" is what an unfiltered list shows.
        chosen = self._choice(bool(changelist.query))
        for lookup, title in self.lookup_choices:
            yield {
                "selected": chosen == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        chosen = self._choice(bool(request.GET.get(SEARCH_VAR, "").strip()))
        if chosen == "no":
            return queryset.filter(archived_at__isnull=True)
        if chosen == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


def change_each(modeladmin, request: HttpRequest, orders, change) -> int:
    """Calls change(order) for each order in pk order, each in its own transaction (the
    service's): an order the change does not apply to (OrderStateError) is reported and does
    not stop the others. Returns how many orders changed."""
    changed = 0
    for order in orders.order_by("pk"):
        try:
            change(order)
        except OrderStateError as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
        else:
            changed += 1
    return changed


if TYPE_CHECKING:
    # What the mixin is mixed into (OrderAdmin), so that the type checker knows its self.
    _OrderAdmin = admin.ModelAdmin[Order]
else:
    _OrderAdmin = object


class OrderLifecycleAdminMixin(_OrderAdmin):
    """For OrderAdmin: list ArchivedFilter in its list_filter, "shipments" in its
    readonly_fields and fieldsets, and "mark_delivered", "archive_orders" in its actions."""

    @admin.display(description="shipments")
    def shipments(self, order: Order) -> str:
        if order.pk is None:
            return "—"
        parcels = order.shipments.select_related("actor").prefetch_related("lines__line")
        rows = format_html_join(
            "",
            "<li>{}: {} {}, {}</li>",
            (
                (
                    f"{timezone.localtime(shipment.created_at):%Y-%m-%d %H:%M}",
                    shipment.carrier,
                    format_html(
                        '<a href="{}" rel="noopener noreferrer">{}</a>', shipment.tracking_url, shipment.tracking_number
                    )
                    if shipment.tracking_url
                    else shipment.tracking_number,
                    ", ".join(f"{sl.quantity} × {sl.line.sku}" for sl in shipment.lines.all()),
                )
                for shipment in parcels
            ),
        )
        return format_html('<ul class="order-shipments">{}</ul>', rows) if rows else "None yet"

    @admin.action(description="Mark selected orders delivered", permissions=["change"])
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        already = queryset.filter(status=Order.Status.DELIVERED).count()
        # An order that has not shipped in full is reported and does not stop the others.
        delivered = change_each(
            self,
            request,
            queryset.exclude(status=Order.Status.DELIVERED),
            lambda order: order_mark_delivered(order=order, actor=request.user),
        )
        if delivered:
            self.message_user(request, f"Marked {delivered} order(s) delivered.", messages.SUCCESS)
        if already:
            self.message_user(request, f"{already} order(s) were delivered already.", messages.INFO)

    @admin.action(description="Archive selected orders", permissions=["change"])
    def archive_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        # An order that still needs work is reported, the others are archived.
        archived = change_each(
            self,
            request,
            queryset.filter(archived_at__isnull=True),
            lambda order: order_archive(order=order, actor=request.user),
        )
        if archived:
            self.message_user(request, f"Archived {archived} order(s).", messages.SUCCESS)
