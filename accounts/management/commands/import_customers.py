"""
manage.py import_customers FILE.csv [FILE.csv ...] [--dry-run]: imports customer accounts from
Shopify's customers export or a generic file (see accounts.importer).
"""

from accounts.importer import customers_import
from kernel.commands import ImportCommand


class Command(ImportCommand):
    help = (
        "Imports customer accounts from Shopify's customers export (Customer ID, First Name, Last "
        "Name, Email, … Tags) or a generic file (email, first_name, last_name, password_hash, "
        "created_at and optional address, marketing, note and tags columns). All files are checked "
        'first; if any row has a problem, every problem is listed as FILE:LINE: column "COL": '
        "message and nothing is written. Accounts are matched by email in any case, so re-running "
        "with the same files changes nothing. Password hashes (bcrypt, argon2, Django's) are kept: "
        "customers sign in with their old password, re-hashed with Argon2 at that first sign-in; "
        "accounts without one cannot sign in until they set a password. Staff accounts are never "
        "changed (counted as skipped)."
    )

    files_help = "customer CSV files"

    def run_import(self, paths, dry_run, progress):
        return customers_import(paths=paths, dry_run=dry_run, progress=progress)
