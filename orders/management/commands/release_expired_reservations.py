from django.core.management.base import BaseCommand

from orders.models import SweepRun
from orders.services import sweep_run


class Command(BaseCommand):
    help = (
        "Marks reservations past their expiry as expired and expires their pending orders, "
        "once, recorded as a sweep run (Celery beat runs the same sweep every minute)."
    )

    def handle(self, *args, **options):
        run = sweep_run(trigger=SweepRun.Trigger.COMMAND)
        self.stdout.write(f"Expired {run.reservations_expired} reservation(s) and {run.orders_expired} order(s).")
