"""Inventory's background jobs. Each takes ids, loads the rows and calls one service; both
are enqueued by inventory.services once its transaction commits (by name:
kernel.tasks.enqueue_on_commit) and are safe to run twice."""

from celery import shared_task

from catalog.models import ProductVariant

from .services import back_in_stock_notify, low_stock_alert_send

# Mail server trouble (smtplib.SMTPException and socket errors are OSErrors) passes; retry
# with exponential backoff (1 s, 2 s, 4 s … capped at 10 minutes, jittered).
RETRY = {
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


def _variant(variant_id: int) -> ProductVariant | None:
    # None when the variant was deleted after the task was enqueued: nothing left to say.
    return ProductVariant.objects.select_related("product").filter(pk=variant_id).first()


@shared_task(**RETRY)
def send_low_stock_alert(variant_id: int) -> int:
    """Emails staff that the variant is at or below its low-stock threshold."""
    variant = _variant(variant_id)
    return low_stock_alert_send(variant=variant) if variant else 0


@shared_task(**RETRY)
def send_back_in_stock_emails(variant_id: int) -> int:
    """Emails everyone waiting for the variant, once each."""
    variant = _variant(variant_id)
    return back_in_stock_notify(variant=variant) if variant else 0
