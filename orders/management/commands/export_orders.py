"""
manage.py export_orders [FILE.csv]: writes every order as Shopify's orders export.
"""

from kernel.commands import ExportCommand
from orders.models import Order
from orders.order_export import ORDER_COLUMNS, order_rows


class Command(ExportCommand):
    help = (
        "Writes every order, imported or placed here, as Shopify's orders export (79 columns, "
        "one row per order line, the order's columns on its first row), oldest first, to FILE "
        "or to stdout. Dates in the shop's time zone, money with 2 places. import_orders reads "
        "it back: the round trip gives the same file. UTF-8, LF line endings, no spreadsheet "
        "formula escaping (the file is data for re-import)."
    )

    columns = ORDER_COLUMNS

    def rows(self):
        return order_rows(Order.objects.all())
