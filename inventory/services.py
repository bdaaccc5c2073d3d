"""
Writes to stock: reserve, release, commit, adjust, and the expiry sweep.

Every function that changes on_hand or takes stock locks the StockItem rows it touches with
SELECT … FOR UPDATE in primary-key order (so two buyers of the same two variants can never
deadlock), under a short lock_timeout (settings.STOCK_LOCK_TIMEOUT_MS) that turns a pile-up
into StockBusy instead of a hang. Quantities are integers (units).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import ProductVariant

from .exceptions import InsufficientStock, ReservationExpired, ShortLine, StockBusy
from .models import Reservation, StockItem, StockMovement
from .selectors import reserved_quantities


@dataclass(frozen=True)
class StockLine:
    """A request for `quantity` units (an integer > 0) of one variant."""

    variant_id: int
    quantity: int


@contextmanager
def _stock_lock_errors():
    """Turns PostgreSQL's lock_timeout error into StockBusy (SQLState 55P03)."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":
            raise StockBusy() from exc
        raise


def _lock_stock(variant_ids: Iterable[int]) -> dict[int, StockItem]:
    """Locks the StockItem rows of `variant_ids` in primary-key order; returns them by variant id.

    Must run inside a transaction. Variants without a StockItem row get one (on_hand 0) first,
    so that every caller locks a real row.
    """
    ids = sorted(set(variant_ids))
    if connection.vendor == "postgresql":
        # Why: a flash sale piles hundreds of buyers onto one row; waiting longer than this
        # only makes the page hang. SET LOCAL ends with the transaction.
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(settings.STOCK_LOCK_TIMEOUT_MS)}")
    existing = set(StockItem.objects.filter(variant_id__in=ids).values_list("variant_id", flat=True))
    missing = [vid for vid in ids if vid not in existing]
    if missing:
        StockItem.objects.bulk_create(
            [StockItem(variant_id=vid, on_hand=0) for vid in missing], ignore_conflicts=True
        )
    items = (
        StockItem.objects.filter(variant_id__in=ids)
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return {item.variant_id: item for item in items}


def _merge_lines(lines: Sequence[StockLine]) -> dict[int, int]:
    wanted: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.quantity <= 0:
            raise ValueError(f"quantity must be a positive integer, got {line.quantity!r}")
        wanted[line.variant_id] += line.quantity
    return dict(wanted)


def stock_reserve(*, lines: Sequence[StockLine], owner: str, ttl: timedelta) -> list[Reservation]:
    """Reserves every line for `owner` until now + `ttl`, or nothing at all.

    `lines` may name a variant more than once (quantities add up). Returns the new
    Reservation rows, one per variant, all with the same expires_at.
    Raises InsufficientStock naming every short line (requested vs available units),
    StockBusy if the stock rows stay locked longer than STOCK_LOCK_TIMEOUT_MS, and
    ValueError for a quantity that is not a positive integer.
    """
    wanted = _merge_lines(lines)
    now = timezone.now()
    expires_at = now + ttl
    with _stock_lock_errors(), transaction.atomic():
        items = _lock_stock(wanted)
        # Recomputed under the lock: only now is the figure final.
        reserved = reserved_quantities(wanted.keys(), now=now)
        available = {vid: items[vid].on_hand - reserved.get(vid, 0) for vid in wanted}
        short_ids = [vid for vid, qty in sorted(wanted.items()) if qty > available[vid]]
        if short_ids:
            skus = dict(
                ProductVariant.objects.filter(pk__in=short_ids).values_list("pk", "sku")
            )
            raise InsufficientStock(
                [
                    ShortLine(vid, wanted[vid], max(available[vid], 0), skus[vid])
                    for vid in short_ids
                ]
            )
        return Reservation.objects.bulk_create(
            [
                Reservation(variant_id=vid, quantity=qty, owner=owner, expires_at=expires_at)
                for vid, qty in sorted(wanted.items())
            ]
        )


def stock_release(*, owner: str) -> int:
    """Releases the active reservations of `owner`; the units count as available at once.

    Reservations already past their expiry are marked expired rather than released.
    Returns how many live reservations were released. Releasing twice is harmless.
    """
    now = timezone.now()
    with transaction.atomic():
        active = Reservation.objects.filter(owner=owner, status=Reservation.Status.ACTIVE)
        active.filter(expires_at__lte=now).update(status=Reservation.Status.EXPIRED, updated_at=now)
        return active.update(status=Reservation.Status.RELEASED, updated_at=now)


def stock_commit(*, owner: str, reference: str, actor=None) -> int:
    """Turns the live reservations of `owner` into sales: on_hand −= quantity, one SALE ledger
    row per variant, reservation → committed.

    Returns the number of units committed. Raises ReservationExpired if `owner` holds no live
    reservation (they expired or were released: the caller may re-reserve), StockBusy on lock
    timeout.
    """
    with _stock_lock_errors(), transaction.atomic():
        variant_ids = Reservation.objects.filter(
            owner=owner, status=Reservation.Status.ACTIVE, expires_at__gt=timezone.now()
        ).values_list("variant_id", flat=True)
        items = _lock_stock(list(variant_ids))
        # Why the clock is read only now, under the lock: a hold that lapsed while we queued
        # for the rows may already have been handed to another buyer by stock_reserve (which
        # no longer counted it); judged by the earlier time it would be sold a second time.
        now = timezone.now()
        # Compare-and-swap on status: if the sweeper expired a row meanwhile, it is not ours.
        live = list(
            Reservation.objects.filter(
                owner=owner, status=Reservation.Status.ACTIVE, expires_at__gt=now
            ).select_for_update()
        )
        if not live:
            raise ReservationExpired(owner)
        movements = []
        for reservation in live:
            item = items[reservation.variant_id]
            item.on_hand -= reservation.quantity
            movements.append(
                StockMovement(
                    variant_id=reservation.variant_id,
                    quantity=-reservation.quantity,
                    reason=StockMovement.Reason.SALE,
                    actor=actor,
                    reference=reference,
                    on_hand_after=item.on_hand,
                )
            )
        StockItem.objects.bulk_update(items.values(), ["on_hand"])
        StockMovement.objects.bulk_create(movements)
        Reservation.objects.filter(pk__in=[r.pk for r in live]).update(
            status=Reservation.Status.COMMITTED, updated_at=now
        )
        return sum(r.quantity for r in live)


def stock_adjust(
    *,
    variant: ProductVariant,
    quantity: int,
    reason: str,
    actor=None,
    reference: str = "",
    note: str = "",
) -> StockMovement:
    """Changes on_hand of `variant` by `quantity` units (positive: in, negative: out) and
    writes the ledger row. `reason` is a StockMovement.Reason value.

    Raises InsufficientStock if the change would take on_hand below zero or below the units
    held by live reservations (a removal cannot take stock promised to a buyer), StockBusy on
    lock timeout, ValueError for a zero quantity or an unknown reason.
    """
    if quantity == 0:
        raise ValueError("quantity must not be zero")
    if reason not in StockMovement.Reason.values:
        raise ValueError(f"unknown stock movement reason {reason!r}")
    with _stock_lock_errors(), transaction.atomic():
        item = _lock_stock([variant.pk])[variant.pk]
        reserved = reserved_quantities([variant.pk]).get(variant.pk, 0)
        if quantity < 0 and item.on_hand + quantity < reserved:
            raise InsufficientStock(
                [ShortLine(variant.pk, -quantity, max(item.on_hand - reserved, 0), variant.sku)]
            )
        StockItem.objects.filter(pk=item.pk).update(on_hand=F("on_hand") + quantity)
        return StockMovement.objects.create(
            variant=variant,
            quantity=quantity,
            reason=reason,
            actor=actor,
            reference=reference,
            note=note,
            on_hand_after=item.on_hand + quantity,
        )


def reservations_expire() -> int:
    """Marks active reservations whose expires_at has passed as expired, in one statement.

    Availability does not change: they stopped counting when they expired. Returns the number
    of reservations marked. Safe to run concurrently with itself and with checkout.
    """
    now = timezone.now()
    return Reservation.objects.filter(
        status=Reservation.Status.ACTIVE, expires_at__lte=now
    ).update(status=Reservation.Status.EXPIRED, updated_at=now)
