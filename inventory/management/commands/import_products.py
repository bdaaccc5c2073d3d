"""
manage.py import_products FILE.csv [FILE.csv ...] [--dry-run]: imports Shopify product CSV files.
"""

from inventory.importer import catalog_import
from kernel.commands import ImportCommand


class Command(ImportCommand):
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

    files_help = "Shopify product CSV files"
    dry_run_aliases = ("--check",)
    dry_run_help = (
        "Validate the files and list what would be created and updated (the writes run "
        "and are rolled back; images are not fetched); write nothing. --check is the "
        "old name."
    )

    def run_import(self, paths, dry_run, progress):
        return catalog_import(paths=paths, progress=progress, dry_run=dry_run)

    def dry_run_report(self, result):
        return [f"OK: {len(result.handles)} products, no problems found.", *super().dry_run_report(result)]
