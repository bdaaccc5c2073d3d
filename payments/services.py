"""
Payment state. A Payment is created pending when the shopper picks a gateway, and becomes
captured or failed exactly once (compare-and-swap on its status), however many times the
provider's answer arrives. Amounts are Decimal in currency units here.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from inventory.exceptions import InsufficientStock
from orders.models import Order
from orders.services import order_expire_if_due, order_lock, order_mark_paid, order_mark_payment_failed

from .models import Payment

GATEWAYS = ("dummy",)


class PaymentError(Exception):
    code = "payment_error"

    @property
    def message(self) -> str:
        return str(self)


def payment_start(*, order: Order, gateway: str) -> Payment:
    """Creates a pending Payment for the order's total with `gateway`.

    Raises PaymentError for an unknown gateway or an order that is not awaiting payment
    (after expiring it, if its reservation lapsed).
    """
    if gateway not in GATEWAYS:
        raise PaymentError(f"Unknown payment method {gateway!r}.")
    order = order_expire_if_due(order=order)
    if order.status != Order.Status.PENDING_PAYMENT:
        raise PaymentError(f"Order {order.number} is {order.get_status_display().lower()}.")
    return Payment.objects.create(
        order=order,
        gateway=gateway,
        provider_payment_id=Payment.new_dummy_id(),
        amount=order.total,
        currency=order.currency,
    )


def _retry_ttl() -> timedelta:
    return timedelta(minutes=settings.STOCK_RESERVATION_MINUTES)


def payment_capture(*, payment: Payment) -> Payment:
    """Records that the provider captured `payment` and marks its order paid (stock committed).

    Idempotent: a payment already captured is returned unchanged, so the order is paid once
    whichever path (return page, webhook) arrives first. If the reservation lapsed and the
    stock is gone, the payment becomes rejected and the order expired; InsufficientStock is
    raised so the caller can tell the shopper (a real gateway refunds then). A second payment
    for an order that another payment already paid is rejected too (PaymentError): the order
    is never paid twice, and the rejected payment is what staff refund.
    Raises OrderStateError if the order was cancelled or failed.
    """
    rejected: Exception | None = None
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status == Payment.Status.CAPTURED:
            return payment
        if payment.status != Payment.Status.PENDING:
            raise PaymentError(f"Payment {payment.provider_payment_id} is {payment.status}.")
        # Lock the order before looking at its other payments: two payments of one order
        # captured at the same moment queue here, and the second sees the first.
        order = order_lock(order=payment.order)
        paid_by_other = (
            Payment.objects.filter(order=order, status=Payment.Status.CAPTURED).exclude(pk=payment.pk).exists()
        )
        if paid_by_other:
            payment.status = Payment.Status.REJECTED
            payment.error = f"Order {order.number} was already paid by another payment; refund this one."
            payment.save(update_fields=["status", "error", "updated_at"])
            rejected = PaymentError(payment.error)
        else:
            rejected = _capture_locked(payment, order)
    if rejected:
        raise rejected
    return payment


def _capture_locked(payment: Payment, order: Order) -> InsufficientStock | None:
    """Marks the (locked) order paid and the payment captured, or rejected when the stock of a
    lapsed reservation is gone; returns that InsufficientStock for the caller to raise."""
    rejected = None
    try:
        with transaction.atomic():  # a savepoint: a refusal undoes only the order part
            order_mark_paid(order=order, reference=payment.provider_payment_id, reservation_ttl=_retry_ttl())
    except InsufficientStock as exc:
        rejected = exc
        payment.status = Payment.Status.REJECTED
        payment.error = exc.message
        order_expire_if_due(order=order)
    else:
        payment.status = Payment.Status.CAPTURED
    payment.save(update_fields=["status", "error", "updated_at"])
    return rejected


def payment_fail(*, payment: Payment, reason: str = "") -> Payment:
    """Records a failed payment and releases the order's reservation at once.

    A payment already captured stays captured (a late "failed" never un-pays an order).
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.PENDING:
            return payment
        payment.status = Payment.Status.FAILED
        payment.error = reason
        payment.save(update_fields=["status", "error", "updated_at"])
        order = order_lock(order=payment.order)
        # Only a pending order fails with its payment; one another payment already paid (or
        # that expired meanwhile) keeps its status.
        if order.status == Order.Status.PENDING_PAYMENT:
            order_mark_payment_failed(order=order, note=reason or payment.provider_payment_id)
    return payment
