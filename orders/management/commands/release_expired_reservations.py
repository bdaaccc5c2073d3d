from django.core.management.base import BaseCommand

from inventory.services import reservations_expire
from orders.services import orders_expire_overdue


class Command(BaseCommand):
    help = (
        "Marks reservations past their expiry as expired and expires their pending orders, "
        "once (Celery beat runs the same sweep every minute)."
    )

    def handle(self, *args, **options):
        reservations = reservations_expire()
        orders = orders_expire_overdue()
        self.stdout.write(f"Expired {reservations} reservation(s) and {orders} order(s).")
