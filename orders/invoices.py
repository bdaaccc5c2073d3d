"""
Invoices: one per order, numbered INV-<year>-<6 digits>, sequential per year and never
repeated, and a PDF of it rendered with WeasyPrint from templates/orders/invoice.html, kept in
Invoice.pdf (default storage, invoices/<year>/<number>.pdf).

An issued invoice is a document, not a view of the order: invoice_issue stores what it states
(seller, buyer, addresses, lines, taxes, totals) in Invoice.snapshot, in the transaction that
takes its number, and the PDF is rendered from that snapshot alone. A name or address edited
on the order afterwards never reaches an issued invoice. The PDF is stored once and never
replaced or deleted; a lost file is rendered again from the snapshot, under the same name,
with the same content (WeasyPrint renders the same snapshot to the same bytes as long as it
and its fonts are the same). Corrections and money going back are credit notes
(orders.credit_notes), which share the numbering and storage helpers below.

Numbering (number_next): the year's counter row is locked while its next number is taken, and
the number and the document row commit in that same transaction, so a rolled-back issue gives
its number back and no two documents share one. After a database restore the counter and the
table know nothing of the numbers issued after the dump, but their PDFs are still in storage
(media is not in the dump): the next number is therefore above the counter, the table's
highest number of the year, and every stored PDF of the year. A gap in the table is then
expected: those numbers are the documents issued after the dump (docs/RUNBOOK.md).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext

from kernel.errors import DomainError
from kernel.i18n import language_or_default

from .models import CreditNote, CreditNoteCounter, Invoice, InvoiceCounter, Order, OrderEvent
from .selectors import PAID_OR_LATER

logger = logging.getLogger(__name__)

# WeasyPrint (Pango and fontconfig underneath) does not promise thread safety, and crashes in
# threaded servers have been reported. Renders in one process take turns; Celery's prefork
# workers are separate processes and render side by side.
_RENDER_LOCK = threading.Lock()

# A pending, failed, expired or cancelled-unpaid order never gets an invoice (it sold nothing).
# A paid order cancelled later keeps (or still gets) one: it sold, then a credit note undid it.
INVOICEABLE_STATUSES = frozenset(PAID_OR_LATER)

# The shape of Invoice.snapshot and CreditNote.snapshot. A later shape gets a new number, and
# the templates keep reading the old ones: an issued document is never rewritten.
SNAPSHOT_VERSION = 1
CENT = Decimal("0.01")


class InvoiceNotAllowed(DomainError, ValueError):
    """The order has no invoice and cannot get one (it was never paid)."""

    code = "invoice_not_allowed"
    http_status = HTTPStatus.CONFLICT  # not paid (yet)

    def __init__(self, order: Order):
        self.order = order
        super().__init__(
            gettext("Order %(number)s is %(status)s: it has no invoice.")
            % {"number": order.number, "status": order.get_status_display().lower()}
        )

    @property
    def message(self) -> str:
        return str(self)


# -- numbers (invoices and credit notes) ----------------------------------------------------


# A numbered document (an invoice or a credit note) and the counter of its NumberSeries.
DocumentT = TypeVar("DocumentT", Invoice, CreditNote)
CounterT = TypeVar("CounterT", InvoiceCounter, CreditNoteCounter)


@dataclass(frozen=True)
class NumberSeries(Generic[DocumentT, CounterT]):
    """A gap-free yearly sequence of documents: `prefix`-<year>-<6 digits>, the counter model
    (year primary key, last_number) whose row is locked to take a number, the document model
    (year, sequence, pdf) and the storage folder of its PDFs (<folder>/<year>/<number>.pdf)."""

    prefix: str
    folder: str
    counter: type[CounterT]
    documents: type[DocumentT]

    def storage(self) -> Storage:
        """The storage of the documents' PDFs (their `pdf` field's)."""
        return self.documents._meta.get_field("pdf").storage

    def number(self, *, year: int, sequence: int) -> str:
        return f"{self.prefix}-{year}-{sequence:06d}"

    def pdf_name(self, *, year: int, number: str) -> str:
        return f"{self.folder}/{year}/{number}.pdf"

    def stored_file_names(self, *, year: int, number: str) -> list[str]:
        # Files written before PDFs were filed by the document's year are in the folder of the
        # year they were written: a December number may sit in next January's folder.
        return [self.pdf_name(year=year, number=number), self.pdf_name(year=year + 1, number=number)]

    def stored_files(self, *, folders: list[str] | None = None) -> list[tuple[str, int, int]]:
        """(name, year, sequence) of every PDF of this series stored in the year folders
        `folders` (e.g. ["2026"]; None: all of them). A listing: for the rare case in which
        number_next found a stored number, and for the check_documents command."""
        storage = self.storage()
        # "_<random>" is the suffix the storage gives a file saved under a name that was taken.
        pattern = re.compile(rf"^{re.escape(self.prefix)}-(\d{{4}})-(\d{{6}})(?:_[A-Za-z0-9]+)?\.pdf$")
        if folders is None:
            folders = _listdir(storage, self.folder)[0]
        found = []
        for folder in sorted(folders):
            for name in sorted(_listdir(storage, f"{self.folder}/{folder}")[1]):
                match = pattern.match(name)
                if match:
                    found.append((f"{self.folder}/{folder}/{name}", int(match.group(1)), int(match.group(2))))
        return found

    def stored_sequences(self, *, year: int) -> list[int]:
        """The sequences of `year` that have a PDF in storage."""
        files = self.stored_files(folders=[str(year), str(year + 1)])
        return [sequence for _name, file_year, sequence in files if file_year == year]


def _listdir(storage, folder: str) -> tuple[list[str], list[str]]:
    try:
        return storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return [], []


INVOICES = NumberSeries(prefix="INV", folder="invoices", counter=InvoiceCounter, documents=Invoice)


@dataclass(frozen=True)
class NextNumber:
    sequence: int
    # Numbers stepped past because they were issued before a database restore (their PDF is
    # stored, their row is gone): recorded in the document's event so the gap is explained.
    skipped: range

    def skipped_note(self, series: NumberSeries[Any, Any], *, year: int) -> str:
        if not self.skipped:
            return ""
        first = series.number(year=year, sequence=self.skipped.start)
        last = series.number(year=year, sequence=self.skipped.stop - 1)
        return f" ({first} to {last} skipped: their PDFs are stored but not in the database, which was restored)"


def number_next(series: NumberSeries[DocumentT, CounterT], *, year: int) -> NextNumber:
    """Takes the next number of `year` in `series`. Must run inside the transaction that stores
    the document: the counter row stays locked until it ends."""
    # The year's first document creates the row. INSERT … ON CONFLICT DO NOTHING never fails
    # when two first documents of a year race: the second insert waits for the first one's
    # transaction and then does nothing (a plain get_or_create would raise IntegrityError in
    # one of them and abort its transaction).
    series.counter.objects.bulk_create([series.counter(year=year, last_number=0)], ignore_conflicts=True)
    # Why FOR UPDATE: every issuer of the year queues on this row until its transaction ends,
    # so each reads the number the previous one committed; a rollback releases the lock with
    # last_number unchanged, so the number is given to the next issuer: no gaps, no repeats.
    counter = series.counter.objects.select_for_update().get(year=year)
    # The table and the stored files count too: after a restore from a dump, numbers issued
    # since are missing from the counter (and the table) but their PDFs are still stored, and
    # were sent to customers. The table's max is one index lookup; for the files one exists()
    # of the candidate per issue is enough in normal running (its PDF is written after this
    # commits, so it never exists). Only when it does, i.e. right after a restore, is the
    # year's folder listed once to find the highest stored number.
    highest_row = series.documents.objects.filter(year=year).aggregate(top=Max("sequence"))["top"] or 0
    floor = max(counter.last_number, highest_row)
    sequence = floor + 1
    storage = series.storage()
    number = series.number(year=year, sequence=sequence)
    if any(storage.exists(name) for name in series.stored_file_names(year=year, number=number)):
        sequence = max([sequence, *series.stored_sequences(year=year)]) + 1
        logger.warning(
            "%s numbers of %s from %s are stored as PDFs but unknown to the database (restored?): next is %s",
            series.prefix,
            year,
            number,
            series.number(year=year, sequence=sequence),
            extra={"event": "documents.numbers_skipped", "series": series.prefix, "year": year},
        )
    counter.last_number = sequence
    counter.save(update_fields=["last_number"])
    return NextNumber(sequence=sequence, skipped=range(floor + 1, sequence))


# -- issuing an invoice ----------------------------------------------------------------------


def invoice_number(*, year: int, sequence: int) -> str:
    return INVOICES.number(year=year, sequence=sequence)


def _invoiceable(order: Order) -> bool:
    # An imported order is history from the previous shop, which invoiced it: none of ours.
    if order.imported_at is not None:
        return False
    return order.status in INVOICEABLE_STATUSES or (
        order.status == Order.Status.CANCELLED and order.paid_at is not None
    )


def invoice_available(*, order: Order) -> bool:
    """True when the order has an invoice or may be given one now (for links and buttons)."""
    return _invoiceable(order) or Invoice.objects.filter(order_id=order.pk).exists()


def invoice_issue(*, order: Order) -> Invoice:
    """The order's invoice, issued now with the next number of the current year if it has none.

    Idempotent: an order has at most one invoice, and issuing again (even concurrently)
    returns it. Numbers: taken from the year's InvoiceCounter under a row lock, committed
    together with the Invoice row (inside the caller's transaction, if any, in which case the
    counter stays locked until that commits: keep such callers short), never one already
    issued (number_next). The invoice's snapshot (invoice_snapshot) is taken from the order,
    locked, in the same transaction. Writes an INVOICED OrderEvent. Raises InvoiceNotAllowed
    (a ValueError) for an order that was never paid (pending, failed, expired, cancelled
    unpaid).
    """
    existing = Invoice.objects.filter(order_id=order.pk).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        # Why lock the order first: two issuers of the same order (the paid task and a
        # shopper's download, say) queue here and the second finds the first one's invoice,
        # instead of both taking a number; and the snapshot reads the order as it is locked.
        # The lock order is always order row, then counter row; nothing locks them the other
        # way round, so this cannot deadlock.
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Invoice.objects.filter(order_id=order.pk).first()
        if existing is not None:
            return existing
        if not _invoiceable(order):
            raise InvoiceNotAllowed(order)
        issued_at = timezone.now()
        year = timezone.localtime(issued_at).year
        taken = number_next(INVOICES, year=year)
        number = invoice_number(year=year, sequence=taken.sequence)
        invoice = Invoice.objects.create(
            order=order,
            number=number,
            year=year,
            sequence=taken.sequence,
            issued_at=issued_at,
            snapshot=invoice_snapshot(order=order, number=number, issued_at=issued_at),
        )
        OrderEvent.objects.create(
            order=order, type=OrderEvent.Type.INVOICED, note=number + taken.skipped_note(INVOICES, year=year)
        )
    return invoice


def money(value) -> str:
    """Decimal → "12.30", as snapshots store money (never a float)."""
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def _address(order: Order, kind: str) -> dict:
    """The order's "shipping" or "billing" address as the snapshot states it: every field of
    kernel.addresses.ADDRESS_FIELDS, strings (the country its code, the phone E.164).
    Snapshots issued before billing addresses held only name, line1, line2, postal_code,
    city, country and phone of the shipping address, as both buyer and ship_to; they are
    printed as they are (kernel.addresses formats a missing field as empty)."""
    return order.billing_address if kind == "billing" else order.shipping_address


def invoice_snapshot(*, order: Order, number: str, issued_at) -> dict:
    """What the invoice states, as JSON: version, number, issued_on (local date, ISO),
    seller {name, address, tax_id} (SITE_NAME, SHOP_ADDRESS, SHOP_TAX_ID now), buyer {email,
    name, address…}, ship_to {address…, method}, order {number, placed_on, paid_on},
    currency, prices_include_tax, lines [{line_id, title, variant, sku, quantity, unit_price,
    line_total, tax_rate, tax_amount}], subtotal, discount {code, amount}, shipping {method,
    price, tax}, tax_total, total. Money as decimal strings in the order currency; tax_rate a
    fraction ("0.2000"). Shipping tax is the order's tax less its lines' (checkout taxes
    shipping at the lines' rate). Reads the order's lines; writes nothing."""
    lines = list(order.lines.order_by("pk"))
    line_tax = sum((line.tax_amount for line in lines), Decimal("0"))
    return {
        "version": SNAPSHOT_VERSION,
        "number": number,
        "issued_on": timezone.localdate(issued_at).isoformat(),
        "seller": {"name": settings.SITE_NAME, "address": settings.SHOP_ADDRESS, "tax_id": settings.SHOP_TAX_ID},
        # The buyer is billed at the billing address (the shipping one unless another was given).
        "buyer": {"email": order.email, **_address(order, "billing")},
        "ship_to": {**_address(order, "shipping"), "method": order.shipping_method_name},
        "order": {
            "number": order.number,
            "placed_on": timezone.localdate(order.created_at).isoformat(),
            "paid_on": timezone.localdate(order.paid_at).isoformat() if order.paid_at else None,
        },
        "currency": order.currency,
        "prices_include_tax": order.prices_include_tax,
        "lines": [
            {
                "line_id": line.pk,
                "title": line.product_title,
                "variant": line.variant_title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "line_total": money(line.line_total),
                "tax_rate": str(line.tax_rate),
                "tax_amount": money(line.tax_amount),
            }
            for line in lines
        ],
        "subtotal": money(order.subtotal),
        "discount": {"code": order.voucher_code, "amount": money(order.discount_total)},
        "shipping": {
            "method": order.shipping_method_name,
            "price": money(order.shipping_total),
            "tax": money(order.tax_total - line_tax),
        },
        "tax_total": money(order.tax_total),
        "total": money(order.total),
    }


# -- rendering and storing (invoices and credit notes) --------------------------------------


def tax_percent(rate: str | Decimal | None) -> str:
    """A tax rate fraction for people, written as the active language writes numbers:
    "0.2000" → "20", "0.0750" → "7.5" (German "7,5"); "" for none."""
    if rate is None or rate == "":
        return ""
    percent = Decimal(f"{(Decimal(rate) * 100).normalize():f}")  # no exponent: 20, not 2E+1
    return formats.number_format(percent)


def _display(snapshot: dict) -> dict:
    """The snapshot as templates read it: ISO dates as dates (for the date filter), each line
    and row with its tax rate as a percentage in the active language. Amounts stay the
    snapshot's decimal strings: the templates write them with the money filter
    (kernel.money.format_money), as pages and emails do. Nothing else is looked up."""
    doc = dict(snapshot)
    doc["issued_on"] = date.fromisoformat(doc["issued_on"])
    doc["order"] = {
        **doc["order"],
        "placed_on": date.fromisoformat(doc["order"]["placed_on"]),
        "paid_on": date.fromisoformat(doc["order"]["paid_on"]) if doc["order"].get("paid_on") else None,
    }
    for rows in ("lines", "rows"):
        if rows in doc:
            doc[rows] = [{**row, "tax_percent": tax_percent(row.get("tax_rate"))} for row in doc[rows]]
    if "invoice" in doc:
        doc["invoice"] = {**doc["invoice"], "issued_on": date.fromisoformat(doc["invoice"]["issued_on"])}
    return doc


def document_render_pdf(*, template: str, snapshot: dict) -> bytes:
    """`snapshot` rendered through `template` as an A4 PDF (bytes). Reads nothing but the
    snapshot; writes nothing. Raises what WeasyPrint raises."""
    # Imported here: WeasyPrint takes about a second to import (Pango, fonts), and only the
    # processes that render documents should pay for it.
    from weasyprint import HTML  # noqa: PLC0415

    # Without libharfbuzz-subset WeasyPrint subsets fonts with fontTools, which stamps each
    # font it writes with the current time unless SOURCE_DATE_EPOCH names one
    # (https://reproducible-builds.org/specs/source-date-epoch/): the same snapshot would
    # give other bytes a second later, and a restored PDF would not match its sha256.
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    html = render_to_string(template, {"doc": _display(snapshot)})
    with _RENDER_LOCK:
        return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(
            stylesheets=[_document_stylesheet()], font_config=_font_configuration()
        )


@functools.cache
def _font_configuration():
    """The process's WeasyPrint FontConfiguration, made on the first render and kept: without
    one WeasyPrint makes a new one per render, which loads fontconfig's configuration and
    font list again and starts Pango's font map (its cache of opened fonts, glyph metrics and
    shaping) empty, about a fifth of a one-page invoice's render. The PDF bytes do not depend
    on it (tests/orders/test_invoice_render_reuse.py): the fonts written are subset from the
    glyphs each document uses. Used under _RENDER_LOCK only, like everything WeasyPrint."""
    from weasyprint.text.fonts import FontConfiguration  # noqa: PLC0415

    return FontConfiguration()


@functools.cache
def _document_stylesheet():
    """templates/orders/_document.css, the documents' fixed stylesheet, parsed by WeasyPrint
    once per process instead of in every document's <style> (about 5 % of a one-page render).
    The same rules as when they were inline: the bytes do not change
    (tests/orders/test_invoice_render_reuse.py)."""
    from weasyprint import CSS  # noqa: PLC0415

    return CSS(string=render_to_string("orders/_document.css"), font_config=_font_configuration())


def pdf_stored(document) -> bool:
    """Whether the document's PDF is in storage."""
    return bool(document.pdf) and document.pdf.storage.exists(document.pdf.name)


def document_store_pdf_once(
    *, document: DocumentT, series: NumberSeries[DocumentT, Any], render: Callable[[], bytes]
) -> tuple[DocumentT, bool]:
    """Makes sure `document` (an Invoice or CreditNote) has its PDF stored: returns the row
    (re-read) and True if this call stored it, False if it was stored already. `render()`
    gives the PDF bytes; it is called only when the file is missing, outside any transaction.

    Never deletes or overwrites a file: a missing file is written under the name the row
    records (or <folder>/<year>/<number>.pdf for a first render); should that name be taken
    by then, the storage picks a free one and the row follows it.
    """
    if pdf_stored(document):
        return document, False
    pdf = render()
    digest = hashlib.sha256(pdf).hexdigest()
    model = type(document)
    with transaction.atomic():
        # Why lock the row: two renderers finishing together (a retried task and a download)
        # must not both store a file; the second one finds the first one's PDF.
        locked = model.objects.select_for_update().get(pk=document.pk)
        if pdf_stored(locked):
            return locked, False
        storage = locked.pdf.storage
        name = locked.pdf.name or series.pdf_name(year=locked.year, number=locked.number)
        if not locked.pdf.name and storage.exists(name) and _sha256_of(storage, name) == digest:
            # Our own earlier render whose row update was lost (a crash between the two): the
            # same bytes, so it is this document's file.
            saved = name
        else:
            saved = storage.save(name, ContentFile(pdf), max_length=model._meta.get_field("pdf").max_length)
        model.objects.filter(pk=locked.pk).update(pdf=saved, pdf_sha256=digest)
        locked.pdf.name, locked.pdf_sha256 = saved, digest
    return locked, True


def _sha256_of(storage, name: str) -> str:
    with storage.open(name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def document_pdf_bytes(document) -> bytes:
    """The stored PDF's bytes (for attachments)."""
    with document.pdf.open("rb") as handle:
        return handle.read()


# -- the invoice's PDF -----------------------------------------------------------------------


def invoice_context(*, invoice: Invoice) -> dict:
    """What templates/orders/invoice.html shows: the invoice's snapshot, as `doc`."""
    return {"doc": _display(invoice.snapshot)}


def invoice_render_pdf(*, invoice: Invoice) -> bytes:
    """The invoice as an A4 PDF (bytes): seller, buyer, lines with tax, totals, all from its
    snapshot (the order is not read). Writes nothing. Raises what WeasyPrint raises."""
    return document_render_pdf(template="orders/invoice.html", snapshot=invoice.snapshot)


@dataclass(frozen=True)
class StoredPdf(Generic[DocumentT]):
    """What invoice_pdf_restore (or credit_note_pdf_restore) found and did: the document, and
    `outcome`: PRESENT (its PDF was stored and has been left as it is), FIRST (it had none
    yet: rendered and stored now) or RESTORED (its file was missing: rendered again from the
    snapshot under the same name)."""

    PRESENT = "present"
    FIRST = "first"
    RESTORED = "restored"

    document: DocumentT
    outcome: str


def pdf_restore(
    *, document: DocumentT, series: NumberSeries[DocumentT, Any], render: Callable[[], bytes]
) -> StoredPdf[DocumentT]:
    """document_store_pdf_once, telling a first render from a restore; a restore is recorded
    as an OrderEvent on the document's order."""
    had_file = bool(document.pdf)
    document, stored_now = document_store_pdf_once(document=document, series=series, render=render)
    if not stored_now:
        return StoredPdf(document=document, outcome=StoredPdf.PRESENT)
    if not had_file:
        return StoredPdf(document=document, outcome=StoredPdf.FIRST)
    OrderEvent.objects.create(
        order_id=document.order_id, type=OrderEvent.Type.NOTE, note=f"{document.number}: missing PDF rendered again"
    )
    return StoredPdf(document=document, outcome=StoredPdf.RESTORED)


def invoice_pdf_restore(*, order: Order) -> StoredPdf[Invoice]:
    """Issues the order's invoice if needed and makes sure its PDF is stored: the staff's
    "Restore missing invoice PDFs" and `manage.py regenerate_invoice`. A stored PDF is left
    alone; a missing one is rendered again from the snapshot under the same name (an
    OrderEvent says so). Raises InvoiceNotAllowed for an order that was never paid, what
    WeasyPrint or the storage raise otherwise."""
    # Written in the language the order was placed in, whoever asks (the paid task, staff).
    with translation.override(language_or_default(order.language)):
        invoice = invoice_issue(order=order)
        return pdf_restore(document=invoice, series=INVOICES, render=lambda: invoice_render_pdf(invoice=invoice))


def invoice_generate(*, order: Order) -> Invoice:
    """Issues the order's invoice if needed and makes sure its PDF is stored: the task behind
    "paid" and every download. Idempotent: a stored PDF is returned as it is (never rendered
    again); a missing one is rendered from the snapshot. Raises InvoiceNotAllowed for an
    order that was never paid, what WeasyPrint or the storage raise otherwise."""
    return invoice_pdf_restore(order=order).document


def invoice_pdf_bytes(*, invoice: Invoice) -> bytes:
    """The stored PDF's bytes (for attachments)."""
    return document_pdf_bytes(invoice)
