"""The stock figures beside the variants on a product's page, and the "Export selected
products (Shopify CSV)" action, added to catalog's own ProductAdmin (catalog/admin.py):
catalog knows nothing of inventory."""

from django.contrib import admin
from django.db.models import IntegerField, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, StreamingHttpResponse

from catalog import admin as catalog_admin
from catalog.models import ProductVariant
from inventory.product_export import PRODUCT_COLUMNS, product_rows
from inventory.selectors import with_availability

from .exports import migration_csv_download


class StockedVariantInline(catalog_admin.ProductVariantInline):
    fields = (*catalog_admin.ProductVariantInline.fields, "on_hand", "available")
    readonly_fields = ("on_hand", "available")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProductVariant]:
        # Both figures in the formset's single query, not one query per row.
        return with_availability(super().get_queryset(request)).annotate(
            stock_on_hand=Coalesce("stock__on_hand", Value(0), output_field=IntegerField())
        )

    @admin.display(description="on hand")
    def on_hand(self, variant: ProductVariant) -> int | str:
        # An unsaved (extra) row has no annotation.
        return getattr(variant, "stock_on_hand", "–")

    @admin.display(description="available")
    def available(self, variant: ProductVariant) -> int | str:
        return getattr(variant, "available", "–")


class ProductAdmin(catalog_admin.ProductAdmin):
    inlines = (StockedVariantInline, catalog_admin.ProductImageInline)
    actions = ("export_shopify_csv",)

    @admin.action(description="Export selected products (Shopify CSV)", permissions=["view"])
    def export_shopify_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        # As export_products writes it (one row per variant, created order), selected only.
        return migration_csv_download(
            header=PRODUCT_COLUMNS, rows=product_rows(queryset), filename="products_export.csv"
        )
