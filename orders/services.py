"""
Writes to orders: create (draft order with line snapshots and reservations), mark paid,
payment failed, expire, cancel. Every status change locks the order row, checks the current
status (so applying the same change twice does nothing the second time) and writes an
OrderEvent.

The expiry sweep (sweep_run) lives here too: orders knows inventory, inventory must not know
orders, so the one who knows both runs both halves.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory.exceptions import InventoryError, ReservationExpired
from inventory.models import StockMovement
from inventory.services import (
    StockLine,
    reservations_expire,
    stock_adjust,
    stock_commit,
    stock_release,
    stock_reserve,
)

from .models import Order, OrderEvent, OrderLine, SweepRun

TWO_PLACES = Decimal("0.01")

# How long the sweep's UPDATE of orders may wait for one row lock (milliseconds). Payments
# hold an order row for well under a second; a wait this long means a stuck transaction.
SWEEP_LOCK_TIMEOUT_MS = 10_000


class OrderStateError(Exception):
    """Raised when a transition is not allowed from the order's current status."""

    code = "order_state"

    def __init__(self, order: Order, action: str):
        self.order = order
        self.action = action
        super().__init__(f"Order {order.number} is {order.get_status_display().lower()}; cannot {action}.")

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class LineSnapshot:
    """What the customer buys: copied onto the order so later catalog edits change nothing.
    unit_price is Decimal in currency units; quantity an integer > 0."""

    variant_id: int
    product_title: str
    variant_title: str
    sku: str
    unit_price: Decimal
    quantity: int


@dataclass(frozen=True)
class ShippingDetails:
    email: str
    name: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str
    phone: str = ""


def order_create(
    *,
    checkout_token: str,
    lines: Sequence[LineSnapshot],
    shipping: ShippingDetails,
    shipping_method_name: str,
    shipping_price: Decimal,
    currency: str,
    user=None,
    reservation_ttl: timedelta,
    transfer_from: str | None = None,
) -> tuple[Order, bool]:
    """Reserves stock for every line and creates the order in pending_payment, in one
    transaction: either both happen or neither does.

    `transfer_from` names a reservation owner (e.g. "cart:12") whose live reservations are
    released first, inside that same transaction: its units pass to the order without ever
    being available to anyone else, and if its hold lapsed the order gets the stock only if
    it is still there. Releasing an owner that holds nothing is harmless.

    Placing the same `checkout_token` twice returns the first order: (order, False); a new
    order returns (order, True). Totals are Decimal, rounded to 0.01.
    Raises InsufficientStock (naming every short line) or StockBusy; nothing is written then
    (the `transfer_from` hold stays as it was).
    """
    if not lines:
        raise ValueError("an order needs at least one line")
    existing = Order.objects.filter(checkout_token=checkout_token).first()
    if existing:
        return existing, False
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0")).quantize(TWO_PLACES)
    shipping_total = Decimal(shipping_price).quantize(TWO_PLACES)
    try:
        order = _order_insert(
            checkout_token=checkout_token,
            lines=lines,
            shipping=shipping,
            shipping_method_name=shipping_method_name,
            shipping_total=shipping_total,
            subtotal=subtotal,
            currency=currency,
            user=user,
            reservation_ttl=reservation_ttl,
            transfer_from=transfer_from,
        )
    except (IntegrityError, InventoryError):
        # Why: the same checkout placed twice at once (double click, retried request). The
        # early lookup above saw nothing; the loser then queued behind the winner's stock
        # lock and found the units gone, or hit the unique checkout_token. Either way the
        # winner's order is the answer; with no such order the error is real.
        existing = Order.objects.filter(checkout_token=checkout_token).first()
        if existing:
            return existing, False
        raise
    return order, True


def _order_insert(
    *,
    checkout_token: str,
    lines: Sequence[LineSnapshot],
    shipping: ShippingDetails,
    shipping_method_name: str,
    shipping_total: Decimal,
    subtotal: Decimal,
    currency: str,
    user,
    reservation_ttl: timedelta,
    transfer_from: str | None = None,
) -> Order:
    # durable: the reservation and the draft order commit together, never inside someone
    # else's transaction that might roll one back later.
    with transaction.atomic(durable=True):
        if transfer_from:
            # Why here, inside the same transaction as stock_reserve below: others keep
            # seeing the old hold until we commit, and by then the order's hold replaces it,
            # so the units are never free in between; our own reserve already counts them
            # as released. A rollback restores the old hold untouched.
            stock_release(owner=transfer_from)
        order = Order(
            checkout_token=checkout_token,
            user=user if user is not None and user.is_authenticated else None,
            email=shipping.email,
            currency=currency,
            subtotal=subtotal,
            shipping_total=shipping_total,
            total=subtotal + shipping_total,
            shipping_method_name=shipping_method_name,
            shipping_name=shipping.name,
            shipping_line1=shipping.line1,
            shipping_line2=shipping.line2,
            shipping_city=shipping.city,
            shipping_postal_code=shipping.postal_code,
            shipping_country=shipping.country,
            shipping_phone=shipping.phone,
        )
        reservations = stock_reserve(
            lines=[StockLine(line.variant_id, line.quantity) for line in lines],
            owner=order.reservation_owner,
            ttl=reservation_ttl,
        )
        order.reservation_expires_at = reservations[0].expires_at
        order.save()
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    variant_id=line.variant_id,
                    product_title=line.product_title,
                    variant_title=line.variant_title,
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    line_total=(line.unit_price * line.quantity).quantize(TWO_PLACES),
                )
                for line in lines
            ]
        )
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.PLACED, actor=order.user)
    return order


def order_lock(*, order: Order) -> Order:
    """The order re-read with its row locked until the caller's transaction ends. Callers
    that decide on an order's status (payments) take this first, then their own rows."""
    return Order.objects.select_for_update().get(pk=order.pk)




def order_mark_paid(*, order: Order, reference: str, actor=None, reservation_ttl: timedelta) -> Order:
    """Marks the order paid and commits its reserved stock (on_hand falls, ledger rows).

    Idempotent: an order already paid is returned unchanged. If the reservation expired (or
    the order already expired), the stock is reserved again when it is still available;
    `reservation_ttl` bounds that fresh reservation. Raises InsufficientStock when it is not
    (nothing is written; the caller must not keep the money and expires the overdue order,
    as payments.services.payment_capture does), OrderStateError
    for a cancelled or failed order, StockBusy on lock timeout.
    """
    with transaction.atomic():
        order = order_lock(order=order)
        if order.status == Order.Status.PAID:
            return order
        # Money for a lapsed or failed order is honoured when the stock is still there.
        if order.status not in (Order.Status.PENDING_PAYMENT, Order.Status.EXPIRED, Order.Status.PAYMENT_FAILED):
            raise OrderStateError(order, "mark it paid")
        try:
            stock_commit(owner=order.reservation_owner, reference=order.number, actor=actor)
        except ReservationExpired:
            # Paid after the hold lapsed: honour it only if the stock is still there.
            stock_release(owner=order.reservation_owner)
            stock_reserve(
                lines=[StockLine(line.variant_id, line.quantity) for line in order.lines.all()],
                owner=order.reservation_owner,
                ttl=reservation_ttl,
            )
            stock_commit(owner=order.reservation_owner, reference=order.number, actor=actor)
        order.status = Order.Status.PAID
        order.paid_at = timezone.now()
        order.save(update_fields=["status", "paid_at", "updated_at"])
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.PAID, actor=actor, note=reference)
    return order


def _order_close(*, order: Order, status: str, event: str, actor=None, note: str = "") -> Order:
    """Moves a pending_payment order to `status` and releases its stock hold. Idempotent."""
    with transaction.atomic():
        order = order_lock(order=order)
        if order.status == status:
            return order
        if order.status != Order.Status.PENDING_PAYMENT:
            raise OrderStateError(order, f"set it {status.replace('_', ' ')}")
        stock_release(owner=order.reservation_owner)
        order.status = status
        order.save(update_fields=["status", "updated_at"])
        OrderEvent.objects.create(order=order, type=event, actor=actor, note=note)
    return order


def order_mark_payment_failed(*, order: Order, note: str = "", actor=None) -> Order:
    """pending_payment → payment_failed; the reserved units are available again at once.
    Raises OrderStateError if the order is paid, expired or cancelled."""
    return _order_close(
        order=order,
        status=Order.Status.PAYMENT_FAILED,
        event=OrderEvent.Type.PAYMENT_FAILED,
        actor=actor,
        note=note,
    )


def order_cancel(*, order: Order, actor=None, reason: str = "") -> Order:
    """Cancels an unpaid order and releases its reservation. Cancelling twice is harmless.
    Raises OrderStateError for an order that is not pending payment."""
    return _order_close(
        order=order, status=Order.Status.CANCELLED, event=OrderEvent.Type.CANCELLED, actor=actor, note=reason
    )


def order_expire_if_due(*, order: Order) -> Order:
    """Expires a pending_payment order whose reservation has lapsed; otherwise no change."""
    if order.status != Order.Status.PENDING_PAYMENT or not order.reservation_expires_at:
        return order
    if order.reservation_expires_at > timezone.now():
        return order
    try:
        return _order_close(order=order, status=Order.Status.EXPIRED, event=OrderEvent.Type.EXPIRED)
    except OrderStateError as exc:  # paid or closed meanwhile: nothing to expire
        return exc.order


def orders_expire_overdue() -> int:
    """The order half of the sweep: every pending_payment order whose reservation expired
    (reservation_expires_at <= now) becomes expired, with one EXPIRED OrderEvent each.

    Set-based, in one transaction: one UPDATE … RETURNING id, then one INSERT of the events.
    Safe to run concurrently with itself and with payments: each order is expired and evented
    exactly once, and never one that a payment has marked paid. Returns the number expired.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            ids = _orders_expire_returning_ids(now)
        else:
            ids = _orders_expire_portable(now)
        # No batch_size: on PostgreSQL, Django 5.2 sends all the rows as one INSERT … UNNEST of
        # one array per column (no limit on the number of parameters); SQLite batches itself.
        OrderEvent.objects.bulk_create(
            [OrderEvent(order_id=pk, type=OrderEvent.Type.EXPIRED, note="Reservation expired") for pk in ids]
        )
    return len(ids)


def _orders_expire_returning_ids(now: datetime) -> list[int]:
    # Why this is safe without SELECT … FOR UPDATE or skip_locked: the UPDATE locks each row
    # it changes. A row another transaction holds (a second sweeper, or a payment that took
    # order_lock) makes this statement wait; when that transaction ends, PostgreSQL
    # re-evaluates the WHERE on the row's new version (READ COMMITTED), so a row already
    # expired by the other sweeper, or paid by the payment, is skipped. Each order is thus
    # expired, and returned for its event, by exactly one sweep. The payment path holds only
    # its own order row while it waits for nothing we hold, so this cannot deadlock.
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        # Why a bound on the wait: a transaction stuck on an order row would otherwise hold
        # this sweep, and each one beat starts after it, forever. Timed out, the run fails
        # with the error on record and the next one tries again. SET LOCAL ends with the
        # transaction.
        cursor.execute(f"SET LOCAL lock_timeout = {int(SWEEP_LOCK_TIMEOUT_MS)}")
        cursor.execute(
            f"UPDATE {table} SET status = %s, updated_at = %s "
            "WHERE status = %s AND reservation_expires_at <= %s RETURNING id",
            [Order.Status.EXPIRED, now, Order.Status.PENDING_PAYMENT, now],
        )
        return [row[0] for row in cursor.fetchall()]


def _orders_expire_portable(now: datetime) -> list[int]:
    # SQLite (`make run`): its transactions start IMMEDIATE, i.e. hold the database's write
    # lock from the first statement, so nothing can change these rows between the SELECT and
    # the UPDATE (even a DEFERRED one would fail with "database is locked" rather than act on
    # a stale read). select_for_update() gives the same guarantee on backends that have it.
    # The events below are written for `ids`, so that guarantee is what keeps them exact.
    ids = list(
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT, reservation_expires_at__lte=now)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # Chunked: SQLite limits the number of parameters in one statement.
    for start in range(0, len(ids), 500):
        Order.objects.filter(pk__in=ids[start : start + 500], status=Order.Status.PENDING_PAYMENT).update(
            status=Order.Status.EXPIRED, updated_at=now
        )
    return ids


def sweep_run(*, trigger: str) -> SweepRun:
    """Runs the expiry sweep once and records it: reservations_expire() (marks lapsed
    reservations expired), then orders_expire_overdue() (expires their pending orders), each
    in its own transaction. `trigger` is a SweepRun.Trigger value (beat, command, admin).

    Returns the finished SweepRun with both counts. The run row is written before the work
    starts, so a sweep whose process dies shows up as a run that never finished. If the sweep
    raises, the error (and how far it got) is recorded on the run, then the exception is
    re-raised. Raises ValueError for an unknown trigger.
    """
    if trigger not in SweepRun.Trigger.values:
        raise ValueError(f"unknown sweep trigger {trigger!r}")
    run = SweepRun.objects.create(trigger=trigger, started_at=timezone.now())
    try:
        run.reservations_expired = reservations_expire()
        run.orders_expired = orders_expire_overdue()
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at", "reservations_expired", "orders_expired", "error"])
    return run


def order_flag(*, order: Order, reason: str) -> Order:
    """Marks the order as needing a person and records why (an OrderEvent); staff are
    emailed once the transaction commits. Flagging an order already flagged adds the reason."""
    with transaction.atomic():
        order = order_lock(order=order)
        order.needs_attention = True
        order.save(update_fields=["needs_attention", "updated_at"])
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.FLAGGED, note=reason)
        from .tasks import alert_staff_order_flagged

        transaction.on_commit(partial(alert_staff_order_flagged.delay, order.pk, reason))
    return order


def order_resolve_attention(*, order: Order, actor, note: str = "") -> Order:
    """Staff dealt with whatever flagged the order: clears needs_attention with an event.
    Harmless on an order that is not flagged."""
    with transaction.atomic():
        order = order_lock(order=order)
        if not order.needs_attention:
            return order
        order.needs_attention = False
        order.save(update_fields=["needs_attention", "updated_at"])
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.NOTE, actor=actor, note=note or "Attention resolved")
    return order


def order_record_refund(*, order: Order, refunded_total: Decimal, actor=None, note: str = "") -> Order:
    """Records that `refunded_total` (Decimal, the order currency, all refunds so far) was
    given back: the order becomes refunded when it covers the total, else partially_refunded.
    Raises OrderStateError for an order that was never paid."""
    refundable = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED, Order.Status.REFUNDED)
    with transaction.atomic():
        order = order_lock(order=order)
        if order.status not in refundable:
            raise OrderStateError(order, "refund it")
        order.refunded_total = refunded_total
        order.status = Order.Status.REFUNDED if refunded_total >= order.total else Order.Status.PARTIALLY_REFUNDED
        order.save(update_fields=["refunded_total", "status", "updated_at"])
        OrderEvent.objects.create(
            order=order,
            type=OrderEvent.Type.REFUNDED,
            actor=actor,
            note=f"{refunded_total} {order.currency} refunded in all" + (f": {note}" if note else ""),
        )
    return order


def order_restock_lines(*, order: Order, quantities: dict[int, int], actor=None) -> int:
    """Puts refunded or returned units back on hand through the ledger (reason "return"),
    `quantities` mapping line ids of this order to units. A line is never restocked beyond
    its quantity. Returns the units restocked. Raises ValueError for a line of another order
    or more units than are left to restock."""
    restocked = 0
    with transaction.atomic():
        lines = {line.pk: line for line in order.lines.select_for_update().filter(pk__in=quantities)}
        for line_id, units in quantities.items():
            if units <= 0:
                continue
            line = lines.get(line_id)
            if line is None or line.variant_id is None:
                raise ValueError(f"line {line_id} is not a restockable line of order {order.number}")
            if units > line.quantity - line.restocked_quantity:
                raise ValueError(f"line {line.sku}: only {line.quantity - line.restocked_quantity} left to restock")
            stock_adjust(
                variant=line.variant, quantity=units, reason=StockMovement.Reason.RETURN, actor=actor,
                reference=order.number, note="Restocked after a refund",
            )
            line.restocked_quantity += units
            line.save(update_fields=["restocked_quantity"])
            restocked += units
        if restocked:
            OrderEvent.objects.create(order=order, type=OrderEvent.Type.RESTOCKED, actor=actor, note=f"{restocked} unit(s) back on hand")
    return restocked
