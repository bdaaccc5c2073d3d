from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments.services import payments_reconcile


class Command(BaseCommand):
    help = (
        "Asks the payment providers about payments, and refunds they accepted, still pending "
        "after --older-than minutes and applies their answers (webhooks get lost). Celery beat "
        "runs the same every RECONCILE_INTERVAL_MINUTES. Exits 1 if any payment or refund "
        "could not be checked."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="MINUTES",
            help="Only payments and refunds pending longer than this (default: RECONCILE_AFTER_MINUTES, "
            f"now {settings.RECONCILE_AFTER_MINUTES}).",
        )

    def handle(self, *args, older_than: int | None, **options):
        minutes = settings.RECONCILE_AFTER_MINUTES if older_than is None else older_than
        if minutes < 0:
            raise CommandError("--older-than must be 0 or more minutes.")
        result = payments_reconcile(older_than=timedelta(minutes=minutes))
        self.stdout.write(
            f"Checked {result.checked} payment(s): {result.captured} captured, {result.failed} failed, "
            f"{result.still_pending} still pending, {result.errors} error(s)."
        )
        self.stdout.write(
            f"Checked {result.refunds_checked} pending refund(s): {result.refunds_settled} settled "
            f"({result.refunds_succeeded} succeeded, {result.refunds_failed} failed), "
            f"{result.refunds_still_pending} still pending, {result.refund_errors} error(s)."
        )
        if result.errors or result.refund_errors:
            # A non-zero exit for cron and monitoring; the details are in the log.
            unchecked = [
                f"{n} {what}(s)" for n, what in ((result.errors, "payment"), (result.refund_errors, "refund")) if n
            ]
            raise CommandError(f"{' and '.join(unchecked)} could not be checked; see the log.", returncode=1)
