"""
manage.py import_customers FILE.csv [FILE.csv ...] [--dry-run]: imports customer accounts from
Shopify's customers export or a generic file (see accounts.importer).
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.importer import ImportRejected, customers_import
from kernel.csvfiles import progress_bar


class Command(BaseCommand):
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

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.csv", help="customer CSV files")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate the files and report what would be created and updated; write nothing.",
        )

    def handle(self, *args, **options):
        try:
            result = customers_import(
                paths=options["files"], dry_run=options["dry_run"], progress=progress_bar(self.stdout)
            )
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Import rejected: {len(rejected.problems)} problem(s); nothing was written."
            ) from rejected
        if options["dry_run"]:
            for change in result.changes:
                self.stdout.write(f"would {change}")
        self.stdout.write(self.style.SUCCESS(result.summary()))
