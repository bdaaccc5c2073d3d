"""
manage.py export_customers [FILE.csv]: writes the customers as Shopify's customers export.
"""

from kernel.commands import ExportCommand
from orders.customer_export import CUSTOMER_COLUMNS, customer_rows, customers_to_export


class Command(ExportCommand):
    help = (
        "Writes every customer account (staff accounts left out) as Shopify's customers export "
        "(20 columns: Customer ID, names, email, marketing consent, default address, phone, "
        "Total Spent and Total Orders from the orders with that email, note, tax exempt, tags), "
        "sorted by Customer ID, to FILE or to stdout. import_customers reads it back: the round "
        "trip gives the same file. UTF-8, LF line endings, no spreadsheet formula escaping."
    )

    columns = CUSTOMER_COLUMNS
    written = "customers"

    def rows(self):
        return customer_rows(customers_to_export())
