"""
manage.py export_products [FILE.csv]: writes the catalog as a Shopify product CSV.
"""

from typing import TextIO, cast

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Product
from inventory.product_export import PRODUCT_COLUMNS, product_rows
from kernel.csvfiles import csv_write


class Command(BaseCommand):
    help = (
        "Writes every product, variant, stock figure and image URL as Shopify's product CSV "
        "(one row per variant, the product's columns on its first row), to FILE or to stdout. "
        "import_products reads it back: the round trip gives the same file. UTF-8, LF line "
        "endings, no spreadsheet formula escaping (the file is data for re-import)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", metavar="FILE.csv", help="Where to write; stdout when left out.")

    def handle(self, *args, **options):
        path = options["file"]
        rows = product_rows(Product.objects.all())
        if path is None:
            # Past the command's output wrapper, which may style what it writes: csv ends its
            # lines itself.
            csv_write(cast(TextIO, getattr(self.stdout, "_out", self.stdout)), PRODUCT_COLUMNS, rows)
            return
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                count = csv_write(out, PRODUCT_COLUMNS, rows)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.stderr.write(f"{count} rows written to {path}.")
