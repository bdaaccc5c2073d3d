from django.contrib import admin

from .models import ShippingMethod


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "price", "active", "position")
    list_display_links = ("name",)
    list_editable = ("active", "position")
    list_filter = ("active",)
    search_fields = ("name",)
