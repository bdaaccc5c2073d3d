"""Checkout in the back office: shipping methods with their weight bands and countries, tax
rates per country, vouchers. A voucher's uses are counted only by checkout (inside the order's
transaction), so used_count and the redemptions are read-only here."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline

from .models import ShippingMethod, ShippingMethodCountry, ShippingRateBand, TaxRate, Voucher, VoucherRedemption


class ShippingRateBandInline(admin.TabularInline):
    model = ShippingRateBand
    extra = 1
    verbose_name_plural = "weight bands (by-weight methods: a cart heavier than the last band cannot use the method)"


class ShippingMethodCountryInline(admin.TabularInline):
    model = ShippingMethodCountry
    extra = 1
    verbose_name_plural = "countries (none: ships everywhere)"


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "price", "free_over", "ships_to", "active", "position")
    list_display_links = ("name",)
    list_editable = ("active", "position")
    list_filter = ("active", "kind")
    search_fields = ("name",)
    fields = ("name", "kind", "price", "free_over", "active", "position")
    inlines = [ShippingRateBandInline, ShippingMethodCountryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShippingMethod]:
        return super().get_queryset(request).prefetch_related("countries")

    @admin.display(description="ships to")
    def ships_to(self, obj: ShippingMethod) -> str:
        return ", ".join(str(c.country.name) for c in obj.countries.all()) or "everywhere"


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    """A rate per country, and per subdivision where it differs (a US state): the
    subdivision's wins for addresses there."""

    list_display = ("country", "country_area", "name", "rate", "percent")
    list_filter = ("country",)
    search_fields = ("country", "country_area", "name")
    fields = ("country", "country_area", "name", "rate")

    @admin.display(description="percent")
    def percent(self, obj: TaxRate) -> str:
        return f"{obj.rate * 100:.2f} %"


class VoucherRedemptionInline(ReadOnlyTabularInline):
    model = VoucherRedemption
    fields = ("created_at", "order", "email", "user")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[VoucherRedemption]:
        return super().get_queryset(request).select_related("order", "user")


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "kind",
        "value",
        "min_spend",
        "starts_at",
        "ends_at",
        "used_count",
        "usage_limit",
        "per_customer_limit",
        "active",
    )
    list_filter = ("active", "kind")
    search_fields = ("code",)
    readonly_fields = ("used_count", "created_at")
    fields = (
        ("code", "active"),
        ("kind", "value", "min_spend"),
        ("starts_at", "ends_at"),
        ("usage_limit", "per_customer_limit"),
        ("used_count", "created_at"),
    )
    inlines = [VoucherRedemptionInline]

    def save_model(self, request: HttpRequest, obj: Voucher, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Why not a plain save(): it would write back the used_count read when the page was
        # loaded, undoing uses that checkout counted meanwhile. Only staff's fields are saved.
        obj.save(update_fields=[name for name in form.base_fields if name not in self.readonly_fields])

    def has_delete_permission(self, request: HttpRequest, obj: Voucher | None = None) -> bool:
        # A used voucher is part of its orders' history: switch it off instead.
        if obj is not None and obj.used_count:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(VoucherRedemption)
class VoucherRedemptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "voucher", "order", "email", "user")
    list_select_related = ("voucher", "order", "user")
    search_fields = ("voucher__code", "order__number", "email")
    date_hierarchy = "created_at"
    raw_id_fields = ("voucher", "order", "user")
