"""Reads of stock. Availability = on_hand − live reservations; fine for display, final only
when recomputed under the lock in inventory.services."""
from collections.abc import Iterable
from datetime import datetime

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Reservation, StockItem, StockMovement


def _live(now: datetime | None = None) -> QuerySet[Reservation]:
    return Reservation.objects.filter(
        status=Reservation.Status.ACTIVE, expires_at__gt=now or timezone.now()
    )


def reserved_quantities(variant_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, int]:
    """Units held by live reservations, by variant id (variants with none are absent)."""
    rows = (
        _live(now)
        .filter(variant_id__in=list(variant_ids))
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {row["variant_id"]: row["total"] for row in rows}


def availability(variant_ids: Iterable[int]) -> dict[int, int]:
    """Available units (on hand − live reservations, never below 0) for every id given."""
    ids = list(variant_ids)
    on_hand = dict(StockItem.objects.filter(variant_id__in=ids).values_list("variant_id", "on_hand"))
    reserved = reserved_quantities(ids)
    return {vid: max(on_hand.get(vid, 0) - reserved.get(vid, 0), 0) for vid in ids}


def with_availability(variants: QuerySet) -> QuerySet:
    """Annotates a ProductVariant queryset with `available` (integer units, may be below 0
    only for display maths), computed in the same query."""
    reserved = (
        _live()
        .filter(variant_id=OuterRef("pk"))
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return variants.annotate(
        available=Coalesce("stock__on_hand", Value(0))
        - Coalesce(Subquery(reserved, output_field=IntegerField()), Value(0))
    )


def ledger_total(variant_id: int) -> int:
    """Σ of the variant's ledger rows: what on_hand must equal."""
    return StockMovement.objects.filter(variant_id=variant_id).aggregate(
        total=Coalesce(Sum("quantity"), 0)
    )["total"]
