"""
Writes to orders: create (draft order with line snapshots and reservations), mark paid,
payment failed, expire, cancel, ship, mark delivered, archive. Every status change locks the
order row, asks ORDER_TRANSITIONS whether the move is allowed (so applying the same change
twice does nothing the second time, and a move the table does not list raises
OrderStateError) and writes an OrderEvent.

The expiry sweep (sweep_run) lives here too: orders knows inventory, inventory must not know
orders, so the one who knows both runs both halves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from catalog.models import Product, ProductReview
from catalog.services import DuplicateReview, review_create
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
from kernel.addresses import ADDRESS_FIELDS, phone_e164_or_as_is
from kernel.auth import user_or_none
from kernel.errors import DomainError
from kernel.i18n import language_active, language_or_default
from kernel.locking import lock_timeout_set
from kernel.tasks import enqueue_on_commit

from .credit_notes import credit_note_for_cancellation
from .models import EVENT_NOTES, Order, OrderEvent, OrderLine, Shipment, ShipmentLine, SweepRun, event_note
from .selectors import bought_lines

logger = logging.getLogger(__name__)

TWO_PLACES = Decimal("0.01")

# How long the sweep's UPDATE of orders may wait for one row lock (milliseconds). Payments
# hold an order row for well under a second; a wait this long means a stuck transaction.
SWEEP_LOCK_TIMEOUT_MS = 10_000


class OrderStateError(DomainError):
    """Raised when a transition is not allowed from the order's current status."""

    code = "order_state"
    http_status = HTTPStatus.CONFLICT

    def __init__(self, order: Order, action: str):
        self.order = order
        self.action = action
        # `action` is marked with gettext_noop by the caller ("cancel it") and translated here.
        super().__init__(
            gettext("Order %(number)s is %(status)s; cannot %(action)s.")
            % {"number": order.number, "status": order.get_status_display().lower(), "action": gettext(action)}
        )

    @property
    def message(self) -> str:
        return str(self)


class ImportedOrderError(OrderStateError):
    """Raised when asked to pay, cancel, ship, refund, restock or expire an imported order
    (Order.imported_at set, orders.importer): it is history from the shop the merchant came
    from, with no payment, stock or invoice of ours to act on. An OrderStateError, so every
    caller that shows those shows this one."""

    code = "order_imported"

    def __init__(self, order: Order, action: str):
        self.order = order
        self.action = action
        DomainError.__init__(
            self,
            gettext("Order %(number)s was imported from the previous shop and is history only; cannot %(action)s.")
            % {"number": order.number, "action": gettext(action)},
        )


def order_refuse_imported(order: Order, action: str) -> None:
    """Raises ImportedOrderError ("… cannot <action>") when `order` is an imported one."""
    if order.imported_at is not None:
        raise ImportedOrderError(order, action)


class ShipmentError(DomainError):
    """Raised for a shipment that cannot be made as asked (no units, more units than are left
    to ship, a line of another order, no carrier or tracking number, a bad tracking URL).
    `message` is for staff."""

    code = "shipment"
    message: str

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# -- the status machine ---------------------------------------------------------------------

_S = Order.Status

# Every status change of an order, and nothing else. Each service that changes a status asks
# this table (through _order_transition), so a move it does not list raises OrderStateError
# wherever it is attempted. Moving an order to the status it already has is not a transition:
# the service returns it unchanged, which is what makes applying the same change twice (a
# webhook delivered again, a double click) harmless.
#
# Refunds of an order that has shipped, been delivered or been cancelled change no status:
# it still says where the goods are (or that the order was called off), and refunded_total
# with its REFUNDED events says what went back (order_record_refund).
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.PENDING_PAYMENT: frozenset({_S.PAID, _S.PAYMENT_FAILED, _S.EXPIRED, _S.CANCELLED}),
    # Money that arrives after a decline or after the hold lapsed is honoured when the stock
    # is still there (order_mark_paid); otherwise payments refunds it.
    _S.PAYMENT_FAILED: frozenset({_S.PAID}),
    _S.EXPIRED: frozenset({_S.PAID}),
    # Cancelled only while nothing has shipped: order_cancel checks the lines as well.
    _S.PAID: frozenset({_S.PARTIALLY_FULFILLED, _S.FULFILLED, _S.CANCELLED, _S.PARTIALLY_REFUNDED, _S.REFUNDED}),
    # Part of the money went back (a goodwill gesture, one line): the rest still ships, or the
    # order is cancelled and the remainder refunded.
    # → paid, and refunded → partially_refunded / paid: a refund the provider reported
    # succeeded can fail afterwards (Stripe: https://docs.stripe.com/refunds#failed-refunds);
    # the money is back with us, so order_record_refund takes back what it counted. Only
    # order_record_refund makes these moves: order_mark_paid never sells a refunded order's
    # stock a second time (it refuses an order that was paid before).
    _S.PARTIALLY_REFUNDED: frozenset({_S.PARTIALLY_FULFILLED, _S.FULFILLED, _S.CANCELLED, _S.REFUNDED, _S.PAID}),
    _S.PARTIALLY_FULFILLED: frozenset({_S.FULFILLED}),
    _S.FULFILLED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset(),
    _S.REFUNDED: frozenset({_S.PARTIALLY_REFUNDED, _S.PAID}),
    _S.CANCELLED: frozenset(),
}

# Orders that can (still) ship: those the table lets become fulfilled.
SHIPPABLE = frozenset(status for status, targets in ORDER_TRANSITIONS.items() if _S.FULFILLED in targets)
# Orders the sweep may expire: those the table lets become expired (pending_payment).
EXPIRABLE = frozenset(status for status, targets in ORDER_TRANSITIONS.items() if _S.EXPIRED in targets)
# Orders staff may archive: nothing is left to do for them (no payment to wait for that could
# still be honoured, nothing left to ship). A late payment or a flag brings one back
# (order_mark_paid and order_flag clear archived_at).
ARCHIVABLE = frozenset({_S.PAYMENT_FAILED, _S.EXPIRED, _S.CANCELLED, _S.REFUNDED, _S.FULFILLED, _S.DELIVERED})


def order_transition_allowed(*, current: str, new: str) -> bool:
    """Whether ORDER_TRANSITIONS lets an order move from status `current` to `new`."""
    return new in ORDER_TRANSITIONS.get(current, frozenset())


def order_can_cancel(order: Order) -> bool:
    """Whether order_cancel would cancel `order` as last read (to offer a "Cancel" button):
    the table allows it and no unit has shipped. order_cancel decides again under the lock."""
    if order.imported_at is not None:
        return False
    return order_transition_allowed(current=order.status, new=Order.Status.CANCELLED) and not any(
        line.shipped_quantity for line in order.lines.all()
    )


def order_can_ship(order: Order) -> bool:
    """Whether order_ship would take a shipment of `order` as last read (to offer a "Ship"
    button): an order in SHIPPABLE with units left to ship."""
    if order.imported_at is not None:
        return False
    return order.status in SHIPPABLE and any(line.shipped_quantity < line.quantity for line in order.lines.all())


def _order_transition(order: Order, status: str, *, action: str) -> bool:
    """For an order locked by the caller: False if it already has `status` (the same change
    applied twice: nothing to do), True if the table allows the move. Raises OrderStateError
    ("… cannot <action>") when it does not."""
    if order.status == status:
        return False
    if not order_transition_allowed(current=order.status, new=status):
        raise OrderStateError(order, action)
    return True


def _order_set_status(
    order: Order,
    status: str,
    *,
    event: str,
    actor=None,
    note: str = "",
    code: str = "",
    params: Mapping[str, str] | None = None,
    fields: Sequence[str] = (),
) -> None:
    """Saves the locked `order` in `status` (with `fields` changed alongside) and records the
    OrderEvent (`code` and `params`: its note for the shopper's language, EVENT_NOTES). Only
    after _order_transition said yes."""
    order.status = status
    order.save(update_fields=["status", *fields, "updated_at"])
    OrderEvent.objects.create(order=order, type=event, actor=actor, note=note, code=code, params=dict(params or {}))


def _order_email_on_commit(kind: str, order: Order, key: str) -> None:
    """Enqueues the shopper's email `kind` once the transaction commits: an email about a
    change that was rolled back would tell the shopper something untrue."""
    # robust: by then the change has committed; a broker that is down (or, when tasks run
    # eagerly, a failing send) must not turn it into an error for whoever made the change.
    # The task itself retries, and its EmailLog row keeps a retried send from doubling.
    enqueue_on_commit("orders.tasks.send_order_email", kind, order.pk, key)


@dataclass(frozen=True)
class LineSnapshot:
    """What the customer buys: copied onto the order so later catalog edits change nothing.
    unit_price is Decimal in currency units; quantity an integer > 0. tax_rate is a fraction
    (Decimal("0.2000") = 20 %), tax_amount the line's tax in currency units (contained in the
    line total or added to it, as the order's prices_include_tax says), both as priced by
    checkout."""

    variant_id: int
    product_title: str
    variant_title: str
    sku: str
    unit_price: Decimal
    quantity: int
    tax_rate: Decimal = Decimal("0")
    tax_amount: Decimal = Decimal("0")


@dataclass(frozen=True)
class ShippingDetails:
    """The contact and the addresses of an order, validated by the caller (kernel.addresses):
    the shipping address's fields (kernel.addresses.ADDRESS_FIELDS) and `billing`, the billing
    address as a dict of the same fields, None when it is the shipping address."""

    email: str
    name: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str
    phone: str = ""
    company: str = ""
    city_area: str = ""
    sorting_code: str = ""
    country_area: str = ""
    billing: Mapping[str, str] | None = None

    def shipping_address(self) -> dict[str, str]:
        return _address_snapshot({field: getattr(self, field) for field in ADDRESS_FIELDS})

    def billing_address(self) -> dict[str, str]:
        """The billing address, every field present: the shipping address when none."""
        if not self.billing:
            return self.shipping_address()
        return _address_snapshot({field: self.billing.get(field) for field in ADDRESS_FIELDS})


def _address_snapshot(address: Mapping[str, object]) -> dict[str, str]:
    """An address as the order keeps it: strings, the phone in E.164 where it can be read
    with the address's country (one from an import, typed "020 7946 0958"), else as given."""
    snapshot = {field: str(address.get(field) or "") for field in ADDRESS_FIELDS}
    snapshot["phone"] = phone_e164_or_as_is(snapshot["phone"], snapshot["country"])
    return snapshot


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
    discount_total: Decimal = Decimal("0"),
    tax_total: Decimal = Decimal("0"),
    prices_include_tax: bool = True,
    voucher_code: str = "",
    on_create: Callable[[Order], None] | None = None,
) -> tuple[Order, bool]:
    """Reserves stock for every line and creates the order in pending_payment, in one
    transaction: either both happen or neither does.

    Money as checkout priced it: `discount_total` off the goods, `tax_total` the tax of lines
    and shipping (contained in the prices when `prices_include_tax`, else added), so
    total = subtotal − discount_total + shipping (+ tax_total when prices exclude tax).

    `on_create(order)` runs inside that same transaction once the order and its lines exist
    (checkout counts a voucher use there), before the stock is reserved: whatever it raises
    rolls everything back and reaches the caller, and a row it locks is locked before the
    stock rows (the stock is reserved last, so that its lock is held for the shortest time).

    `transfer_from` names a reservation owner (e.g. "cart:12") whose live reservations are
    released first, inside that same transaction: its units pass to the order without ever
    being available to anyone else, and if its hold lapsed the order gets the stock only if
    it is still there. Releasing an owner that holds nothing is harmless.

    Placing the same `checkout_token` twice returns the first order: (order, False), with
    nothing written; a new order returns (order, True). Totals are Decimal, rounded to 0.01.
    Raises InsufficientStock (naming every short line) or StockBusy; nothing is written then
    (the `transfer_from` hold stays as it was).
    """
    if not lines:
        raise ValueError("an order needs at least one line")
    # No lookup of `checkout_token` up front, one query less for every new order: a repeat
    # fails on the unique token (or on the stock the first order took), rolls back, and is
    # answered below.
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0")).quantize(TWO_PLACES)
    shipping_total = Decimal(shipping_price).quantize(TWO_PLACES)
    discount_total = Decimal(discount_total).quantize(TWO_PLACES)
    tax_total = Decimal(tax_total).quantize(TWO_PLACES)
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
            discount_total=discount_total,
            tax_total=tax_total,
            prices_include_tax=prices_include_tax,
            voucher_code=voucher_code,
            on_create=on_create,
        )
    except (IntegrityError, InventoryError):
        # Why: the same checkout placed twice (double click, retried request): the second
        # found the units gone (the first took them, perhaps while it queued behind the
        # first's stock lock), or hit the unique checkout_token. Either way the first order
        # is the answer; with no such order the error is real.
        existing = Order.objects.filter(checkout_token=checkout_token).first()
        if existing:
            return existing, False
        raise
    logger.info(
        "order placed",
        extra={"event": "order.placed", "order": order.number, "total": str(order.total), "currency": order.currency},
    )
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
    discount_total: Decimal = Decimal("0"),
    tax_total: Decimal = Decimal("0"),
    prices_include_tax: bool = True,
    voucher_code: str = "",
    on_create: Callable[[Order], None] | None = None,
) -> Order:
    # durable: the reservation and the draft order commit together, never inside someone
    # else's transaction that might roll one back later.
    now = timezone.now()
    with transaction.atomic(durable=True):
        if transfer_from:
            # Why here, inside the same transaction as stock_reserve below: others keep
            # seeing the old hold until we commit, and by then the order's hold replaces it,
            # so the units are never free in between; our own reserve already counts them
            # as released. A rollback restores the old hold untouched.
            stock_release(owner=transfer_from)
        order = Order(
            checkout_token=checkout_token,
            user=user_or_none(user),
            email=shipping.email,
            currency=currency,
            # The shopper's language (the request's, via LocaleMiddleware): the order's emails
            # and documents are written in it (orders.emails).
            language=language_active(),
            subtotal=subtotal,
            shipping_total=shipping_total,
            discount_total=discount_total,
            tax_total=tax_total,
            prices_include_tax=prices_include_tax,
            voucher_code=voucher_code,
            total=subtotal - discount_total + shipping_total + (Decimal("0") if prices_include_tax else tax_total),
            shipping_method_name=shipping_method_name,
            # The hold's expiry: stock_reserve below counts from the same `now`.
            reservation_expires_at=now + reservation_ttl,
            **{f"shipping_{field}": value for field, value in shipping.shipping_address().items()},
            **{f"billing_{field}": value for field, value in shipping.billing_address().items()},
        )
        # Why the order's rows are written before the stock is reserved: the stock rows'
        # lock is held from stock_reserve until COMMIT, and every buyer of those variants
        # queues on it (a flash sale's hot SKU: one row for everyone). Reserving last keeps
        # that lock for one round trip and the commit, instead of for the order's five
        # inserts as well. Nothing is lost by it: InsufficientStock or StockBusy roll the
        # whole transaction back, order and all, and a repeat of the same checkout_token
        # now stops at the unique token before it queues for the stock.
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
                    tax_rate=line.tax_rate,
                    tax_amount=Decimal(line.tax_amount).quantize(TWO_PLACES),
                )
                for line in lines
            ]
        )
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.PLACED, actor=order.user)
        if on_create is not None:
            on_create(order)
        stock_reserve(
            lines=[StockLine(line.variant_id, line.quantity) for line in lines],
            owner=order.reservation_owner,
            ttl=reservation_ttl,
            now=now,
        )
    return order


def order_lock(*, order: Order) -> Order:
    """The order re-read with its row locked until the caller's transaction ends. Callers
    that decide on an order's status (payments) take this first, then their own rows."""
    return Order.objects.select_for_update().get(pk=order.pk)


def order_mark_paid(
    *, order: Order, reference: str, actor=None, reservation_ttl: timedelta, locked: bool = False
) -> Order:
    """Marks the order paid and commits its reserved stock (on_hand falls, ledger rows).
    `locked`: `order` is the caller's own order_lock of it, in a transaction still open
    (payments.services.payment_capture): it is as locked and as fresh as a second read.

    Idempotent: an order already paid is returned unchanged. If the reservation expired (or
    the order already expired), the stock is reserved again when it is still available;
    `reservation_ttl` bounds that fresh reservation. Raises InsufficientStock when it is not
    (nothing is written; the caller must not keep the money and expires the overdue order,
    as payments.services.payment_capture does), OrderStateError for an order that
    ORDER_TRANSITIONS does not let become paid (cancelled, shipped, refunded…), StockBusy on
    lock timeout.
    """
    with transaction.atomic():
        if not locked:
            order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("mark it paid"))
        if order.paid_at is not None and order.status != Order.Status.PAID:
            # Paid before and refunded (in part or in full): its stock was sold once. Only a
            # refund that failed afterwards brings it back to paid (order_record_refund).
            raise OrderStateError(order, gettext_noop("mark it paid"))
        # Money for a lapsed or failed order is honoured when the stock is still there.
        if not _order_transition(order, Order.Status.PAID, action=gettext_noop("mark it paid")):
            return order
        try:
            stock_commit(owner=order.reservation_owner, reference=order.number, actor=actor)
        except ReservationExpired:
            # Paid after the hold lapsed: honour it only if the stock is still there.
            stock_release(owner=order.reservation_owner)
            stock_reserve(
                # variant_id is never None here: an order's reservations (PROTECT) keep its
                # variants from being deleted before it is paid.
                lines=[StockLine(line.variant_id, line.quantity) for line in order.lines.all()],  # type: ignore[arg-type]
                owner=order.reservation_owner,
                ttl=reservation_ttl,
            )
            stock_commit(owner=order.reservation_owner, reference=order.number, actor=actor)
        order.paid_at = timezone.now()
        # A late payment of an archived (expired or failed) order brings it back into the
        # admin's order list: it has to ship now.
        order.archived_at = None
        _order_set_status(
            order,
            Order.Status.PAID,
            event=OrderEvent.Type.PAID,
            actor=actor,
            note=reference,
            fields=["paid_at", "archived_at"],
        )
        logger.info("order paid", extra={"event": "order.paid", "order": order.number, "reference": reference})
        # Invoice, then the confirmation with it attached, once the payment has committed (a
        # rolled-back payment sends nothing). robust: without a broker the task runs right
        # here, and a failing PDF or mail server must not turn a taken payment into an error.
        enqueue_on_commit("orders.tasks.order_paid_followups", order.pk)
    return order


def _order_close(*, order: Order, status: str, event: str, actor=None, note: str = "") -> Order:
    """Moves a pending_payment order to `status` (payment_failed, expired) and releases its
    stock hold. Idempotent. Raises OrderStateError when the table does not allow the move."""
    with transaction.atomic():
        order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("close it"))
        if not _order_transition(order, status, action=f"set it {status.replace('_', ' ')}"):
            return order
        stock_release(owner=order.reservation_owner)
        _order_set_status(order, status, event=event, actor=actor, note=note)
    return order


def order_mark_payment_failed(*, order: Order, note: str = "", actor=None) -> Order:
    """pending_payment → payment_failed; the reserved units are available again at once.
    Raises OrderStateError if the order is paid, expired or cancelled."""
    order = _order_close(
        order=order,
        status=Order.Status.PAYMENT_FAILED,
        event=OrderEvent.Type.PAYMENT_FAILED,
        actor=actor,
        note=note,
    )
    # Tell the shopper once the failure has committed; one email per order (EmailLog keyed
    # by its number), so applying this twice sends one.
    enqueue_on_commit("orders.tasks.send_order_email", "payment_failed", order.pk)
    return order


def order_payment_attempt_failed(*, order: Order, note: str = "", actor=None) -> Order:
    """A payment of the pending `order` failed (declined, abandoned, its provider checkout
    expired): the order stays pending_payment and keeps its stock reservation, so the shopper
    can try again, with a new payment of the same order, until the reservation lapses; then
    the sweep (or order_expire_if_due) expires it like any unpaid order. Records a
    PAYMENT_FAILED event (no status change) and, once committed, emails the shopper (once
    per order, the email says until when the items are held).

    An order whose reservation has lapsed already leaves no time to try again: it becomes
    payment_failed at once, its stock released (order_mark_payment_failed). An order that is
    not pending (paid by another payment, cancelled, expired) is returned unchanged.
    Idempotence is the caller's (payments.services.payment_fail applies a failed payment
    once)."""
    with transaction.atomic():
        order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("record a payment attempt"))
        if order.status != Order.Status.PENDING_PAYMENT:
            return order
        if order.reservation_expires_at and order.reservation_expires_at <= timezone.now():
            return order_mark_payment_failed(order=order, note=note, actor=actor)
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.PAYMENT_FAILED, actor=actor, note=note)
    enqueue_on_commit("orders.tasks.send_order_email", "payment_failed", order.pk)
    return order


def order_cancel(
    *, order: Order, actor=None, reason: str = "", reason_code: str = "", unpaid_only: bool = False
) -> Order:
    """Cancels `order` with a CANCELLED event (`reason` as its note) and, after the commit,
    the "order_cancelled" email. Cancelling twice is harmless: the second call returns the
    order unchanged.

    `reason_code`: who cancelled, a key of orders.models.EVENT_NOTES (NOTE_CANCELLED_BY_CUSTOMER
    with the customer's words as `reason`, NOTE_CANCELLED_BY_STAFF): the note is that in
    English (event_note), and the shopper reads it in their language. Without one, `reason`
    is the note as written (staff's words).

    pending_payment: its reservation is released (the units are available at once).
    paid (or partially refunded) with nothing shipped: every line's units not yet restocked
    (quantity − restocked_quantity) go back on hand through the ledger (reason RESTOCK,
    reference the order number), restocked_quantity follows, and a RESTOCKED event records
    it. This does NOT refund: money is payments' business, so a paid order is cancelled
    through payments.services.order_cancel_and_refund, which calls this and then refunds.
    It does document it: a credit note for what is left of the invoice (the invoice issued
    first if the order had none; orders.credit_notes), attached to the email.

    `unpaid_only=True` refuses a paid order, for callers that cannot refund (the orders
    admin's bulk action): decided under the order's lock, so a payment landing at the same
    moment is never cancelled without its refund.

    Raises OrderStateError when the order cannot be cancelled (shipped in part or in full,
    delivered, refunded, expired, failed; paid with unpaid_only), StockBusy on lock timeout;
    nothing is written then.
    """
    note = event_note(reason_code, reason=reason) if reason_code else reason
    with transaction.atomic():
        order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("cancel it"))
        if order.status == Order.Status.CANCELLED:
            return order
        if unpaid_only and order.status != Order.Status.PENDING_PAYMENT:
            raise OrderStateError(order, gettext_noop("set it cancelled"))
        _order_transition(order, Order.Status.CANCELLED, action=gettext_noop("cancel it"))
        if order.status == Order.Status.PENDING_PAYMENT:
            stock_release(owner=order.reservation_owner)
            restocked = 0
        else:
            # The lines after the order (the lock order of every order service), so that a
            # shipment being recorded right now either went first (and we see its units, and
            # refuse) or waits for us (and finds the order cancelled).
            lines = list(order.lines.select_for_update().order_by("pk"))
            if any(line.shipped_quantity for line in lines):
                raise OrderStateError(order, gettext_noop("cancel it: part of it has shipped"))
            restocked = _order_restock_for_cancel(order=order, lines=lines, actor=actor)
            # Money going back is documented by a credit note for what is left of the invoice
            # (issued first if need be), while the order is still paid and in this
            # transaction: a rollback takes its number back. The email below attaches it.
            credit_note_for_cancellation(
                order=order, reason=_note_in_order_language(order, reason_code, reason), actor=actor
            )
        _order_set_status(
            order,
            Order.Status.CANCELLED,
            event=OrderEvent.Type.CANCELLED,
            actor=actor,
            note=note,
            code=reason_code,
            params={"reason": reason} if reason_code else None,
        )
        logger.info(
            "order cancelled", extra={"event": "order.cancelled", "order": order.number, "restocked": restocked}
        )
        if restocked:
            OrderEvent.objects.create(
                order=order, type=OrderEvent.Type.RESTOCKED, actor=actor, note=f"{restocked} unit(s) back on hand"
            )
        _order_email_on_commit("order_cancelled", order, order.number)
    return order


def _note_in_order_language(order: Order, code: str, reason: str) -> str:
    """The cancellation's note (as order_cancel takes it) in the language the order was
    placed in, for its documents: a coded one translated, a person's words as written."""
    if not code:
        return reason
    with translation.override(language_or_default(order.language)):
        return gettext(EVENT_NOTES[code]) % {"reason": reason}


def _order_restock_for_cancel(*, order: Order, lines: Sequence[OrderLine], actor=None) -> int:
    """Puts the sold, not yet restocked units of `lines` (locked by the caller) back on hand
    through the ledger (RESTOCK). Returns the units restocked."""
    restocked = 0
    # Variant by variant in primary-key order: stock_adjust locks one stock row at a time and
    # keeps it until our commit, and every multi-row stock lock (stock_reserve, stock_commit)
    # goes in that order too, so a sale of the same variants cannot deadlock with us.
    for line in sorted(lines, key=lambda line: (line.variant_id or 0, line.pk)):
        units = line.quantity - line.restocked_quantity
        # A line whose variant is gone cannot go back on hand; the ledger (PROTECT) keeps a
        # sold variant from being deleted, so this is a backstop.
        if units <= 0 or line.variant is None:
            continue
        stock_adjust(
            variant=line.variant,
            quantity=units,
            reason=StockMovement.Reason.RESTOCK,
            actor=actor,
            reference=order.number,
            note="Order cancelled",
        )
        line.restocked_quantity += units
        line.save(update_fields=["restocked_quantity"])
        restocked += units
    return restocked


def order_expire_if_due(*, order: Order) -> Order:
    """Expires a pending_payment order whose reservation has lapsed; otherwise no change."""
    if order.status != Order.Status.PENDING_PAYMENT or not order.reservation_expires_at or order.imported_at:
        return order
    if order.reservation_expires_at > timezone.now():
        return order
    try:
        return _order_close(order=order, status=Order.Status.EXPIRED, event=OrderEvent.Type.EXPIRED)
    except OrderStateError as exc:  # paid or closed meanwhile: nothing to expire
        return exc.order


def orders_expire_overdue() -> int:
    """The order half of the sweep: every pending_payment order (EXPIRABLE, from the
    transitions table) whose reservation expired (reservation_expires_at <= now) becomes
    expired, with one EXPIRED OrderEvent each.

    Set-based, in one transaction: on PostgreSQL one statement (UPDATE … RETURNING id feeding
    the INSERT of the events), elsewhere a SELECT, UPDATEs and one INSERT. Safe to run
    concurrently with itself and with payments: each order is expired and evented exactly
    once, and never one that a payment has marked paid. Returns the number expired.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            return _orders_expire_with_events(now)
        ids = _orders_expire_portable(now)
        OrderEvent.objects.bulk_create([_expired_event(pk) for pk in ids])
    return len(ids)


def _expired_event(order_id: int) -> OrderEvent:
    return OrderEvent(order_id=order_id, type=OrderEvent.Type.EXPIRED, note="Reservation expired")


def _orders_expire_with_events(now: datetime) -> int:
    # Why this is safe without SELECT … FOR UPDATE or skip_locked: the UPDATE locks each row
    # it changes. A row another transaction holds (a second sweeper, or a payment that took
    # order_lock) makes this statement wait; when that transaction ends, PostgreSQL
    # re-evaluates the WHERE on the row's new version (READ COMMITTED), so a row already
    # expired by the other sweeper, or paid by the payment, is skipped. Each order is thus
    # expired, and gets its event, by exactly one sweep: the INSERT takes its ids from the
    # UPDATE's RETURNING in the same statement. The payment path holds only its own order
    # row while it waits for nothing we hold, so this cannot deadlock.
    table = connection.ops.quote_name(Order._meta.db_table)
    # The events' columns and values as OrderEvent.save() would write them (field defaults,
    # auto_now_add), each cast to its column's type; only order_id comes from the UPDATE.
    template = _expired_event(0)
    fields = [f for f in OrderEvent._meta.concrete_fields if not f.primary_key and f.name != "order"]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in [OrderEvent._meta.get_field("order"), *fields])
    values = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
    event_params = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    events = connection.ops.quote_name(OrderEvent._meta.db_table)
    # Why a bound on the wait: a transaction stuck on an order row would otherwise hold this
    # sweep, and each one beat starts after it, forever. Timed out, the run fails with the
    # error on record (not "busy": nobody is waiting for an answer) and the next one tries
    # again. It lasts until the transaction ends.
    lock_timeout_set(SWEEP_LOCK_TIMEOUT_MS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH expired AS (
                UPDATE {table} SET status = %s, updated_at = %s
                WHERE status = ANY(%s) AND reservation_expires_at <= %s AND imported_at IS NULL
                RETURNING id
            ), evented AS (
                INSERT INTO {events} ({columns}) SELECT id, {values} FROM expired RETURNING 1
            )
            SELECT count(*) FROM evented
            """,
            [Order.Status.EXPIRED, now, [str(status) for status in sorted(EXPIRABLE)], now, *event_params],
        )
        return cursor.fetchone()[0]


def _orders_expire_portable(now: datetime) -> list[int]:
    # SQLite (`make run`): its transactions start IMMEDIATE, i.e. hold the database's write
    # lock from the first statement, so nothing can change these rows between the SELECT and
    # the UPDATE (even a DEFERRED one would fail with "database is locked" rather than act on
    # a stale read). select_for_update() gives the same guarantee on backends that have it.
    # The events below are written for `ids`, so that guarantee is what keeps them exact.
    ids = list(
        Order.objects.filter(status__in=EXPIRABLE, reservation_expires_at__lte=now, imported_at__isnull=True)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # Chunked: SQLite limits the number of parameters in one statement.
    for start in range(0, len(ids), 500):
        Order.objects.filter(pk__in=ids[start : start + 500], status__in=EXPIRABLE).update(
            status=Order.Status.EXPIRED, updated_at=now
        )
    return ids


def _sweep_halves(run: SweepRun) -> None:
    """Runs the two halves of the sweep and records each count on `run` as it finishes.

    They touch different tables and neither waits for the other, so on PostgreSQL, outside a
    transaction of the caller's, the order half runs on a connection of its own in a second
    thread while this one expires reservations: a large backlog takes about the longer of
    the two instead of their sum. In a caller's transaction (which both halves must then
    join) or on SQLite, one after the other."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        run.reservations_expired = reservations_expire()
        run.orders_expired = orders_expire_overdue()
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-orders") as pool:
        orders = pool.submit(_on_own_connection, orders_expire_overdue)
        try:
            run.reservations_expired = reservations_expire()
        finally:
            # Whatever became of the reservations, the order half's count is on record too.
            if orders.exception() is None:
                run.orders_expired = orders.result()
        run.orders_expired = orders.result()  # raises the order half's error, if any


def _on_own_connection(func: Callable[[], int]) -> int:
    """func() in a worker thread, which Django gives a connection of its own; closed after."""
    try:
        return func()
    finally:
        connection.close()


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
        _sweep_halves(run)
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        logger.error("sweep failed", extra={"event": "sweep.failed", "trigger": trigger, "error": run.error})
        raise
    finally:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at", "reservations_expired", "orders_expired", "error"])
    logger.info(
        "sweep finished",
        extra={
            "event": "sweep.finished",
            "trigger": trigger,
            "reservations_expired": run.reservations_expired,
            "orders_expired": run.orders_expired,
        },
    )
    return run


def order_flag(*, order: Order, reason: str) -> Order:
    """Marks the order as needing a person and records why (an OrderEvent); staff are
    emailed once the transaction commits. Flagging an order already flagged adds the reason.
    An archived order comes back into the admin's order list."""
    with transaction.atomic():
        order = order_lock(order=order)
        order.needs_attention = True
        order.archived_at = None  # a person must see it: archived orders are hidden by default
        order.save(update_fields=["needs_attention", "archived_at", "updated_at"])
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.FLAGGED, note=reason)
        enqueue_on_commit("orders.tasks.alert_staff_order_flagged", order.pk, reason)
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
        OrderEvent.objects.create(
            order=order, type=OrderEvent.Type.NOTE, actor=actor, note=note or "Attention resolved"
        )
    return order


def order_record_refund(*, order: Order, refunded_total: Decimal, actor=None, note: str = "") -> Order:
    """Records that `refunded_total` (Decimal, the order currency, all refunds so far) was
    given back, with a REFUNDED event. A paid order that has not shipped becomes refunded when
    it covers the total, else partially_refunded. An order that has shipped, been delivered
    or been cancelled after payment keeps its status (see ORDER_TRANSITIONS): only
    refunded_total changes. Recording the same total again changes nothing.

    The total may also go down, when a refund that succeeded fails afterwards: a refunded
    order becomes partially_refunded, or paid again when nothing is left refunded.
    Raises OrderStateError for an order that was never paid."""
    keeps_status = (Order.Status.PARTIALLY_FULFILLED, Order.Status.FULFILLED, Order.Status.DELIVERED)
    with transaction.atomic():
        order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("refund it"))
        if order.paid_at is None and order.status != Order.Status.PAID:
            raise OrderStateError(order, gettext_noop("refund it"))
        if refunded_total == order.refunded_total:
            return order
        order.refunded_total = refunded_total
        if order.status in keeps_status or order.status == Order.Status.CANCELLED:
            order.save(update_fields=["refunded_total", "updated_at"])
        else:
            if refunded_total >= order.total:
                status = Order.Status.REFUNDED
            elif refunded_total > 0:
                status = Order.Status.PARTIALLY_REFUNDED
            else:  # every refund of it was taken back
                status = Order.Status.PAID
            _order_transition(order, status, action=gettext_noop("refund it"))
            order.status = status
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
    order_refuse_imported(order, gettext_noop("restock it"))
    restocked = 0
    with transaction.atomic():
        lines = {line.pk: line for line in order.lines.select_for_update().filter(pk__in=quantities)}
        for line_id, units in quantities.items():
            if units <= 0:
                continue
            line = lines.get(line_id)
            if line is None or line.variant is None:
                raise ValueError(f"line {line_id} is not a restockable line of order {order.number}")
            if units > line.quantity - line.restocked_quantity:
                raise ValueError(f"line {line.sku}: only {line.quantity - line.restocked_quantity} left to restock")
            stock_adjust(
                variant=line.variant,
                quantity=units,
                reason=StockMovement.Reason.RETURN,
                actor=actor,
                reference=order.number,
                note="Restocked after a refund",
            )
            line.restocked_quantity += units
            line.save(update_fields=["restocked_quantity"])
            restocked += units
        if restocked:
            OrderEvent.objects.create(
                order=order, type=OrderEvent.Type.RESTOCKED, actor=actor, note=f"{restocked} unit(s) back on hand"
            )
    return restocked


# -- fulfilment and archiving ----------------------------------------------------------------

_tracking_url_valid = URLValidator(schemes=["http", "https"])


def order_ship(
    *,
    order: Order,
    lines: dict[int, int],
    carrier: str,
    tracking_number: str,
    tracking_url: str = "",
    actor=None,
) -> Shipment:
    """Hands units of the order's lines to `carrier`: `lines` maps order line ids to units
    (integers ≥ 0; zeros are skipped). Creates a Shipment with one ShipmentLine per line
    shipped, raises each line's shipped_quantity, moves the order to partially_fulfilled, or
    fulfilled once every unit of every line has shipped, records a SHIPPED event (carrier,
    tracking number, what went) and, after the commit, enqueues the "order_shipped" email
    (one per shipment: its key is the shipment's pk). Returns the shipment.

    Only an order in SHIPPABLE (paid, partially refunded, partially fulfilled) ships. The
    same tracking number submitted again with the same lines (a double click, a retried
    request) returns the first shipment and changes nothing.

    Raises OrderStateError for an order that cannot ship (pending, cancelled, refunded,
    already fulfilled…), ShipmentError for a blank carrier or tracking number, a tracking URL
    that is not http(s), no units at all, negative units, a line of another order, more units
    than are left to ship (quantity − shipped_quantity), or a tracking number this order
    already used for other lines. Nothing is written then.
    """
    carrier, tracking_number, tracking_url = carrier.strip(), tracking_number.strip(), tracking_url.strip()
    if not carrier or not tracking_number:
        raise ShipmentError("A shipment needs a carrier and a tracking number.")
    if tracking_url:
        try:
            _tracking_url_valid(tracking_url)
        except ValidationError:
            raise ShipmentError("The tracking URL must be an http(s) address.") from None
    if any(units < 0 for units in lines.values()):
        raise ShipmentError("Units to ship cannot be negative.")
    wanted = {int(line_id): int(units) for line_id, units in lines.items() if units}
    with transaction.atomic():
        # The order row first, then its lines (as order_cancel takes them): a cancellation and
        # a shipment of the same order queue here, and the second sees what the first did.
        order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("ship it"))
        existing = order.shipments.filter(tracking_number=tracking_number).prefetch_related("lines").first()
        if existing is not None:
            if existing.carrier == carrier and {sl.line_id: sl.quantity for sl in existing.lines.all()} == wanted:
                return existing
            raise ShipmentError(
                f"Tracking number {tracking_number} is already used by another shipment of order {order.number}."
            )
        if order.status not in SHIPPABLE:
            raise OrderStateError(order, gettext_noop("ship it"))
        if not wanted:
            raise ShipmentError("Choose at least one unit to ship.")
        order_lines = {line.pk: line for line in order.lines.select_for_update().order_by("pk")}
        for line_id, units in wanted.items():
            line = order_lines.get(line_id)
            if line is None:
                raise ShipmentError(f"Line {line_id} is not a line of order {order.number}.")
            left = line.quantity - line.shipped_quantity
            if units > left:
                raise ShipmentError(f"{line.sku}: only {left} unit(s) are left to ship.")
        shipment = Shipment.objects.create(
            order=order, carrier=carrier, tracking_number=tracking_number, tracking_url=tracking_url, actor=actor
        )
        ShipmentLine.objects.bulk_create(
            [ShipmentLine(shipment=shipment, line_id=line_id, quantity=units) for line_id, units in wanted.items()]
        )
        for line_id, units in wanted.items():
            line = order_lines[line_id]
            line.shipped_quantity += units
            line.save(update_fields=["shipped_quantity"])
        everything_shipped = all(line.shipped_quantity >= line.quantity for line in order_lines.values())
        status = Order.Status.FULFILLED if everything_shipped else Order.Status.PARTIALLY_FULFILLED
        if _order_transition(order, status, action=gettext_noop("ship it")):
            order.status = status
            order.save(update_fields=["status", "updated_at"])
        # One SHIPPED event per parcel, even when the status stays partially_fulfilled.
        what = ", ".join(f"{units} × {order_lines[line_id].sku}" for line_id, units in wanted.items())
        OrderEvent.objects.create(
            order=order,
            type=OrderEvent.Type.SHIPPED,
            actor=actor,
            note=f"{carrier} {tracking_number}: {what}" + (f" ({tracking_url})" if tracking_url else ""),
        )
        _order_email_on_commit("order_shipped", order, str(shipment.pk))
    return shipment


def order_mark_delivered(*, order: Order, actor=None) -> Order:
    """fulfilled → delivered, with a DELIVERED event. Marking it twice is harmless. Raises
    OrderStateError for an order that has not shipped in full (or was cancelled, refunded…)."""
    with transaction.atomic():
        order = order_lock(order=order)
        order_refuse_imported(order, gettext_noop("mark it delivered"))
        if _order_transition(order, Order.Status.DELIVERED, action=gettext_noop("mark it delivered")):
            _order_set_status(order, Order.Status.DELIVERED, event=OrderEvent.Type.DELIVERED, actor=actor)
    return order


def order_archive(*, order: Order, actor=None) -> Order:
    """Archives `order`: sets archived_at (the admin's order list hides it by default) with a
    NOTE event. Orders are never deleted; archiving keeps them for the books and changes
    nothing else. Archiving twice is harmless. Raises OrderStateError for an order that still
    needs work (ARCHIVABLE: awaiting payment, paid and not yet shipped in full)."""
    with transaction.atomic():
        order = order_lock(order=order)
        if order.archived_at is not None:
            return order
        if order.status not in ARCHIVABLE:
            raise OrderStateError(order, gettext_noop("archive it while it still needs work"))
        order.archived_at = timezone.now()
        order.save(update_fields=["archived_at", "updated_at"])
        OrderEvent.objects.create(order=order, type=OrderEvent.Type.NOTE, actor=actor, note="Archived")
    return order


def imported_orders_attach(*, user) -> int:
    """Gives `user` the imported orders (orders.importer) placed as a guest with their email,
    in any letter case; returns how many. Call it once the person has shown that the mailbox
    is theirs (a verification link, an invitation or a password reset opened from it), never
    on a bare sign-up: an email typed at sign-up proves nothing and must not open someone's
    order history. Orders placed here are not touched (a guest checkout stays a guest's), nor
    imported orders that already belong to an account."""
    if not user.email:
        return 0
    return Order.objects.filter(imported_at__isnull=False, user__isnull=True, email__iexact=user.email).update(
        user=user, updated_at=timezone.now()
    )


# Reviews ---------------------------------------------------------------------------------
# The review is catalog's row; who may write one is decided here, because only orders knows
# who bought what (catalog must not know orders).


class ReviewNotAllowed(DomainError):
    """The shopper may not review this product. `reason` is one of MESSAGES' keys; `message`
    is the text to show them."""

    code = "review_not_allowed"
    http_status = HTTPStatus.FORBIDDEN

    MESSAGES = {
        "anonymous": gettext_noop("Please sign in to review a product."),
        "not_bought": gettext_noop("Only shoppers who bought this product can review it."),
        "already_reviewed": gettext_noop("You have already reviewed this product."),
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(gettext(self.MESSAGES[reason]))

    @property
    def message(self) -> str:
        return str(self)


def review_submit(*, user, product: Product, rating: int, text: str, title: str = "") -> ProductReview:
    """Stores `user`'s review of `product` (rating 1–5, text required), pending moderation:
    it shows on the shop once staff approve it.

    Only a buyer may review: someone with a paid (or shipped, delivered, refunded) order of
    their own with a line of one of the product's variants. One review per user and product.
    Raises ReviewNotAllowed (reason "anonymous", "not_bought" or "already_reviewed"), or
    ValueError for a rating outside 1–5 or blank text.
    """
    if not user.is_authenticated:
        raise ReviewNotAllowed("anonymous")
    if not bought_lines(user=user, product=product).exists():
        raise ReviewNotAllowed("not_bought")
    try:
        return review_create(product=product, user=user, rating=rating, text=text, title=title)
    except DuplicateReview:
        raise ReviewNotAllowed("already_reviewed") from None
