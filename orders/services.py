"""
Writes to orders: create (draft order with line snapshots and reservations), mark paid,
payment failed, expire, cancel. Every status change locks the order row, checks the current
status (so applying the same change twice does nothing the second time) and writes an
OrderEvent.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.exceptions import InventoryError, ReservationExpired
from inventory.services import StockLine, stock_commit, stock_release, stock_reserve

from .models import Order, OrderEvent, OrderLine

TWO_PLACES = Decimal("0.01")


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
) -> tuple[Order, bool]:
    """Reserves stock for every line and creates the order in pending_payment, in one
    transaction: either both happen or neither does.

    Placing the same `checkout_token` twice returns the first order: (order, False); a new
    order returns (order, True). Totals are Decimal, rounded to 0.01.
    Raises InsufficientStock (naming every short line) or StockBusy; nothing is written then.
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
) -> Order:
    # durable: the reservation and the draft order commit together, never inside someone
    # else's transaction that might roll one back later.
    with transaction.atomic(durable=True):
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
        if order.status not in (Order.Status.PENDING_PAYMENT, Order.Status.EXPIRED):
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
    becomes expired, with an OrderEvent. Set-based; rows another transaction holds (an order
    being paid right now) are skipped and caught next run. Returns the number expired."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Order.objects.filter(
                status=Order.Status.PENDING_PAYMENT, reservation_expires_at__lte=now
            )
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        count = Order.objects.filter(pk__in=ids, status=Order.Status.PENDING_PAYMENT).update(
            status=Order.Status.EXPIRED, updated_at=now
        )
        OrderEvent.objects.bulk_create(
            [OrderEvent(order_id=pk, type=OrderEvent.Type.EXPIRED, note="Reservation expired") for pk in ids]
        )
    return count

