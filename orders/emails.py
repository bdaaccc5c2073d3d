"""
Emails to shoppers about their orders, each sent at most once per event.

email_send_once() is the mechanism: it claims the EmailLog row (kind, key) before sending, so
a task that runs twice (a retry, a redelivery, two workers) finds the claim and sends nothing;
a send that fails gives the claim back for the retry. Every message has a text and an HTML
part, rendered from templates/emails/<template>.txt and .html (both extend the emails/base.*
layout), from DEFAULT_FROM_EMAIL.

order_email_send() knows the order emails: which template, subject and attachments for each
kind, and the key that makes the event unique (the order number, the shipment for
"order_shipped", the credit note's number for "order_refunded"). The tasks in orders.tasks
call it, in the language the order was placed in (Order.language).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kernel.i18n import language_or_default
from kernel.money import format_money

from .credit_notes import credit_note_generate, credit_note_pdf_bytes
from .invoices import invoice_generate, invoice_pdf_bytes
from .models import CreditNote, EmailLog, Order, OrderEvent, Shipment

# A claim (EmailLog row without sent_at) older than this belongs to a sender that died
# mid-send (a killed worker): the next run takes it over and sends. Far longer than any SMTP
# or ESP call, so a live sender is never doubled.
STALE_CLAIM_AFTER = timedelta(minutes=15)

# (filename, content, mimetype), as EmailMessage.attach takes them.
Attachment = tuple[str, bytes, str]


def email_context(**extra) -> dict:
    """What every email template may use: the shop's name and public address."""
    return {"shop_name": settings.SITE_NAME, "shop_url": settings.SHOP_BASE_URL.rstrip("/"), **extra}


def absolute_url(path: str) -> str:
    """A link for an email: background tasks have no request to take the host from."""
    return settings.SHOP_BASE_URL.rstrip("/") + path


def email_send_once(
    *,
    kind: str,
    key: str,
    to: str,
    subject: str,
    template: str,
    context: dict,
    attachments: Sequence[Attachment] = (),
    order: Order | None = None,
) -> bool:
    """Sends the email of event (kind, key) to `to`, unless it was sent already. Returns True
    if this call sent it, False if it had been sent (or is being sent right now by another
    run).

    The EmailLog row is written, and committed, before the message goes out, with sent_at
    set once the backend accepted it; an order email also gets an EMAIL_SENT OrderEvent.
    Raises what the mail backend raises (OSError for SMTP trouble, AnymailError from an ESP)
    after deleting the claim, so the task's retry sends it. Call it outside a transaction
    (as the tasks do): the claim must be committed, for other runs to see, before sending.
    """
    log = _claim(kind=kind, key=key, to=to, subject=subject, order=order)
    if log is None:
        return False
    context = email_context(**context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        # The language it was written in (the active one: order_email_send writes in the
        # order's), for mail clients that offer to translate.
        headers={"Content-Language": translation.get_language() or settings.LANGUAGE_CODE},
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    try:
        message.send()
    except Exception:
        # Give the claim back (only ours: the row still has our claim time) so that a retry
        # sends. If this delete is lost too (the database is gone as well), the claim goes
        # stale and a later run takes it over.
        EmailLog.objects.filter(pk=log.pk, sent_at__isnull=True, created_at=log.created_at).delete()
        raise
    EmailLog.objects.filter(pk=log.pk).update(sent_at=timezone.now())
    if order is not None:
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.EMAIL_SENT, note=f"{subject} → {to}")
    return True


def _claim(*, kind: str, key: str, to: str, subject: str, order: Order | None) -> EmailLog | None:
    """The EmailLog row of (kind, key), newly claimed by this run; None if the email was sent,
    or another run is sending it now."""
    try:
        # A savepoint, and committed at once when called outside a transaction (as the tasks
        # do): the unique (kind, key) constraint decides which of two runs sends.
        with transaction.atomic():
            return EmailLog.objects.create(kind=kind, key=key, to=to, subject=subject[:255], order=order)
    except IntegrityError:
        pass
    now = timezone.now()
    # Take over a claim left by a sender that died mid-send: a compare-and-swap on its claim
    # time, so of two runs finding the same stale claim only one wins.
    taken = EmailLog.objects.filter(
        kind=kind, key=key, sent_at__isnull=True, created_at__lt=now - STALE_CLAIM_AFTER
    ).update(created_at=now, to=to, subject=subject[:255])
    if not taken:
        return None
    return EmailLog.objects.get(kind=kind, key=key)


# -- order emails ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderEmail:
    subject: str
    template: str
    context: dict = field(default_factory=dict)
    attachments: Sequence[Attachment] = ()


def _order_links(order: Order) -> dict:
    # The guest link works for everyone, signed in or not: the email went to the address the
    # order was placed with.
    return {"order": order, "order_url": absolute_url(order.get_guest_url())}


def _confirmation(order: Order, key: str) -> OrderEmail:
    # The invoice first: it is issued and stored once (the paid task has normally done it
    # already), and the confirmation always carries it.
    invoice = invoice_generate(order=order)
    return OrderEmail(
        subject=_("Order %(number)s confirmed: thank you") % {"number": order.number},
        template="order_confirmation",
        context={**_order_links(order), "lines": order.lines.all(), "invoice": invoice},
        attachments=[(f"{invoice.number}.pdf", invoice_pdf_bytes(invoice=invoice), "application/pdf")],
    )


def _payment_failed(order: Order, key: str) -> OrderEmail | None:
    # Pending: the items are held until the reservation lapses, and the shopper may pay again
    # until then (the email links the payment page); payment_failed (orders from before a
    # failed payment kept its order open) or expired: they are back on sale.
    if order.status not in (Order.Status.PENDING_PAYMENT, Order.Status.PAYMENT_FAILED, Order.Status.EXPIRED):
        return None  # a later payment succeeded after all: the confirmation says so instead
    held = order.status == Order.Status.PENDING_PAYMENT
    return OrderEmail(
        subject=_("Order %(number)s: the payment did not go through") % {"number": order.number},
        template="payment_failed",
        context={
            **_order_links(order),
            "lines": order.lines.all(),
            "cart_url": absolute_url(reverse("cart:detail")),
            "held": held,
            "pay_url": absolute_url(reverse("payments:pay", args=[order.access_token])) if held else "",
        },
    )


def _credit_note_attachment(credit_note: CreditNote) -> Attachment:
    # Stored once (rendered now if the file is not there yet), then attached as stored.
    credit_note = credit_note_generate(credit_note=credit_note)
    return (f"{credit_note.number}.pdf", credit_note_pdf_bytes(credit_note=credit_note), "application/pdf")


def _cancelled(order: Order, key: str) -> OrderEmail:
    # A paid order's cancellation issued a credit note (orders.services.order_cancel): the
    # email carries it. An unpaid order has none.
    credit_note = CreditNote.objects.filter(key=f"cancel:{order.pk}").first()
    return OrderEmail(
        subject=_("Order %(number)s has been cancelled") % {"number": order.number},
        template="order_cancelled",
        context={
            **_order_links(order),
            "lines": order.lines.all(),
            "was_paid": order.paid_at is not None,
            "credit_note": credit_note,
        },
        attachments=[_credit_note_attachment(credit_note)] if credit_note else [],
    )


def _refunded(order: Order, key: str) -> OrderEmail:
    # key is the credit note's number: one email per credit note (orders.credit_notes).
    credit_note = CreditNote.objects.select_related("invoice").get(number=key, order=order)
    return OrderEmail(
        subject=_("Order %(number)s: we refunded %(amount)s")
        % {"number": order.number, "amount": format_money(credit_note.amount, order.currency)},
        template="order_refunded",
        context={**_order_links(order), "credit_note": credit_note},
        attachments=[_credit_note_attachment(credit_note)],
    )


def _shipped(order: Order, key: str) -> OrderEmail:
    # key is the shipment's pk: one email per parcel.
    shipment = Shipment.objects.prefetch_related("lines__line").get(pk=int(key), order=order)
    return OrderEmail(
        subject=_("Order %(number)s is on its way") % {"number": order.number},
        template="order_shipped",
        context={**_order_links(order), "shipment": shipment, "shipped_lines": shipment.lines.all()},
    )


# kind → builder of its subject, template, context and attachments; None when the email no
# longer applies by the time its task runs.
ORDER_EMAILS: dict[str, Callable[[Order, str], OrderEmail | None]] = {
    "order_confirmation": _confirmation,
    "payment_failed": _payment_failed,
    "order_cancelled": _cancelled,
    "order_shipped": _shipped,
    "order_refunded": _refunded,
}

# Kinds whose key names the event (the order number would not tell two apart).
KEYED_BY_EVENT = {"order_shipped": "the shipment's pk", "order_refunded": "the credit note's number"}


def order_email_send(*, kind: str, order: Order, key: str = "") -> bool:
    """Sends the order email `kind` (a key of ORDER_EMAILS) to the order's address, once per
    (kind, key); key defaults to the order number ("order_shipped" needs the shipment's pk,
    "order_refunded" the credit note's number). Returns True if this call sent it. Raises
    ValueError for an unknown kind or a missing key, Shipment.DoesNotExist or
    CreditNote.DoesNotExist for one of another order, InvoiceNotAllowed for the confirmation
    of an order that is not paid, and what email_send_once raises.
    """
    build = ORDER_EMAILS.get(kind)
    if build is None:
        raise ValueError(f"unknown order email {kind!r}")
    if kind in KEYED_BY_EVENT and not key:
        raise ValueError(f"{kind} needs {KEYED_BY_EVENT[kind]} as its key")
    key = str(key or order.number)
    if EmailLog.objects.filter(kind=kind, key=key, sent_at__isnull=False).exists():
        return False  # sent already: do not even build it (the confirmation renders a PDF)
    # Subject, body, prices and attached documents in the language the order was placed in
    # (the shop's default for orders from before, or in a language no longer offered).
    with translation.override(language_or_default(order.language)):
        email = build(order, key)
        if email is None:
            return False
        return email_send_once(
            kind=kind,
            key=key,
            to=order.email,
            subject=email.subject,
            template=email.template,
            context=email.context,
            attachments=email.attachments,
            order=order,
        )
