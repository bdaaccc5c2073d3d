"""The order pages of the back office that reach other apps, added to orders' own OrderAdmin
(orders/admin.py, which knows nothing above orders):

- the order's payments (a column on its page, linked to each payment) and the list filter by
  payment gateway;
- "Ship lines" (a button on the order page, for an order with units left to ship): a form
  with carrier, tracking number, optional tracking URL and per line the units to ship
  (defaulting to what is left) → order_ship. Bad input is a form error, never a 500;
- "Cancel order" (a button on the order page) and the action "Cancel (and refund if paid)":
  they lead to the cancel page, which refunds (backoffice/payments.py);
- the reports page (backoffice/reports.py), under the order admin's URLs;
- "Export selected orders (Shopify CSV)": the selected orders as export_orders writes them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from inventory.exceptions import StockBusy
from orders import admin as orders_admin
from orders.admin_lifecycle import ArchivedFilter
from orders.models import Order
from orders.order_export import ORDER_COLUMNS, order_rows
from orders.services import OrderStateError, ShipmentError, order_can_cancel, order_can_ship, order_ship
from payments.models import Payment

from .exports import migration_csv_download
from .forms import ShipmentForm
from .reports import report_urls


class PaymentGatewayFilter(admin.SimpleListFilter):
    """Orders with at least one payment through the chosen gateway. An EXISTS subquery, not
    a join: an order with two payments is listed once."""

    title = "payment gateway"
    parameter_name = "gateway"

    def lookups(self, request, model_admin):
        gateways = Payment.objects.order_by("gateway").values_list("gateway", flat=True).distinct()
        return [(gateway, gateway.capitalize()) for gateway in gateways]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Exists(Payment.objects.filter(order=OuterRef("pk"), gateway=self.value())))
        return queryset


def _with_payments(fieldsets) -> list:
    """OrderAdmin's fieldsets with the order's payments beside its money."""
    return [
        (name, {**options, "fields": (*options["fields"], "payments")} if name == "Money" else options)
        for name, options in fieldsets
    ]


class OrderAdmin(orders_admin.OrderAdmin):
    list_filter = (
        "status",
        PaymentGatewayFilter,
        "needs_attention",
        ArchivedFilter,
        orders_admin.ImportedFilter,
        "created_at",
    )
    fieldsets = _with_payments(orders_admin.OrderAdmin.fieldsets)
    readonly_fields = (*orders_admin.OrderAdmin.readonly_fields, "payments")
    actions = ("cancel_orders", "cancel_and_refund", *orders_admin.OrderAdmin.actions[1:], "export_shopify_csv")

    @admin.display(description="payments")
    def payments(self, order: Order) -> str:
        # Refunds are made on a payment's page.
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a> {}: {} {}, {}</li>',
            (
                (
                    reverse("admin:payments_payment_change", args=[payment.pk]),
                    payment.reference,
                    payment.gateway,
                    payment.amount,
                    payment.currency,
                    payment.get_status_display().lower(),
                )
                for payment in Payment.objects.filter(order=order).order_by("created_at")
            ),
        )
        listing = reverse("admin:payments_payment_changelist") + f"?order__id__exact={order.pk}"
        return format_html(
            '<ul class="order-payments">{}</ul><a href="{}">All payments of this order</a>', rows, listing
        )

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        # Before the default URLs: "<path:object_id>/" would swallow ".../ship/".
        return [
            *report_urls(self),
            path("<path:object_id>/ship/", self.admin_site.admin_view(self.ship_view), name=f"{prefix}_ship"),
            *super().get_urls(),
        ]

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

    @admin.action(description="Export selected orders (Shopify CSV)", permissions=["view"])
    def export_shopify_csv(self, request: HttpRequest, queryset: QuerySet[Order]) -> StreamingHttpResponse:
        # As export_orders writes them: oldest first (the list's own sort is dropped), one
        # row per line.
        return migration_csv_download(
            header=ORDER_COLUMNS, rows=order_rows(queryset.order_by()), filename="orders_export.csv"
        )

    @admin.action(description="Cancel (and refund if paid)…", permissions=["change"])
    def cancel_and_refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        # One order at a time: a cancellation may move money, and staff confirm it (with a
        # reason) on the cancel page, which says what will be refunded and restocked.
        orders = list(queryset.order_by("pk")[:2])
        if len(orders) != 1:
            self.message_user(
                request, "Choose one order to cancel: each is confirmed on its own page.", messages.WARNING
            )
            return None
        return HttpResponseRedirect(reverse("admin:payments_payment_cancel_order", args=[orders[0].pk]))
