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
from .services import (
    REFUND_SUBMIT_LEASE,
    payment_refund_rejected,
    payments_reconcile,
    refund_submit,
    refunds_resubmit,
    webhook_process,
    webhooks_retry_waiting,
)

logger = logging.getLogger(__name__)


def _backoff(retries: int, *, base: int) -> int:
    """Seconds before retry number `retries` + 1: base × 2, 4, 8 … capped at 600, below the
    broker's visibility timeout (config/settings/base.py), so a waiting task is never
    delivered twice."""
    return min(base * 2 ** (retries + 1), 600)


@shared_task(bind=True, max_retries=8)
def process_webhook_event(self, event_pk: int) -> str:
    """Processes one stored webhook event. A failure is recorded on the event (visible in the
    admin) and retried with exponential backoff: 2, 4, 8 … seconds, capped at 10 minutes. A
    refund event waiting for its payment is retried the same way; capturing the payment
    queues it at once, and the beat (retry_waiting_payments_work) takes over after the last
    retry."""
    event = WebhookEvent.objects.get(pk=event_pk)
    try:
        event = webhook_process(event=event)
    except Exception as exc:  # whatever failed is recorded on the event and retried
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # Eager (no broker): a retry would run at once, in the request; staff replay instead.
            logger.warning("webhook event %s failed: %s", event_pk, exc)
            return WebhookEvent.Status.FAILED
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=1)) from exc
    if (
        event.status == WebhookEvent.Status.WAITING
        and not settings.CELERY_TASK_ALWAYS_EAGER
        and self.request.retries < self.max_retries
    ):
        raise self.retry(countdown=_backoff(self.request.retries, base=1))
    return event.status


@shared_task(bind=True, max_retries=8)
def submit_refund(self, refund_pk: int) -> str:
    """Sends refund `refund_pk` (an intent already written, with its idempotency key) to the
    provider. A provider that gives no answer leaves it pending: the task retries the same
    row with the same key with backoff (30 s, 60 s … capped at 10 minutes); after the last
    retry the beat's refunds_resubmit carries on. Returns the refund's status, or the
    provider's message when it refused the refund (recorded failed, order flagged)."""
    try:
        refund = refund_submit(refund=Refund.objects.get(pk=refund_pk))
    except GatewayError as exc:
        return exc.message
    unanswered = refund.status == Refund.Status.PENDING and not refund.provider_refund_id
    if unanswered and not settings.CELERY_TASK_ALWAYS_EAGER and self.request.retries < self.max_retries:
        # Also when another process was sending it (refund_submit found its lease held): that
        # one may die mid-call. Eager (no broker), a retry would run at once, in the request.
        raise self.retry(countdown=_backoff(self.request.retries, base=15))
    if unanswered:
        logger.warning("refund %s still has no answer from the provider: %s", refund_pk, refund.error)
    return refund.status


@shared_task
def refund_rejected_payment(payment_pk: int) -> str:
    """Submits the automatic refund of a payment we could not accept (paid after its stock
    was sold, paid twice, cancelled order), making its intent if it has none yet (payments
    rejected before intents were written with the rejection): once per payment, whoever
    asks. Idempotent: a refund already answered is not sent again."""
    try:
        refund = payment_refund_rejected(payment=Payment.objects.get(pk=payment_pk))
    except GatewayError as exc:
        return exc.message
    return refund.status if refund is not None else "nothing to do"


@shared_task
def retry_waiting_payments_work() -> dict[str, dict[str, int]]:
    """Beat, every RECONCILE_INTERVAL_MINUTES: submits again refunds that have had no answer
    from their provider for REFUND_SUBMIT_LEASE (same rows, same keys), and processes again
    webhook events waiting for the payment they refund (ending those that waited too long)."""
    counts = {
        "refunds": refunds_resubmit(older_than=REFUND_SUBMIT_LEASE),
        "waiting_events": webhooks_retry_waiting(),
    }
    logger.info("waiting payment work retried", extra={"event": "payments.retried", **counts})
    return counts


@shared_task
def reconcile_payments(older_than_minutes: int | None = None) -> dict[str, int]:
    """Beat, every RECONCILE_INTERVAL_MINUTES: asks providers about payments, and refunds they
    accepted, still pending after `older_than_minutes` (default RECONCILE_AFTER_MINUTES) and
    applies their answers (payments_reconcile). Returns ReconcileResult's counts."""
    minutes = older_than_minutes if older_than_minutes is not None else settings.RECONCILE_AFTER_MINUTES
    counts = vars(payments_reconcile(older_than=timedelta(minutes=minutes)))
    logger.info("reconciliation finished", extra={"event": "payments.reconciled", **counts})
    try:
        # Kept for a day (several intervals): /health/detailed/ shows when it last ran.
        cache.set(RECONCILE_LAST_KEY, {"at": timezone.now().isoformat(), **counts}, timeout=24 * 3600)
    except Exception:  # Redis down must not fail the reconciliation itself
        logger.warning("could not record the reconciliation in the cache", exc_info=True)
    return counts
