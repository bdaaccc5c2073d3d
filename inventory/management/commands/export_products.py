"""
manage.py export_products [FILE.csv]: writes the catalog as a Shopify product CSV.
"""

from catalog.models import Product
from inventory.product_export import PRODUCT_COLUMNS, product_rows
from kernel.commands import ExportCommand


class Command(ExportCommand):
    help = (
        "Writes every product, variant, stock figure and image URL as Shopify's product CSV "
        "(one row per variant, the product's columns on its first row), to FILE or to stdout. "
        "import_products reads it back: the round trip gives the same file. UTF-8, LF line "
        "endings, no spreadsheet formula escaping (the file is data for re-import)."
    )

    columns = PRODUCT_COLUMNS

    def rows(self):
        return product_rows(Product.objects.all())
