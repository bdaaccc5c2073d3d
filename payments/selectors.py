"""Reads of payments."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Sum

from .gateways import GATEWAYS
from .models import Payment, Refund

# The last run of payments.tasks.reconcile_payments: {"at": ISO time, "checked", "captured",
# "failed", "still_pending", "errors", "refunds_checked", "refunds_succeeded", "refunds_failed",
# "refunds_still_pending", "refund_errors"} (payments.services.ReconcileResult). A cache key,
# not a table: it is only for /health/detailed/ and an operator's eye, and losing it (a wiped
# cache) loses nothing that matters.
RECONCILE_LAST_KEY = "payments:reconcile:last"


def payment_refundable_amount(payment: Payment) -> Decimal:
    """What is left to refund of `payment` (Decimal, its currency): the amount taken, less
    refunds made and refunds still waiting for the provider. Zero for a payment that took no
    money. payments.services.payment_refund checks it again under the payment's row lock."""
    if payment.status not in (Payment.Status.CAPTURED, Payment.Status.REJECTED):
        return Decimal("0")
    pending = payment.refunds.filter(status=Refund.Status.PENDING).aggregate(total=Sum("amount"))["total"]
    return payment.amount - payment.refunded_amount - (pending or Decimal("0"))


def refund_for_key(*, payment: Payment, key: str) -> Refund | None:
    """The refund of `payment` made with idempotency key `key` (an admin refund form's
    token), or None."""
    if not key:
        return None
    return Refund.objects.filter(payment=payment, idempotency_key=key).first()


def order_refundable_payments(order) -> list[tuple[Payment, Decimal]]:
    """The captured payments of `order` with money left to refund, each with that amount
    (Decimal, its currency), oldest first: what cancelling the order would refund."""
    payments = Payment.objects.filter(order=order, status=Payment.Status.CAPTURED).order_by("pk")
    return [(payment, left) for payment in payments if (left := payment_refundable_amount(payment)) > 0]


def payment_for_provider_order(*, gateway: str, provider_order_id: str) -> Payment | None:
    """The `gateway` payment whose provider-side order is `provider_order_id`, or None."""
    if not provider_order_id:
        return None
    return Payment.objects.select_related("order").filter(gateway=gateway, provider_order_id=provider_order_id).first()


def reconcile_last() -> dict | None:
    """What the last scheduled reconciliation did and when (see RECONCILE_LAST_KEY), or None
    when it has not run since the cache was last emptied, or the cache cannot be read."""
    try:
        return cache.get(RECONCILE_LAST_KEY)
    except Exception:  # noqa: BLE001 — a cache outage must not break the reader
        return None


@dataclass(frozen=True)
class PaymentAttempt:
    """One payment of an order as its shopper sees it: how (the gateway's name for shoppers,
    never a provider's id), its status, amount and when."""

    method: str
    status: str  # Payment.Status
    status_label: str
    amount: Decimal
    currency: str
    at: datetime
    error: str


def order_payment_attempts(order) -> list[PaymentAttempt]:
    """The payments of `order`, oldest first, as PaymentAttempt: one query."""
    return [
        PaymentAttempt(
            method=getattr(GATEWAYS.get(payment.gateway), "label", "") or payment.gateway,
            status=payment.status,
            status_label=payment.get_status_display(),
            amount=payment.amount,
            currency=payment.currency,
            at=payment.created_at,
            error=payment.error,
        )
        for payment in Payment.objects.filter(order=order).order_by("created_at", "pk")
    ]


def order_last_failed_payment(order) -> Payment | None:
    """The latest payment of `order` that failed, or None."""
    return Payment.objects.filter(order=order, status=Payment.Status.FAILED).order_by("-created_at", "-pk").first()
