from django.core.management.base import BaseCommand, CommandError

from orders.invoices import InvoiceNotAllowed, invoice_generate
from orders.models import Order


class Command(BaseCommand):
    help = (
        "Renders the invoice PDF of order ORDER_NUMBER again and stores it in place of the old "
        "one, under the same invoice number (an order paid but not yet invoiced gets its invoice "
        "now). Exits 1 for an unknown order number or an order that is not paid."
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
            invoice = invoice_generate(order=order, regenerate=True)
        except InvoiceNotAllowed as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Invoice {invoice.number} of order {order.number} regenerated: {invoice.pdf.name}")
