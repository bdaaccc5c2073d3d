from django.core.management.base import BaseCommand, CommandError

from orders.credit_notes import credit_note_pdf_restore
from orders.invoices import InvoiceNotAllowed, StoredPdf, invoice_pdf_restore
from orders.models import CreditNote, Invoice, Order

SAID = {
    StoredPdf.PRESENT: "stored, left as it is",
    StoredPdf.FIRST: "rendered and stored",
    StoredPdf.RESTORED: "was missing: rendered again from what it stated when issued",
}


class Command(BaseCommand):
    help = (
        "Restores the missing PDFs of order ORDER_NUMBER's invoice and credit notes. Issued "
        "documents never change: a stored PDF is left as it is (never replaced or deleted); a "
        "missing one is rendered again from what the document stated when it was issued, under "
        "the same name. An order paid but not yet invoiced gets its invoice now. Exits 1 for an "
        "unknown order number or an order that was never paid."
    )

    def add_arguments(self, parser):
        parser.add_argument("number", metavar="ORDER_NUMBER", help="the order number, e.g. 7K3QW9XZ")

    def handle(self, *args, number: str, **options):
        # Numbers are read over the phone: accept them in lower case and with spaces.
        number = "".join(number.split()).upper()
        order = Order.objects.filter(number=number).first()
        if order is None:
            raise CommandError(f"No order {number}.")
        try:
            results: list[StoredPdf[Invoice] | StoredPdf[CreditNote]] = [invoice_pdf_restore(order=order)]
        except InvoiceNotAllowed as exc:
            raise CommandError(exc.message) from None
        results += [credit_note_pdf_restore(credit_note=note) for note in order.credit_notes.order_by("pk")]
        for result in results:
            document = result.document
            kind = str(document._meta.verbose_name).capitalize()  # "Invoice", "Credit note"
            self.stdout.write(
                f"{kind} {document.number} of order {order.number}: {document.pdf.name} {SAID[result.outcome]}"
            )
