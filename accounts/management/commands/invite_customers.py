"""
manage.py invite_customers [--dry-run] [--limit N] [--again]: emails imported customers who
have no password yet a link to choose one.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services import customers_invite, customers_to_invite
from kernel.csvfiles import progress_bar


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Emails each imported customer (import_customers) who is active, not staff and has no "
        "usable password a signed link to choose one, good for CUSTOMER_INVITE_DAYS days "
        f"(now {settings.CUSTOMER_INVITE_DAYS}) or until used. Each customer is invited once "
        "(invited_at records it) unless --again. One email task per customer, queued when its "
        "invitation is recorded and retried with backoff when the mail server fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List who would be invited; send and write nothing.")
        parser.add_argument(
            "--limit",
            type=_non_negative,
            metavar="N",
            help="Invite at most N customers in this run (those never invited first, then by account).",
        )
        parser.add_argument(
            "--again",
            action="store_true",
            help="Also invite customers invited before (a new link; the old one works until it expires).",
        )

    def handle(self, *args, **options):
        limit, again, dry_run = options["limit"], options["again"], options["dry_run"]
        try:
            emails = customers_invite(
                limit=limit, again=again, dry_run=dry_run, progress=None if dry_run else progress_bar(self.stdout)
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        days = settings.CUSTOMER_INVITE_DAYS
        if dry_run:
            for email in emails:
                self.stdout.write(email)
            self.stdout.write(
                f"Dry run: {len(emails)} customer(s) would be invited (links good for {days} days); nothing sent."
            )
            return
        if options["verbosity"] >= 2:
            for email in emails:
                self.stdout.write(email)
        waiting = customers_to_invite().count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(emails)} customer(s) invited (links good for {days} days); {waiting} never invited yet."
            )
        )
