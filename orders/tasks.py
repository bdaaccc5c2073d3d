from datetime import timedelta

from anymail.exceptions import AnymailError
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts.selectors import staff_alert_recipients

from .emails import order_email_send
from .invoices import INVOICEABLE_STATUSES, InvoiceNotAllowed, invoice_generate
from .models import Order, SweepRun
from .selectors import orders_missing_followups
from .services import sweep_run


@shared_task
def release_expired_reservations() -> dict[str, int]:
    """The sweep (Celery beat, every SWEEP_INTERVAL_SECONDS): tidies lapsed reservations and
    expires their pending orders, recorded as a SweepRun. Availability never waits for it."""
    run = sweep_run(trigger=SweepRun.Trigger.BEAT)
    return {"reservations": run.reservations_expired, "orders": run.orders_expired}


@shared_task(bind=True, max_retries=5, autoretry_for=(OSError,), retry_backoff=True)
def alert_staff_order_flagged(self, order_pk: int, reason: str) -> int:
    """Emails staff that an order needs a person. Returns the number of recipients."""
    order = Order.objects.get(pk=order_pk)
    recipients = staff_alert_recipients()
    if recipients:
        send_mail(
            subject=f"Order {order.number} needs attention",
            message=f"{reason}\n\nOrder {order.number}, {order.total} {order.currency}, {order.email}.",
            from_email=None,
            recipient_list=recipients,
        )
    return len(recipients)


# Mail server or ESP trouble (smtplib errors and socket errors are OSErrors; anymail raises
# AnymailError) passes: retry with exponential backoff (1 s, 2 s, 4 s … capped at 10 minutes,
# jittered). Each email is claimed in EmailLog before it is sent, so a retry never doubles one.
EMAIL_RETRY = {
    "autoretry_for": (OSError, AnymailError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(bind=True, **EMAIL_RETRY)
def send_order_email(self, kind: str, order_pk: int, key: str = "") -> str:
    """Sends the order email `kind` ("order_confirmation", "payment_failed", "order_cancelled",
    "order_shipped", "order_refunded", …) once per (kind, key); key defaults to the order
    number (for "order_shipped" it is the shipment's pk, for "order_refunded" the credit
    note's number). Returns "sent" or "already sent"."""
    order = Order.objects.get(pk=order_pk)
    return "sent" if order_email_send(kind=kind, order=order, key=str(key) if key else "") else "already sent"


# Rendering, storing or emailing can fail for passing reasons (storage, a lock wait, the mail
# server): retry with backoff. Every step is idempotent, so a retry redoes only what failed.
# An order that is not paid is not an error: there is nothing to do.
FOLLOWUP_RETRY = {**EMAIL_RETRY, "autoretry_for": (Exception,)}


@shared_task(bind=True, **FOLLOWUP_RETRY)
def generate_invoice(self, order_pk: int) -> str:
    """Issues the order's invoice (if it has none) and stores its PDF. Returns its number, or
    "" for an order that is not paid."""
    order = Order.objects.get(pk=order_pk)
    try:
        return invoice_generate(order=order).number
    except InvoiceNotAllowed:
        return ""


@shared_task(bind=True, **FOLLOWUP_RETRY)
def order_paid_followups(self, order_pk: int) -> str:
    """After payment (orders.services.order_mark_paid, on commit): the invoice, then the
    confirmation email with the invoice attached. Both steps are idempotent, so a retry after
    a failure in either redoes nothing that was done. Returns the invoice number, or "" when
    the order is no longer paid by the time this runs (nothing is sent then)."""
    order = Order.objects.get(pk=order_pk)
    if order.status not in INVOICEABLE_STATUSES:
        # Cancelled (a paid order cancelled is invoiced by its cancellation, with a credit
        # note) or never paid: no confirmation goes out now.
        return ""
    try:
        invoice = invoice_generate(order=order)
    except InvoiceNotAllowed:
        return ""
    order_email_send(kind="order_confirmation", order=order)
    return invoice.number


# At most this many orders re-queued per run: an outage's backlog drains over a few runs
# instead of flooding the queue at once.
FOLLOWUPS_RESUME_BATCH = 200


@shared_task
def resume_order_followups() -> int:
    """Re-queues order_paid_followups for paid orders still without their invoice PDF or sent
    confirmation (Celery beat, every FOLLOWUPS_RESUME_MINUTES): their task was lost while the
    broker was down, or failed for good. Looks at orders paid between
    FOLLOWUPS_RESUME_WINDOW_HOURS and FOLLOWUPS_RESUME_MINUTES ago, so that a follow-up still
    under way (or being retried) is left alone, and old history is never mailed. Safe to run
    twice: both steps of the task happen once (Invoice per order, EmailLog per confirmation).
    Returns the number of orders re-queued."""
    now = timezone.now()
    orders = orders_missing_followups(
        paid_after=now - timedelta(hours=settings.FOLLOWUPS_RESUME_WINDOW_HOURS),
        paid_before=now - timedelta(minutes=settings.FOLLOWUPS_RESUME_MINUTES),
    )
    pks = list(orders.values_list("pk", flat=True)[:FOLLOWUPS_RESUME_BATCH])
    for pk in pks:
        order_paid_followups.delay(pk)
    return len(pks)
