"""The order admin's invoice, credit note and email parts, mixed into OrderAdmin
(orders/admin.py): the invoice's and credit notes' download links and the emails sent on the
order page, staff download URLs, and the actions "Restore missing invoice PDFs" and "Resend
confirmation". Issued documents are never rendered again over a stored file: the restore
action renders only a PDF that is missing, from the document's snapshot. Everything goes
through orders.invoices, orders.credit_notes and orders.tasks; nothing here decides anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from kernel.transactions import after_commit

from .credit_notes import credit_note_generate, credit_note_of, credit_note_pdf_restore
from .invoices import INVOICEABLE_STATUSES, InvoiceNotAllowed, StoredPdf, invoice_generate, invoice_pdf_restore
from .models import CreditNote, EmailLog, Invoice, Order
from .tasks import send_order_email

# Rendering runs in the request: a few hundred milliseconds a page. More orders than this at
# once belong to `manage.py regenerate_invoice`, one by one.
REGENERATE_MAX_ORDERS = 50

if TYPE_CHECKING:
    # What the mixin is mixed into (OrderAdmin), so that the type checker knows its self.
    _OrderAdmin = admin.ModelAdmin[Order]
else:
    _OrderAdmin = object


class OrderInvoiceAdminMixin(_OrderAdmin):
    """For OrderAdmin: list "invoice_link", "credit_note_links" and "emails_sent" in its
    readonly_fields and fieldsets, and "restore_invoice_pdfs" and "resend_confirmation" in
    its actions."""

    @admin.display(description="invoice")
    def invoice_link(self, order: Order) -> str:
        if order.pk is None:
            return "—"
        invoice = Invoice.objects.filter(order=order).first()
        url = reverse("admin:orders_order_invoice", args=[order.pk])
        if invoice is not None:
            return format_html(
                '<a href="{}">{} (PDF)</a>, issued {}',
                url,
                invoice.number,
                timezone.localtime(invoice.issued_at).date(),
            )
        if order.imported_at is not None:
            return "None (imported: the previous shop invoiced it)"
        if order.status in INVOICEABLE_STATUSES:
            return format_html('None yet: <a href="{}">issue and download it</a>', url)
        return "None (the order is not paid)"

    @admin.display(description="credit notes")
    def credit_note_links(self, order: Order) -> str:
        if order.pk is None:
            return "—"
        notes = CreditNote.objects.filter(order=order).select_related("invoice").order_by("year", "sequence")
        rows = format_html_join(
            "",
            '<li><a href="{}">{} (PDF)</a>, issued {}: {} {} credited on {} ({})</li>',
            (
                (
                    reverse("admin:orders_order_credit_note", args=[order.pk, note.number]),
                    note.number,
                    timezone.localtime(note.issued_at).date(),
                    note.amount,
                    order.currency,
                    note.invoice.number,
                    note.reason,
                )
                for note in notes
            ),
        )
        return format_html('<ul class="order-credit-notes">{}</ul>', rows) if notes else "None"

    @admin.display(description="emails")
    def emails_sent(self, order: Order) -> str:
        if order.pk is None:
            return "—"
        logs = EmailLog.objects.filter(order=order).order_by("created_at", "pk")
        rows = format_html_join(
            "",
            "<li>{}: {} → {}, {}</li>",
            (
                (
                    log.kind.replace("_", " "),
                    log.subject,
                    log.to,
                    f"sent {timezone.localtime(log.sent_at):%Y-%m-%d %H:%M}" if log.sent_at else "being sent",
                )
                for log in logs
            ),
        )
        return format_html('<ul class="order-emails">{}</ul>', rows) if logs else "None"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        # Before the default URLs: "<path:object_id>/" would swallow ".../invoice/".
        return [
            path(
                "<path:object_id>/invoice/",
                self.admin_site.admin_view(self.invoice_view),
                name=f"{prefix}_invoice",
            ),
            path(
                "<path:object_id>/credit-notes/<str:number>/",
                self.admin_site.admin_view(self.credit_note_view),
                name=f"{prefix}_credit_note",
            ),
        ] + super().get_urls()

    def _viewable_order(self, request: HttpRequest, object_id: str) -> Order:
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404("No such order")
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        return order

    def invoice_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """The order's invoice PDF for staff, issued and rendered now if it has none yet."""
        order = self._viewable_order(request, object_id)
        try:
            invoice = invoice_generate(order=order)
        except InvoiceNotAllowed as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return FileResponse(invoice.pdf.open("rb"), filename=f"{invoice.number}.pdf", content_type="application/pdf")

    def credit_note_view(self, request: HttpRequest, object_id: str, number: str) -> HttpResponseBase:
        """A credit note PDF of the order, for staff who may view it."""
        note = credit_note_of(order=self._viewable_order(request, object_id), number=number)
        if note is None:
            raise Http404("No such credit note")
        note = credit_note_generate(credit_note=note)
        return FileResponse(note.pdf.open("rb"), filename=f"{note.number}.pdf", content_type="application/pdf")

    @admin.action(description="Restore missing invoice PDFs (never replaces a stored one)", permissions=["change"])
    def restore_invoice_pdfs(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        if queryset.count() > REGENERATE_MAX_ORDERS:
            self.message_user(
                request,
                f"Select at most {REGENERATE_MAX_ORDERS} orders at a time (or use manage.py regenerate_invoice).",
                messages.ERROR,
            )
            return
        rendered: list[str] = []
        present: list[str] = []
        # One order at a time, each in its own transactions: an unpaid order in the selection
        # is reported and does not stop the others. An issued invoice (and its credit notes)
        # is a document: a stored PDF is left as it is, a missing one rendered again from
        # what was stored when it was issued, so it says what it said then.
        for order in queryset.order_by("pk"):
            try:
                results: list[StoredPdf[Invoice] | StoredPdf[CreditNote]] = [invoice_pdf_restore(order=order)]
            except InvoiceNotAllowed as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            results += [credit_note_pdf_restore(credit_note=note) for note in order.credit_notes.order_by("pk")]
            for result in results:
                (present if result.outcome == StoredPdf.PRESENT else rendered).append(result.document.number)
        if rendered:
            self.message_user(request, f"Rendered the missing PDF of {', '.join(rendered)}.", messages.SUCCESS)
        if present:
            self.message_user(request, f"Already stored, left as they are: {', '.join(present)}.", messages.INFO)

    @admin.action(description="Resend confirmation (with invoice)", permissions=["change"])
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        # A key of its own per click: the first confirmation (keyed by the number) and every
        # earlier resend stay in EmailLog as sent, and this one goes out once.
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S.%f")
        queued = 0
        for order in queryset.order_by("pk"):
            if order.status not in INVOICEABLE_STATUSES:
                self.message_user(request, f"Order {order.number} is not paid: it has no confirmation.", messages.ERROR)
                continue
            after_commit(send_order_email.delay, "order_confirmation", order.pk, f"{order.number}:resend:{stamp}")
            queued += 1
        if queued:
            self.message_user(request, f"Sending the confirmation again for {queued} order(s).", messages.SUCCESS)
