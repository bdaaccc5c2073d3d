"""Payments in the back office: read-only. A payment's status changes only through
payments.services, when the provider answers (webhook, return page or reconciliation)."""
from django.contrib import admin

from config.admin_mixins import ReadOnlyAdminMixin

from .models import Payment


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("provider_payment_id", "order", "gateway", "amount", "currency", "status", "created_at")
    list_select_related = ("order",)
    list_filter = ("status", "gateway", "created_at")
    search_fields = ("provider_payment_id", "order__number", "order__email")
    fields = (
        "order",
        "gateway",
        "provider_payment_id",
        ("amount", "currency"),
        "status",
        "error",
        ("created_at", "updated_at"),
    )
    readonly_fields = (
        "order",
        "gateway",
        "provider_payment_id",
        "amount",
        "currency",
        "status",
        "error",
        "created_at",
        "updated_at",
    )
