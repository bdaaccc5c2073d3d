from celery import shared_task

from django.core.mail import send_mail

from accounts.selectors import staff_alert_recipients

from .models import Order, SweepRun
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


@shared_task(bind=True, max_retries=5)
def send_order_email(self, kind: str, order_pk: int, key: str = "") -> str:
    """Sends the order email `kind` ("order_confirmation", "payment_failed", "order_cancelled",
    "order_shipped", …) once per (kind, key); key defaults to the order number."""
    raise NotImplementedError("being written: orders/emails.py")
