"""The stock report (backoffice/stock_report.py), added under inventory's own
ProductVariantAdmin (inventory/admin.py): the variant list links to it."""

from inventory import admin as inventory_admin

from .stock_report import stock_report_urls


class ProductVariantAdmin(inventory_admin.ProductVariantAdmin):
    def get_urls(self):
        # Before the default URLs: "<path:object_id>/" would swallow "stock-report/".
        return [*stock_report_urls(self), *super().get_urls()]
