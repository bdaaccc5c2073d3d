"""Carts in the back office, for support: what a shopper has in their cart. Read-only; carts
change only through cart.services, as the shopper uses the shop."""

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline

from .models import Cart, CartLine

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _LineCount(TypedDict):
    n_lines: int


class CartLineInline(ReadOnlyTabularInline):
    model = CartLine
    fields = ("variant", "quantity", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CartLine]:
        # The variant's name includes its product's title.
        return super().get_queryset(request).select_related("variant__product")


@admin.register(Cart)
class CartAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "line_count", "created_at", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    list_filter = ("updated_at",)
    fields = ("user", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (CartLineInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cart]:
        return super().get_queryset(request).annotate(n_lines=Count("lines"))

    @admin.display(description="lines", ordering="n_lines")
    def line_count(self, cart: "WithAnnotations[Cart, _LineCount]") -> int:
        return cart.n_lines
