"""
Invoices: one per order, numbered INV-<year>-<6 digits>, sequential and gap-free per year, and
a PDF of it rendered with WeasyPrint from templates/orders/invoice.html, kept in Invoice.pdf
(default storage).

Numbering: the year's InvoiceCounter row is locked while its next number is taken, and the
number and the Invoice row commit in that same transaction, so a rolled-back issue gives its
number back and no two invoices share one. Rendering happens outside any transaction (it takes
a noticeable fraction of a second) and can be repeated at will: regenerating re-renders the same
invoice under the same number.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invoice, InvoiceCounter, Order, OrderEvent, OrderLine
from .selectors import PAID_OR_LATER

logger = logging.getLogger(__name__)

# WeasyPrint (Pango and fontconfig underneath) does not promise thread safety, and crashes in
# threaded servers have been reported. Renders in one process take turns; Celery's prefork
# workers are separate processes and render side by side.
_RENDER_LOCK = threading.Lock()

# A pending, failed, expired or cancelled-unpaid order never gets an invoice (it sold nothing).
INVOICEABLE_STATUSES = frozenset(PAID_OR_LATER)


class InvoiceNotAllowed(ValueError):
    """The order has no invoice and cannot get one (it was never paid)."""

    code = "invoice_not_allowed"

    def __init__(self, order: Order):
        self.order = order
        super().__init__(f"Order {order.number} is {order.get_status_display().lower()}: it has no invoice.")

    @property
    def message(self) -> str:
        return str(self)


def invoice_number(*, year: int, sequence: int) -> str:
    return f"INV-{year}-{sequence:06d}"


def invoice_available(*, order: Order) -> bool:
    """True when the order has an invoice or may be given one now (for links and buttons)."""
    return order.status in INVOICEABLE_STATUSES or Invoice.objects.filter(order_id=order.pk).exists()


def invoice_issue(*, order: Order) -> Invoice:
    """The order's invoice, issued now with the next number of the current year if it has none.

    Idempotent: an order has at most one invoice, and issuing again (even concurrently)
    returns it. Gap-free: the number is taken from the year's InvoiceCounter under a row lock
    and commits together with the Invoice row (inside the caller's transaction, if any, in
    which case the counter stays locked until that commits: keep such callers short).
    Writes an INVOICED OrderEvent. Raises InvoiceNotAllowed (a ValueError) for an order that
    has no invoice and is not paid (pending, failed, expired, cancelled).
    """
    existing = Invoice.objects.filter(order_id=order.pk).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        # Why lock the order first: two issuers of the same order (the paid task and a
        # shopper's download, say) queue here and the second finds the first one's invoice,
        # instead of both taking a number. The lock order is always order row, then counter
        # row; nothing locks them the other way round, so this cannot deadlock.
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Invoice.objects.filter(order_id=order.pk).first()
        if existing is not None:
            return existing
        if order.status not in INVOICEABLE_STATUSES:
            raise InvoiceNotAllowed(order)
        issued_at = timezone.now()
        year = timezone.localtime(issued_at).year
        sequence = _counter_next(year)
        invoice = Invoice.objects.create(
            order=order,
            number=invoice_number(year=year, sequence=sequence),
            year=year,
            sequence=sequence,
            issued_at=issued_at,
        )
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.INVOICED, note=invoice.number)
    return invoice


def _counter_next(year: int) -> int:
    """Takes the next number of `year`. Must run inside the transaction that stores it."""
    # The year's first invoice creates the row. INSERT … ON CONFLICT DO NOTHING never fails
    # when two first invoices of a year race: the second insert waits for the first one's
    # transaction and then does nothing (a plain get_or_create would raise IntegrityError in
    # one of them and abort its transaction).
    InvoiceCounter.objects.bulk_create([InvoiceCounter(year=year, last_number=0)], ignore_conflicts=True)
    # Why FOR UPDATE: every issuer of the year queues on this row until its transaction ends,
    # so each reads the number the previous one committed; a rollback releases the lock with
    # last_number unchanged, so the number is given to the next issuer: no gaps, no repeats.
    counter = InvoiceCounter.objects.select_for_update().get(year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def invoice_render_pdf(*, invoice: Invoice) -> bytes:
    """The invoice as an A4 PDF (bytes): seller, buyer, lines with tax, totals. Reads the order
    and its lines; writes nothing. Raises what WeasyPrint raises."""
    # Imported here: WeasyPrint takes about a second to import (Pango, fonts), and only the
    # processes that render invoices should pay for it.
    from weasyprint import HTML

    order = invoice.order
    html = render_to_string("orders/invoice.html", invoice_context(invoice=invoice, lines=order.lines.all()))
    with _RENDER_LOCK:
        return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def invoice_context(*, invoice: Invoice, lines: Iterable[OrderLine]) -> dict:
    """What templates/orders/invoice.html shows (also used by the benchmark)."""
    order = invoice.order
    return {
        "invoice": invoice,
        "order": order,
        "lines": [
            # 0.2000 → "20", 0.0750 → "7.5"
            {"line": line, "tax_percent": f"{(line.tax_rate * 100).normalize():f}"}
            for line in lines
        ],
        "shop_name": settings.SITE_NAME,
        "shop_address": settings.SHOP_ADDRESS,
        "shop_tax_id": settings.SHOP_TAX_ID,
    }


def invoice_generate(*, order: Order, regenerate: bool = False) -> Invoice:
    """Issues the order's invoice if needed and makes sure its PDF is stored: the task behind
    "paid", the shopper's download and the staff's "Regenerate invoice".

    Idempotent: an invoice whose PDF is already stored is returned as it is, unless
    `regenerate`, which renders it again (same number) and replaces the file. Raises
    InvoiceNotAllowed for an order that is not paid, what WeasyPrint or the storage raise
    otherwise (nothing half-written: the old file stays until the new one is in place).
    """
    invoice = invoice_issue(order=order)
    if not regenerate and _pdf_stored(invoice):
        return invoice
    pdf = invoice_render_pdf(invoice=invoice)
    return _invoice_store_pdf(invoice=invoice, pdf=pdf, replace=regenerate)


def _pdf_stored(invoice: Invoice) -> bool:
    return bool(invoice.pdf) and invoice.pdf.storage.exists(invoice.pdf.name)


def _invoice_store_pdf(*, invoice: Invoice, pdf: bytes, replace: bool) -> Invoice:
    # The file is written before the row points at it and the old file deleted only after the
    # row has committed, so a crash in between leaves at worst an orphaned file, never a row
    # pointing at nothing.
    with transaction.atomic():
        # Why lock the invoice row: two renderers finishing together (a retried task and a
        # download) must not both record a file; the second one finds the first one's PDF.
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if not replace and _pdf_stored(locked):
            return locked
        old_name = locked.pdf.name
        locked.pdf.save(f"{locked.number}.pdf", ContentFile(pdf), save=False)
        Invoice.objects.filter(pk=locked.pk).update(pdf=locked.pdf.name)
        if old_name and old_name != locked.pdf.name:
            storage = locked.pdf.storage
            transaction.on_commit(partial(_delete_quietly, storage, old_name))
    return locked


def _delete_quietly(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:  # an orphaned old PDF is untidy, not wrong
        logger.warning("could not delete the replaced invoice PDF %s", name)


def invoice_pdf_bytes(*, invoice: Invoice) -> bytes:
    """The stored PDF's bytes (for attachments)."""
    with invoice.pdf.open("rb") as handle:
        return handle.read()
