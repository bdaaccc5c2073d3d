"""
manage.py import_orders FILE.csv [FILE.csv ...] [--dry-run]: imports Shopify orders exports
as order history (orders.importer).
"""

from kernel.commands import ImportCommand
from orders.importer import orders_import


class Command(ImportCommand):
    help = (
        "Imports order history from Shopify orders export CSV files (one row per line item). "
        "All files are checked first; if any row has a problem, every problem is listed as "
        'FILE:LINE: column "COL": message and nothing is written. Orders keep their number '
        '("#1001"), dates, status, money, addresses and lines (linked to our variants by SKU, '
        "else by product title and option values); they move no stock, take no payment, issue "
        "no invoice and send no email. Re-running with the same files changes nothing; an "
        "imported order whose data changed is updated. Import products and customers first."
    )

    files_help = "Shopify orders export CSV files"
    dry_run_help = "Validate and count what would be created, updated and skipped; write nothing."

    def run_import(self, paths, dry_run, progress):
        return orders_import(paths=paths, dry_run=dry_run, progress=progress)
