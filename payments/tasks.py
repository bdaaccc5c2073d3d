"""Payment tasks: thin, idempotent, retried with backoff (STYLE.md, practice 8)."""
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .gateways import GatewayError
from .models import Payment, Refund, WebhookEvent
from .selectors import RECONCILE_LAST_KEY
from .services import PaymentError, payment_refund, payments_reconcile, webhook_process

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=8)
def process_webhook_event(self, event_pk: int) -> str:
    """Processes one stored webhook event. A failure is recorded on the event (visible in the
    admin) and retried with exponential backoff: 2, 4, 8 … seconds, capped at 10 minutes."""
    event = WebhookEvent.objects.get(pk=event_pk)
    try:
        return webhook_process(event=event).status
    except Exception as exc:  # noqa: BLE001
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # Eager (no broker): a retry would run at once, in the request; staff replay instead.
            logger.warning("webhook event %s failed: %s", event_pk, exc)
            return WebhookEvent.Status.FAILED
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1), 600))


@shared_task(bind=True, max_retries=8)
def refund_rejected_payment(self, payment_pk: int) -> str:
    """Refunds a payment we could not accept (paid after its stock was sold, paid twice,
    cancelled order). Idempotent: does nothing once the payment is fully refunded."""
    payment = Payment.objects.get(pk=payment_pk)
    pending = payment.refunds.filter(status=Refund.Status.PENDING).exists()
    if payment.refunded_amount >= payment.amount or pending:
        return "nothing to do"
    try:
        payment_refund(payment=payment, reason="Automatic refund: " + payment.error[:200])
    except PaymentError as exc:
        return exc.message
    except GatewayError as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            logger.error("automatic refund of %s failed: %s", payment.reference, exc.message)
            return exc.message
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1) * 30, 3600))
    return "refunded"


@shared_task
def reconcile_payments(older_than_minutes: int | None = None) -> dict[str, int]:
    """Beat, every RECONCILE_INTERVAL_MINUTES: asks providers about payments still pending."""
    minutes = older_than_minutes if older_than_minutes is not None else settings.RECONCILE_AFTER_MINUTES
    counts = vars(payments_reconcile(older_than=timedelta(minutes=minutes)))
    logger.info("reconciliation finished", extra={"event": "payments.reconciled", **counts})
    try:
        # Kept for a day (several intervals): /health/detailed/ shows when it last ran.
        cache.set(RECONCILE_LAST_KEY, {"at": timezone.now().isoformat(), **counts}, timeout=24 * 3600)
    except Exception:  # noqa: BLE001 — Redis down must not fail the reconciliation itself
        logger.warning("could not record the reconciliation in the cache", exc_info=True)
    return counts
