"""The order admin's invoice and email parts, mixed into OrderAdmin (orders/admin.py): the
invoice's download link and the emails sent on the order page, a staff download URL, and the
actions "Regenerate invoice" and "Resend confirmation". Everything goes through
orders.invoices and orders.tasks; nothing here decides anything."""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from config.transactions import after_commit

from .invoices import INVOICEABLE_STATUSES, InvoiceNotAllowed, invoice_generate
from .models import EmailLog, Invoice, Order
from .tasks import send_order_email

# Rendering runs in the request: a few hundred milliseconds a page. More orders than this at
# once belong to `manage.py regenerate_invoice`, one by one.
REGENERATE_MAX_ORDERS = 50


class OrderInvoiceAdminMixin:
    """For OrderAdmin: list "invoice_link" and "emails_sent" in its readonly_fields and
    fieldsets, and "regenerate_invoices" and "resend_confirmation" in its actions."""

    @admin.display(description="invoice")
    def invoice_link(self, order: Order) -> str:
        if order.pk is None:
            return "—"
        invoice = Invoice.objects.filter(order=order).first()
        url = reverse("admin:orders_order_invoice", args=[order.pk])
        if invoice is not None:
            return format_html(
                '<a href="{}">{} (PDF)</a>, issued {}', url, invoice.number, timezone.localtime(invoice.issued_at).date()
            )
        if order.status in INVOICEABLE_STATUSES:
            return format_html('None yet: <a href="{}">issue and download it</a>', url)
        return "None (the order is not paid)"

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
        info = self.opts.app_label, self.opts.model_name
        # Before the default URLs: "<path:object_id>/" would swallow ".../invoice/".
        return [
            path(
                "<path:object_id>/invoice/",
                self.admin_site.admin_view(self.invoice_view),
                name="%s_%s_invoice" % info,
            ),
        ] + super().get_urls()

    def invoice_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The order's invoice PDF for staff, issued and rendered now if it has none yet."""
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404("No such order")
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        try:
            invoice = invoice_generate(order=order)
        except InvoiceNotAllowed as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return FileResponse(invoice.pdf.open("rb"), filename=f"{invoice.number}.pdf", content_type="application/pdf")

    @admin.action(description="Regenerate invoice (same number, new PDF)", permissions=["change"])
    def regenerate_invoices(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        if queryset.count() > REGENERATE_MAX_ORDERS:
            self.message_user(
                request,
                f"Select at most {REGENERATE_MAX_ORDERS} orders at a time (or use manage.py regenerate_invoice).",
                messages.ERROR,
            )
            return
        done = []
        # One order at a time, each in its own transactions: an unpaid order in the selection
        # is reported and does not stop the others.
        for order in queryset.order_by("pk"):
            try:
                done.append(invoice_generate(order=order, regenerate=True).number)
            except InvoiceNotAllowed as exc:
                self.message_user(request, exc.message, messages.ERROR)
        if done:
            self.message_user(request, f"Regenerated {', '.join(done)}.", messages.SUCCESS)

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
