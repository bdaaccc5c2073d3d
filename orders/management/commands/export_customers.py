"""
manage.py export_customers [FILE.csv]: writes the customers as Shopify's customers export.
"""

from typing import TextIO, cast

from django.core.management.base import BaseCommand, CommandError

from kernel.csvfiles import csv_write
from orders.customer_export import CUSTOMER_COLUMNS, customer_rows, customers_to_export


class Command(BaseCommand):
    help = (
        "Writes every customer account (staff accounts left out) as Shopify's customers export "
        "(20 columns: Customer ID, names, email, marketing consent, default address, phone, "
        "Total Spent and Total Orders from the orders with that email, note, tax exempt, tags), "
        "sorted by Customer ID, to FILE or to stdout. import_customers reads it back: the round "
        "trip gives the same file. UTF-8, LF line endings, no spreadsheet formula escaping."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", metavar="FILE.csv", help="Where to write; stdout when left out.")

    def handle(self, *args, **options):
        path = options["file"]
        rows = customer_rows(customers_to_export())
        if path is None:
            # Past the command's output wrapper, which may style what it writes: csv ends its
            # lines itself.
            csv_write(cast(TextIO, getattr(self.stdout, "_out", self.stdout)), CUSTOMER_COLUMNS, rows)
            return
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                count = csv_write(out, CUSTOMER_COLUMNS, rows)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.stderr.write(f"{count} customers written to {path}.")
