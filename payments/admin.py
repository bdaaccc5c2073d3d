"""Payments in the back office: read-only. A payment's status changes only through
payments.services, when the provider answers (webhook, return page or reconciliation)."""
from django.contrib import admin
from django.http import HttpRequest

from .models import Payment


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
