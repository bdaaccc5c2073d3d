"""Orders in the back office. Status, money and number change only through orders.services
(each change writes an OrderEvent), so they are read-only here; staff may correct the
contact and shipping details. Orders are never added or deleted in the admin: an order
without its reservation, or a lost one, is exactly what the shop promises never to have."""
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_mixins import ReadOnlyTabularInline

from .models import Order, OrderEvent, OrderLine
from .services import OrderStateError, order_cancel


class OrderLineInline(ReadOnlyTabularInline):
    model = OrderLine
    # The snapshot, not the live variant: what the customer bought at that price.
    fields = ("sku", "product_title", "variant_title", "quantity", "unit_price", "line_total")
    readonly_fields = fields


class OrderEventInline(ReadOnlyTabularInline):
    model = OrderEvent
    fields = ("created_at", "type", "actor", "note")
    readonly_fields = fields
    verbose_name_plural = "timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "email", "status", "total", "currency", "created_at", "paid_at")
    list_filter = ("status", "created_at")
    search_fields = ("number", "email")
    date_hierarchy = "created_at"
    raw_id_fields = ("user",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("number", "status"),
                    ("user", "email"),
                    ("created_at", "paid_at", "reservation_expires_at"),
                )
            },
        ),
        ("Money", {"fields": ("currency", "subtotal", "shipping_total", "total")}),
        (
            "Shipping",
            {
                "fields": (
                    "shipping_method_name",
                    "shipping_name",
                    "shipping_line1",
                    "shipping_line2",
                    ("shipping_postal_code", "shipping_city", "shipping_country"),
                    "shipping_phone",
                )
            },
        ),
        ("Technical", {"fields": ("checkout_token", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "number",
        "status",
        "currency",
        "subtotal",
        "shipping_total",
        "total",
        "shipping_method_name",
        "created_at",
        "paid_at",
        "reservation_expires_at",
        "checkout_token",
        "updated_at",
    )
    inlines = (OrderLineInline, OrderEventInline)
    actions = ("cancel_orders",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        # Write only what the form changed. A plain save() would write every column from the
        # copy loaded at the start of this request, so a payment captured meanwhile (status,
        # paid_at) would be silently undone.
        changed = [name for name in form.changed_data if name not in self.readonly_fields]
        if changed:
            obj.save(update_fields=[*changed, "updated_at"])

    @admin.action(description="Cancel selected orders (unpaid only)", permissions=["change"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        cancelled = already = 0
        # One order at a time, each in its own transaction (order_cancel's): a paid order in
        # the selection is reported and does not stop the others.
        for order in queryset.order_by("pk"):
            if order.status == Order.Status.CANCELLED:
                already += 1
                continue
            try:
                order_cancel(order=order, actor=request.user, reason="Cancelled by staff")
            except OrderStateError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} order(s).", messages.SUCCESS)
        if already:
            self.message_user(request, f"{already} order(s) were already cancelled.", messages.INFO)
