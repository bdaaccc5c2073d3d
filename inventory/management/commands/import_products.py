"""
manage.py import_products FILE.csv [FILE.csv ...]: imports Shopify product CSV files.
"""

from django.core.management.base import BaseCommand, CommandError

from inventory.importer import ImportRejected, catalog_import, catalog_parse
from kernel.csvfiles import progress_bar


class Command(BaseCommand):
    help = (
        "Imports products, variants, stock and images from Shopify product CSV files. "
        "All files are checked first; if any row has a problem, every problem is listed as "
        'FILE:LINE: column "COL": message and nothing is written. Products are matched by '
        "Handle and variants by SKU (derived from the handle and option values when Variant "
        "SKU is blank), so re-running with the same files changes nothing. Variant Inventory "
        "Qty sets the stock of new variants only (one ledger row per variant); the stock of "
        "variants that already exist belongs to the shop and is never changed by an import. "
        "Images that cannot be downloaded are replaced by generated placeholders."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.csv", help="Shopify product CSV files")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only validate the files and report problems; write nothing.",
        )

    def handle(self, *args, **options):
        files = options["files"]
        try:
            if options["check"]:
                products = catalog_parse(paths=files)
                self.stdout.write(f"OK: {len(products)} products, no problems found.")
                return
            result = catalog_import(paths=files, progress=progress_bar(self.stdout))
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Import rejected: {len(rejected.problems)} problem(s); nothing was written."
            ) from rejected
        self.stdout.write(self.style.SUCCESS(result.summary()))
