import hashlib

from django.core.management.base import BaseCommand, CommandError

from orders.credit_notes import CREDIT_NOTES
from orders.invoices import INVOICES, NumberSeries


class Command(BaseCommand):
    help = (
        "Compares the invoices and credit notes in the database with their PDFs in storage, "
        "after a database restore above all (docs/RUNBOOK.md). Lists PDFs with no row (documents "
        "issued after the restored dump: their numbers are never issued again), rows whose PDF "
        "is missing (restore them with regenerate_invoice ORDER_NUMBER) and stored PDFs whose "
        "SHA-256 differs from the one recorded when they were stored. Exits 1 if it found any. "
        "Lists every stored document: an operator's command, not for every request."
    )

    def handle(self, *args, **options):
        problems = 0
        for series in (INVOICES, CREDIT_NOTES):
            problems += self._check(series)
        if problems:
            raise CommandError(f"{problems} problem(s) found.")
        self.stdout.write("Every invoice and credit note has its PDF, and every PDF its row.")

    def _check(self, series: NumberSeries) -> int:
        storage = series.storage()
        rows = {
            row.number: row for row in series.documents.objects.select_related("order").order_by("year", "sequence")
        }
        stored: dict[str, list[str]] = {}
        for name, year, sequence in series.stored_files():
            stored.setdefault(series.number(year=year, sequence=sequence), []).append(name)
        problems = 0
        for number in sorted(set(stored) - set(rows)):
            problems += 1
            self.stdout.write(
                f"{number}: stored as {', '.join(stored[number])} but not in the database: issued after the "
                "restored dump (resend or void it as the law requires; its number is not issued again)"
            )
        for number, row in rows.items():
            where = f"{number} (order {row.order.number})"
            if not row.pdf or not storage.exists(row.pdf.name):
                problems += 1
                self.stdout.write(f"{where}: PDF missing: python manage.py regenerate_invoice {row.order.number}")
            elif row.pdf_sha256:
                with storage.open(row.pdf.name, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                if digest != row.pdf_sha256:
                    problems += 1
                    self.stdout.write(
                        f"{where}: {row.pdf.name} is not the file stored when it was issued (SHA-256 differs)"
                    )
        return problems
