"""
manage.py import_products FILE.csv [FILE.csv ...] [--dry-run]: imports Shopify product CSV files.
"""

from django.core.management.base import BaseCommand, CommandError

from inventory.importer import ImportRejected, catalog_import
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
            "--dry-run",
            "--check",
            action="store_true",
            dest="dry_run",
            help=(
                "Validate the files and list what would be created and updated (the writes run "
                "and are rolled back; images are not fetched); write nothing. --check is the "
                "old name."
            ),
        )

    def handle(self, *args, **options):
        files = options["files"]
        dry_run = options["dry_run"]
        try:
            result = catalog_import(paths=files, progress=progress_bar(self.stdout), dry_run=dry_run)
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Import rejected: {len(rejected.problems)} problem(s); nothing was written."
            ) from rejected
        if dry_run:
            self.stdout.write(f"OK: {len(result.handles)} products, no problems found.")
            for change in result.changes:
                self.stdout.write(f"would {change}")
        self.stdout.write(self.style.SUCCESS(result.summary()))
