from celery import shared_task

from inventory.services import reservations_expire

from .services import orders_expire_overdue


@shared_task
def release_expired_reservations() -> dict[str, int]:
    """The sweep (Celery beat, every SWEEP_INTERVAL_SECONDS): tidies lapsed reservations and
    expires their pending orders. Availability never waits for it."""
    return {"reservations": reservations_expire(), "orders": orders_expire_overdue()}
