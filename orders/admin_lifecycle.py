"""The order admin's lifecycle parts, mixed into OrderAdmin (orders/admin.py): shipping,
delivery, archiving, and the door to cancelling. Everything goes through orders.services;
nothing here decides anything.

- "Ship lines" (a button on the order page, for an order with units left to ship): a form
  with carrier, tracking number, optional tracking URL and per line the units to ship
  (defaulting to what is left) → order_ship. Bad input is a form error, never a 500.
- Actions "Mark selected orders delivered" (order_mark_delivered) and "Archive selected
  orders" (order_archive). Orders are never deleted; archived ones are hidden from the list
  by default (ArchivedFilter).
- "Cancel (and refund if paid)": orders cannot refund (payments is the higher app), so the
  cancel page lives in payments/admin.py; the order page's "Cancel order" button and this
  action lead there, by URL name only.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inventory.exceptions import StockBusy

from .forms import ShipmentForm
from .models import Order
from .services import (
    OrderStateError,
    ShipmentError,
    order_archive,
    order_can_cancel,
    order_can_ship,
    order_mark_delivered,
    order_ship,
)

# The staff cancel page, in payments/admin.py (it refunds): named, never imported.
CANCEL_URL_NAME = "admin:payments_payment_cancel_order"


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


class OrderLifecycleAdminMixin:
    """For OrderAdmin: list ArchivedFilter in its list_filter, "shipments" in its
    readonly_fields and fieldsets, and "cancel_and_refund", "mark_delivered",
    "archive_orders" in its actions."""

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
                    format_html('<a href="{}" rel="noopener noreferrer">{}</a>', shipment.tracking_url, shipment.tracking_number)
                    if shipment.tracking_url
                    else shipment.tracking_number,
                    ", ".join(f"{sl.quantity} × {sl.line.sku}" for sl in shipment.lines.all()),
                )
                for shipment in parcels
            ),
        )
        return format_html('<ul class="order-shipments">{}</ul>', rows) if rows else "None yet"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # Before the default URLs: "<path:object_id>/" would swallow ".../ship/".
        return [
            path("<path:object_id>/ship/", self.admin_site.admin_view(self.ship_view), name="%s_%s_ship" % info),
        ] + super().get_urls()

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        order = self.get_object(request, unquote(object_id))
        can_change = order is not None and self.has_change_permission(request, order)
        extra_context = {
            **(extra_context or {}),
            "can_ship": can_change and order_can_ship(order),
            "can_cancel": can_change and order_can_cancel(order),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _order_change_url(self, order: Order) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk])

    def ship_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        if not order_can_ship(order):
            self.message_user(
                request,
                f"Order {order.number} is {order.get_status_display().lower()} with nothing left to ship.",
                messages.ERROR,
            )
            return HttpResponseRedirect(self._order_change_url(order))
        form = ShipmentForm(request.POST or None, order=order)
        if request.method == "POST" and form.is_valid():
            try:
                shipment = order_ship(
                    order=order,
                    lines=form.units,
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=form.cleaned_data["tracking_number"],
                    tracking_url=form.cleaned_data["tracking_url"],
                    actor=request.user,
                )
            except (OrderStateError, ShipmentError, StockBusy) as exc:
                # The service checks again under the order's lock (someone may have shipped or
                # cancelled since this form was shown): a form error, never a 500.
                form.add_error(None, exc.message)
            else:
                units = sum(sl.quantity for sl in shipment.lines.all())
                self.message_user(
                    request,
                    f"Shipped {units} unit(s) of order {order.number} with {shipment.carrier} "
                    f"({shipment.tracking_number}).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._order_change_url(order))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ship order {order.number}",
            "subtitle": str(order),
            "opts": self.opts,
            "original": order,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)

    @admin.action(description="Cancel (and refund if paid)…", permissions=["change"])
    def cancel_and_refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        # One order at a time: a cancellation may move money, and staff confirm it (with a
        # reason) on the cancel page, which says what will be refunded and restocked.
        orders = list(queryset.order_by("pk")[:2])
        if len(orders) != 1:
            self.message_user(request, "Choose one order to cancel: each is confirmed on its own page.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(CANCEL_URL_NAME, args=[orders[0].pk]))

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
