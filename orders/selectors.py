"""Reads of orders. Access is decided here: an order is visible to its owner, or to whoever
holds its access token; everyone else gets nothing (the view answers 404)."""
from django.db.models import Prefetch, QuerySet

from .models import Order, OrderEvent, OrderLine, SweepRun


def _with_details(orders: QuerySet[Order]) -> QuerySet[Order]:
    return orders.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
    )


def orders_for_user(user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).order_by("-created_at")


def order_for_user(*, user, number: str) -> Order | None:
    return _with_details(Order.objects.filter(user=user, number=number)).first()


def order_for_token(*, number: str, token: str) -> Order | None:
    return _with_details(Order.objects.filter(number=number, access_token=token)).first()


def sweep_run_last() -> SweepRun | None:
    """The most recently started sweep run (finished or not), or None before the first."""
    return SweepRun.objects.order_by("-started_at", "-pk").first()
