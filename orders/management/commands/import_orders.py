"""
manage.py import_orders FILE.csv [FILE.csv ...] [--dry-run]: imports Shopify orders exports
as order history (orders.importer).
"""

from django.core.management.base import BaseCommand, CommandError

from kernel.csvfiles import ImportRejected, progress_bar
from orders.importer import orders_import


class Command(BaseCommand):
    help = (
        "Imports order history from Shopify orders export CSV files (one row per line item). "
        "All files are checked first; if any row has a problem, every problem is listed as "
        'FILE:LINE: column "COL": message and nothing is written. Orders keep their number '
        '("#1001"), dates, status, money, addresses and lines (linked to our variants by SKU, '
        "else by product title and option values); they move no stock, take no payment, issue "
        "no invoice and send no email. Re-running with the same files changes nothing; an "
        "imported order whose data changed is updated. Import products and customers first."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.csv", help="Shopify orders export CSV files")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and count what would be created, updated and skipped; write nothing.",
        )

    def handle(self, *args, **options):
        try:
            result = orders_import(
                paths=options["files"], dry_run=options["dry_run"], progress=progress_bar(self.stdout)
            )
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Import rejected: {len(rejected.problems)} problem(s); nothing was written."
            ) from rejected
        if options["dry_run"]:
            for number in result.numbers_created:
                self.stdout.write(f"would create {number}")
            for number in result.numbers_updated:
                self.stdout.write(f"would update {number}")
        self.stdout.write(self.style.SUCCESS(result.summary()))
