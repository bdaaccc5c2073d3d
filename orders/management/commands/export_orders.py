"""
manage.py export_orders [FILE.csv]: writes every order as Shopify's orders export.
"""

from django.core.management.base import BaseCommand, CommandError

from kernel.csvfiles import csv_write
from orders.models import Order
from orders.order_export import ORDER_COLUMNS, order_rows


class Command(BaseCommand):
    help = (
        "Writes every order, imported or placed here, as Shopify's orders export (79 columns, "
        "one row per order line, the order's columns on its first row), oldest first, to FILE "
        "or to stdout. Dates in the shop's time zone, money with 2 places. import_orders reads "
        "it back: the round trip gives the same file. UTF-8, LF line endings, no spreadsheet "
        "formula escaping (the file is data for re-import)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", metavar="FILE.csv", help="Where to write; stdout when left out.")

    def handle(self, *args, **options):
        path = options["file"]
        rows = order_rows(Order.objects.all())
        if path is None:
            # Past the command's output wrapper, which may style what it writes: csv ends its
            # lines itself.
            csv_write(getattr(self.stdout, "_out", self.stdout), ORDER_COLUMNS, rows)  # type: ignore[arg-type]
            return
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                count = csv_write(out, ORDER_COLUMNS, rows)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.stderr.write(f"{count} rows written to {path}.")
