"""
Credit notes: money going back on an invoice, as a document of its own. An issued invoice is
never changed (orders.invoices); a refund (full or partial) or the cancellation of a paid
order issues a credit note instead, numbered CN-<year>-<6 digits> in a gap-free yearly
sequence of its own (the same counter-row scheme as invoices, never repeating a number after a
database restore: orders.invoices.number_next), referring to the invoice it corrects.

Like the invoice, a credit note stores what it states in `snapshot` when it is issued and its
PDF (templates/orders/credit_note.html, WeasyPrint) is rendered from that alone, stored once
under credit_notes/<year>/<number>.pdf and never replaced.

What it credits:
- Cancellation of a paid order (credit_note_for_cancellation, from orders.services.
  order_cancel): what is left of the invoice, i.e. the invoice's total less every earlier
  credit note, listed as the invoice's lines, discount and shipping less "already credited".
  Tax: the invoice's tax less the tax of the earlier credit notes. So an order cancelled
  after partial refunds ends with exactly its invoice credited, to the cent.
- A refund (credit_note_for_refund, called by payments when a refund has succeeded): the
  amount refunded, as one row, capped at what is left of the invoice. Tax: the tax contained
  in (or added to) the amount in the invoice's proportion, amount × invoice tax / invoice
  total, rounded half up to 0.01; the credit note that credits all that is left takes all the
  tax that is left, so the credit notes of an invoice never add up to more tax than it
  charged. Units put back on hand with the refund are listed for information.
The credit notes of an invoice never add up to more than its total. Each is issued once per
event (`key`, unique), however often it is asked for.
"""

from __future__ import annotations

import logging
import re
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext

from kernel.i18n import language_or_default
from kernel.tasks import enqueue_on_commit

from .invoices import (
    SNAPSHOT_VERSION,
    NumberSeries,
    StoredPdf,
    document_pdf_bytes,
    document_render_pdf,
    invoice_issue,
    money,
    number_next,
    pdf_restore,
)
from .models import CreditNote, CreditNoteCounter, Invoice, Order, OrderEvent

logger = logging.getLogger(__name__)

CREDIT_NOTES = NumberSeries(prefix="CN", folder="credit_notes", counter=CreditNoteCounter, documents=CreditNote)
ZERO = Decimal("0.00")
CENT = Decimal("0.01")

CANCELLATION = "cancellation"
REFUND = "refund"


# What credit_note_number makes; anything else (from a URL) finds nothing without a query.
NUMBER_FORMAT = re.compile(r"CN-[0-9]{4}-[0-9]{6}")


def credit_note_number(*, year: int, sequence: int) -> str:
    return CREDIT_NOTES.number(year=year, sequence=sequence)


def credit_note_of(*, order: Order, number: str) -> CreditNote | None:
    """The credit note `number` of `order`, or None (another order's, unknown, malformed):
    for the downloads, which show it to whoever may see the order."""
    if not NUMBER_FORMAT.fullmatch(number):
        return None
    return CreditNote.objects.filter(order=order, number=number).first()


def credit_note_for_cancellation(*, order: Order, reason: str = "", actor=None) -> CreditNote | None:
    """The credit note of cancelling the paid `order`: all that is left of its invoice (see
    the module docstring), issued now (with the invoice first, if the order had none yet),
    key "cancel:<order pk>". Call it inside the cancelling transaction, before the status
    changes (orders.services.order_cancel does): a rollback takes the number back. The
    "order_cancelled" email attaches its PDF. Returns it, the one issued before for this
    cancellation, or None when nothing is left to credit (earlier credit notes credited it
    all). Raises InvoiceNotAllowed for an order that was never paid."""
    # What the document states, in the order's language (as its PDF and email are written):
    # `reason` comes in that language already (orders.services.order_cancel).
    with translation.override(language_or_default(order.language)):
        stated = gettext("Order cancelled: %(reason)s") % {"reason": reason} if reason else gettext("Order cancelled")
    return _credit_note_issue(
        order=order,
        kind=CANCELLATION,
        key=f"cancel:{order.pk}",
        amount=None,
        reason=stated,
        returned=None,
        actor=actor,
    )


def credit_note_for_refund(
    *,
    order: Order,
    amount: Decimal,
    reason: str,
    key: str,
    restocked_lines: dict[int, int] | None = None,
    actor=None,
) -> CreditNote | None:
    """The credit note of a refund of `amount` (Decimal, the order currency, > 0) that has
    succeeded: one row of that amount, its tax in the invoice's proportion (see the module
    docstring), the units put back on hand (`restocked_lines`: order line id → units) listed
    for information. `key` names the refund (e.g. "refund:<refund pk>"): asked again, the
    same credit note is returned. Issues the invoice first if the order had none. After the
    commit, the shopper gets the "order_refunded" email with its PDF, once.

    Returns None, issuing nothing, when the order is cancelled (the cancellation's credit
    note covers its refunds) or was never paid (nothing was invoiced), or when the invoice is
    credited in full already. An amount above what is left of the invoice is credited up to
    that (and logged). Raises ValueError for an amount that is not positive or a line that is
    not the order's.
    """
    amount = Decimal(amount)
    if amount <= 0:
        raise ValueError(f"A credit note credits more than 0, not {amount}.")
    # Stated in the order's language: ours ("Refund", "Refunded at the provider": marked
    # msgids) translated, a reason staff wrote as they wrote it.
    with translation.override(language_or_default(order.language)):
        stated = gettext(reason) if reason else gettext("Refund")
    return _credit_note_issue(
        order=order,
        kind=REFUND,
        key=key,
        amount=amount,
        reason=stated,
        returned=restocked_lines or {},
        actor=actor,
    )


def _credit_note_issue(
    *, order: Order, kind: str, key: str, amount: Decimal | None, reason: str, returned: dict[int, int] | None, actor
) -> CreditNote | None:
    with transaction.atomic():
        # Why lock the order: every credit note of an order is decided under its row, so two
        # of them (a refund confirmed while the order is cancelled, a webhook delivered twice)
        # queue here and each sees what the other credited: together they never exceed the
        # invoice. Order row, then invoice counter, then credit note counter: the order every
        # document issuer takes them in, so this cannot deadlock.
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = CreditNote.objects.filter(key=key).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise ValueError(f"Credit note {existing.number} ({key}) is of another order.")
            return existing
        if kind == REFUND and (order.status == Order.Status.CANCELLED or order.paid_at is None):
            return None
        invoice = invoice_issue(order=order)
        before = CreditNote.objects.filter(invoice=invoice).aggregate(amount=Sum("amount"), tax=Sum("tax_amount"))
        credited, credited_tax = before["amount"] or ZERO, before["tax"] or ZERO
        total, total_tax = Decimal(invoice.snapshot["total"]), Decimal(invoice.snapshot["tax_total"])
        left, left_tax = total - credited, max(total_tax - credited_tax, ZERO)
        if left <= 0:
            return None
        if amount is None:  # a cancellation (the only caller without an amount): all that is left
            amount, tax = left, left_tax
        else:
            if amount > left:
                logger.warning(
                    "refund %s of %s is more than is left of invoice %s (%s): credited %s",
                    key,
                    amount,
                    invoice.number,
                    left,
                    left,
                    extra={"event": "credit_note.capped", "order": order.number},
                )
                amount = left
            # All that is left takes all the tax that is left: the roundings of earlier partial
            # credits never leave a cent of tax over, or credit one too many.
            tax = left_tax if amount == left else min(_tax_share(amount, total=total, tax=total_tax), left_tax)
        issued_at = timezone.now()
        year = timezone.localtime(issued_at).year
        taken = number_next(CREDIT_NOTES, year=year)
        number = credit_note_number(year=year, sequence=taken.sequence)
        earlier = list(
            CreditNote.objects.filter(invoice=invoice).order_by("year", "sequence").values_list("number", flat=True)
        )
        note = CreditNote.objects.create(
            order=order,
            invoice=invoice,
            number=number,
            year=year,
            sequence=taken.sequence,
            issued_at=issued_at,
            amount=amount,
            tax_amount=tax,
            reason=reason[: CreditNote._meta.get_field("reason").max_length],
            key=key,
            snapshot=_snapshot(
                invoice=invoice,
                number=number,
                issued_at=issued_at,
                kind=kind,
                reason=reason,
                amount=amount,
                tax=tax,
                credited=credited,
                credited_tax=credited_tax,
                earlier=earlier,
                returned=returned,
            ),
        )
        OrderEvent.objects.create(
            order=order,
            type=OrderEvent.Type.CREDITED,
            actor=actor,
            note=f"{number}: {amount} {order.currency} credited on {invoice.number}"
            + taken.skipped_note(CREDIT_NOTES, year=year),
        )
        if kind == REFUND:
            # Once the credit note has committed (a rolled-back refund tells the shopper
            # nothing); one email per credit note, keyed by its number.
            enqueue_on_commit("orders.tasks.send_order_email", "order_refunded", order.pk, number)
    return note


def _tax_share(amount: Decimal, *, total: Decimal, tax: Decimal) -> Decimal:
    """The tax in `amount` in the invoice's proportion, rounded half up to 0.01."""
    if total <= 0:
        return ZERO
    return (amount * tax / total).quantize(CENT, rounding=ROUND_HALF_UP)


def _single_rate(lines: list[dict]) -> str:
    # Checkout taxes an order at one rate (the shipping country's), shipping included.
    rates = {line["tax_rate"] for line in lines}
    return rates.pop() if len(rates) == 1 else ""


def _snapshot(
    *,
    invoice: Invoice,
    number: str,
    issued_at,
    kind: str,
    reason: str,
    amount: Decimal,
    tax: Decimal,
    credited: Decimal,
    credited_tax: Decimal,
    earlier: list[str],
    returned: dict[int, int] | None,
) -> dict:
    """What the credit note states: version, number, issued_on, kind, reason, invoice {number,
    issued_on, total}, the invoice's seller, buyer, order, currency and prices_include_tax,
    rows [{kind, title, variant, sku, quantity, unit_price, tax_rate, tax_amount, amount}]
    (amounts as the invoice shows them: tax-inclusive or net), returned [{title, variant, sku,
    quantity}], credited_before, tax_total, total. Money as decimal strings."""
    source = invoice.snapshot
    inclusive = source["prices_include_tax"]
    rate = _single_rate(source["lines"])
    if kind == CANCELLATION:
        rows = _invoice_rows(source, rate=rate)
        if credited:
            rows.append(
                _row(
                    "credited_before",
                    f"Already credited ({', '.join(earlier)})",
                    rate=rate,
                    amount=-(credited if inclusive else credited - credited_tax),
                    tax=-credited_tax,
                )
            )
    else:
        rows = [_row("refund", reason, rate=rate, amount=amount if inclusive else amount - tax, tax=tax)]
    lines = {line["line_id"]: line for line in source["lines"]}
    unknown = [line_id for line_id in (returned or {}) if int(line_id) not in lines]
    if unknown:
        raise ValueError(f"Lines {unknown} are not lines of order {source['order']['number']}.")
    return {
        "version": SNAPSHOT_VERSION,
        "number": number,
        "issued_on": timezone.localdate(issued_at).isoformat(),
        "kind": kind,
        "reason": reason,
        "invoice": {"number": invoice.number, "issued_on": source["issued_on"], "total": source["total"]},
        "seller": source["seller"],
        "buyer": source["buyer"],
        "order": source["order"],
        "currency": source["currency"],
        "prices_include_tax": inclusive,
        "rows": rows,
        "returned": [
            {key: lines[int(line_id)][key] for key in ("title", "variant", "sku")} | {"quantity": units}
            for line_id, units in sorted((returned or {}).items())
            if units
        ],
        "credited_before": money(credited),
        "tax_total": money(tax),
        "total": money(amount),
    }


def _row(kind: str, title: str, *, rate: str, amount: Decimal, tax: Decimal, **line) -> dict:
    return {
        "kind": kind,
        "title": title,
        "variant": "",
        "sku": "",
        "quantity": None,
        "unit_price": None,
        "tax_rate": rate,
        "tax_amount": money(tax),
        "amount": money(amount),
        **line,
    }


def _invoice_rows(source: dict, *, rate: str) -> list[dict]:
    """The invoice again as credit note rows: its lines, discount and shipping."""
    rows = [
        _row(
            "line",
            line["title"],
            rate=line["tax_rate"],
            amount=Decimal(line["line_total"]),
            tax=Decimal(line["tax_amount"]),
            variant=line["variant"],
            sku=line["sku"],
            quantity=line["quantity"],
            unit_price=line["unit_price"],
        )
        for line in source["lines"]
    ]
    discount = source["discount"]
    if Decimal(discount["amount"]):
        # The lines' tax is already on their discounted amounts, as on the invoice.
        title = f"Discount ({discount['code']})" if discount["code"] else "Discount"
        rows.append(_row("discount", title, rate="", amount=-Decimal(discount["amount"]), tax=ZERO))
    shipping = source["shipping"]
    if Decimal(shipping["price"]) or Decimal(shipping["tax"]):
        title = f"Shipping ({shipping['method']})" if shipping["method"] else "Shipping"
        rows.append(_row("shipping", title, rate=rate, amount=Decimal(shipping["price"]), tax=Decimal(shipping["tax"])))
    return rows


# -- the PDF ---------------------------------------------------------------------------------


def credit_note_render_pdf(*, credit_note: CreditNote) -> bytes:
    """The credit note as an A4 PDF (bytes), from its snapshot alone. Writes nothing. Raises
    what WeasyPrint raises."""
    return document_render_pdf(template="orders/credit_note.html", snapshot=credit_note.snapshot)


def credit_note_pdf_restore(*, credit_note: CreditNote) -> StoredPdf[CreditNote]:
    """Makes sure the credit note's PDF is stored: a stored one is left alone, a missing one
    rendered again from the snapshot under the same name (see orders.invoices.pdf_restore).
    Raises what WeasyPrint or the storage raise. Written in the language the order was
    placed in."""
    with translation.override(language_or_default(credit_note.order.language)):
        return pdf_restore(
            document=credit_note, series=CREDIT_NOTES, render=lambda: credit_note_render_pdf(credit_note=credit_note)
        )


def credit_note_generate(*, credit_note: CreditNote) -> CreditNote:
    """The credit note with its PDF stored (rendered now if it was not): for emails and
    downloads."""
    return credit_note_pdf_restore(credit_note=credit_note).document


def credit_note_pdf_bytes(*, credit_note: CreditNote) -> bytes:
    """The stored PDF's bytes (for attachments)."""
    return document_pdf_bytes(credit_note)
