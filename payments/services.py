"""
Payment state. Every provider answer (webhook, the shopper's return page, reconciliation)
goes through payment_capture / payment_fail, which lock the payment row and then the
order row and change a status at most once, so the same answer applied twice, or two answers
racing, leave one transition. Amounts are Decimal in currency units here; minor units come in
from gateways and are converted with payments.money.

Never called inside a transaction that also talks to a provider: HTTP calls to Stripe or
Razorpay happen outside any database transaction (STYLE.md, practice 5).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inventory.exceptions import InsufficientStock, StockBusy
from orders.models import Order
from orders.services import (
    OrderStateError,
    order_cancel,
    order_expire_if_due,
    order_flag,
    order_lock,
    order_mark_paid,
    order_mark_payment_failed,
    order_record_refund,
    order_restock_lines,
)

from .gateways import GatewayError, get_gateway
from .gateways.base import InboxEvent, Outcome, ProviderPayment, ProviderRefund, ReturnUrls, StartAction
from .models import Payment, Refund, WebhookEvent
from .money import from_minor, to_minor
from .selectors import payment_refundable_amount

logger = logging.getLogger(__name__)


class PaymentError(Exception):
    """A payment request that cannot be served; `message` is for the shopper or staff."""

    code = "payment_error"

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# -- starting a payment --------------------------------------------------------------------


def payment_start(
    *, order: Order, gateway: str, urls: ReturnUrls | None = None
) -> tuple[Payment, StartAction]:
    """Starts (or resumes) paying `order` through `gateway`: returns the Payment and how the
    shopper goes on (a redirect to the provider, or a page of ours).

    A pending payment of the same order and gateway is resumed instead of opening a second
    one. Raises PaymentError for an unknown or disabled gateway or an order not awaiting
    payment (after expiring it if its reservation lapsed), GatewayError when the provider
    refuses or cannot be reached (the payment is then marked failed; the order is untouched).
    """
    try:
        gw = get_gateway(gateway)
    except GatewayError as exc:
        raise PaymentError(exc.message) from exc
    order = order_expire_if_due(order=order)
    if order.status != Order.Status.PENDING_PAYMENT:
        raise PaymentError(f"Order {order.number} is {order.get_status_display().lower()}.")
    existing = (
        Payment.objects.filter(order=order, gateway=gateway, status=Payment.Status.PENDING)
        .exclude(provider_order_id=None)
        .order_by("-created_at")
        .first()
    )
    if existing is not None:
        return existing, gw.resume(existing, urls)
    payment = Payment.objects.create(order=order, gateway=gateway, amount=order.total, currency=order.currency)
    try:
        action = gw.start(payment, urls or ReturnUrls(build=lambda name, reference: ""))  # HTTP to the provider: outside any transaction
    except GatewayError as exc:
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.FAILED, error=exc.message)
        raise
    try:
        payment.save(update_fields=["provider_order_id", "checkout_url", "updated_at"])
    except IntegrityError:
        # A concurrent start got the same provider object back (same idempotency key): use it.
        Payment.objects.filter(pk=payment.pk).delete()
        payment = Payment.objects.get(provider_order_id=payment.provider_order_id)
    return payment, action


# -- applying what the provider says ---------------------------------------------------------


def _find_payment(info: ProviderPayment, gateway: str) -> Payment | None:
    lookups = Q(pk__in=[])
    if info.reference:
        lookups |= Q(reference=info.reference)
    if info.provider_order_id:
        lookups |= Q(provider_order_id=info.provider_order_id)
    if info.provider_payment_id:
        lookups |= Q(provider_payment_id=info.provider_payment_id)
    return Payment.objects.filter(lookups, gateway=gateway).first()


def payment_apply(*, gateway: str, info: ProviderPayment) -> Payment:
    """Applies a provider's report about one payment (found by our reference, the provider's
    order id or its payment id). Raises PaymentError when no such payment exists."""
    payment = _find_payment(info, gateway)
    if payment is None:
        raise PaymentError(f"No {gateway} payment matches {info.reference or info.provider_order_id or info.provider_payment_id}.")
    if info.outcome is Outcome.SUCCEEDED:
        return payment_capture(
            payment=payment,
            provider_payment_id=info.provider_payment_id,
            amount_minor=info.amount_minor,
            currency=info.currency,
        )
    if info.outcome is Outcome.FAILED:
        return payment_fail(payment=payment, reason=info.reason or "Declined by the provider")
    return payment


def _reject(payment: Payment, *, reason: str, refund: bool) -> None:
    """Marks a payment whose money we cannot keep, flags its order for staff, and (refund=True)
    refunds it once the transaction commits."""
    payment.status = Payment.Status.REJECTED
    payment.error = reason
    payment.save(update_fields=["status", "error", "provider_payment_id", "updated_at"])
    order_flag(order=payment.order, reason=f"Payment {payment.reference}: {reason}")
    if refund:
        from .tasks import refund_rejected_payment

        transaction.on_commit(partial(refund_rejected_payment.delay, payment.pk))


def payment_capture(
    *, payment: Payment, provider_payment_id: str = "", amount_minor: int | None = None, currency: str = ""
) -> Payment:
    """The provider took the money for `payment` (amount in minor units, as it reports it).

    Idempotent and order-independent: a payment already captured or rejected is returned
    unchanged, and a success after an earlier failure still pays. The order is marked paid
    and its stock committed, or, when the reservation lapsed, re-reserved if the stock is
    still there. The payment is rejected, its order flagged for staff, and (except for an
    amount mismatch, which staff must look at) refunded automatically when:
    the amount or currency differs from the order; another payment already paid the order;
    the order was cancelled; the stock of a lapsed reservation was sold to someone else.
    Raises nothing for those cases: the answer is recorded on the payment.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status in (Payment.Status.CAPTURED, Payment.Status.REJECTED):
            return payment
        if provider_payment_id:
            payment.provider_payment_id = provider_payment_id
        # Lock the order before reading its other payments: two payments of one order
        # captured at the same moment queue here, and the second sees the first.
        order = order_lock(order=payment.order)
        amount = from_minor(amount_minor, currency or payment.currency) if amount_minor is not None else payment.amount
        if amount != payment.amount or (currency and currency.upper() != payment.currency.upper()):
            _reject(
                payment,
                reason=f"Provider reported {amount} {currency.upper() or payment.currency}, the order needs "
                f"{payment.amount} {payment.currency}: not accepted.",
                refund=False,
            )
            return payment
        if Payment.objects.filter(order=order, status=Payment.Status.CAPTURED).exclude(pk=payment.pk).exists():
            _reject(payment, reason=f"Order {order.number} was already paid by another payment.", refund=True)
            return payment
        try:
            with transaction.atomic():  # a savepoint: a refusal undoes only the order part
                order_mark_paid(
                    order=order,
                    reference=payment.provider_payment_id or payment.reference,
                    reservation_ttl=timedelta(minutes=settings.STOCK_RESERVATION_MINUTES),
                )
        except InsufficientStock as exc:
            order_expire_if_due(order=order)
            _reject(payment, reason=f"Paid after the reservation lapsed and the stock was sold: {exc.message}", refund=True)
            return payment
        except OrderStateError as exc:
            _reject(payment, reason=exc.message, refund=True)
            return payment
        payment.status = Payment.Status.CAPTURED
        payment.error = ""
        payment.save(update_fields=["status", "error", "provider_payment_id", "updated_at"])
    logger.info("payment captured", extra={"payment": payment.reference, "order": payment.order.number})
    return payment


def payment_fail(*, payment: Payment, reason: str = "") -> Payment:
    """The provider declined `payment`: it becomes failed and a pending order releases its
    reservation at once (payment_fail). A payment already captured or rejected stays as it
    is: a late "failed" never un-pays an order."""
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
            order_mark_payment_failed(order=order, note=reason or payment.reference)
    return payment


# -- refunds -------------------------------------------------------------------------------


def payment_refund(
    *,
    payment: Payment,
    amount: Decimal | None = None,
    reason: str = "",
    actor=None,
    restock: dict[int, int] | None = None,
) -> Refund:
    """Refunds `amount` (Decimal, currency units; None = all that is left) of a captured or
    rejected payment through its gateway, with an idempotency key of our own so that a
    retried request never refunds twice. `restock` maps order line ids to units to put back
    on hand through the ledger once the refund succeeded.

    The order becomes refunded or partially_refunded (captured payments only). Raises
    PaymentError for an amount that is not positive or exceeds what is left to refund, a
    payment that took no money, or a restock the order cannot take (a line of another order,
    more units than are left to restock, or a rejected payment, which sold nothing); nothing
    is written then. GatewayError when the provider refuses (the refund is then recorded as
    failed and nothing else changes).
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status not in (Payment.Status.CAPTURED, Payment.Status.REJECTED):
            raise PaymentError(f"Payment {payment.reference} took no money; nothing to refund.")
        left = payment_refundable_amount(payment)
        amount = left if amount is None else Decimal(amount)
        if amount <= 0 or amount > left:
            raise PaymentError(f"A refund must be more than 0 and at most {left} {payment.currency}.")
        # Why before the provider call: once the money has gone back, a restock that fails
        # would roll back the record of the refund itself (and leave it pending for ever).
        restock = _restock_checked(payment, restock)
        refund = Refund.objects.create(
            payment=payment, amount=amount, currency=payment.currency, reason=reason, actor=actor,
            restock={str(line_id): units for line_id, units in restock.items()},
        )
    gateway = get_gateway(payment.gateway) if payment.gateway in settings.PAYMENT_GATEWAYS else None
    if gateway is None:
        _refund_failed(refund, f"The {payment.gateway} gateway is not enabled.")
        raise GatewayError(f"The {payment.gateway} gateway is not enabled.")
    try:
        answer = gateway.refund(refund, payment.provider_payment_id or payment.provider_order_id or "", to_minor(amount, payment.currency))
    except GatewayError as exc:
        _refund_failed(refund, exc.message)
        raise
    return refund_confirm(refund=refund, answer=answer)


def _restock_checked(payment: Payment, restock: dict[int, int] | None) -> dict[int, int]:
    """The non-zero entries of `restock`, checked against the order's lines. Raises
    PaymentError for anything order_restock_lines would refuse after the money moved."""
    wanted = {int(line_id): int(units) for line_id, units in (restock or {}).items() if units}
    if not wanted:
        return {}
    if payment.status != Payment.Status.CAPTURED:
        # A rejected payment sold nothing (its order was never paid by it): restocking would
        # put units on hand that never left.
        raise PaymentError(f"Payment {payment.reference} sold nothing; there is nothing to restock.")
    lines = {line.pk: line for line in payment.order.lines.all()}
    for line_id, units in wanted.items():
        line = lines.get(line_id)
        if line is None or line.variant_id is None:
            raise PaymentError(f"Line {line_id} is not a restockable line of order {payment.order.number}.")
        left = line.quantity - line.restocked_quantity
        if units < 0 or units > left:
            raise PaymentError(f"{line.sku}: between 0 and {left} unit(s) can be restocked.")
    return wanted


def _refund_failed(refund: Refund, error: str) -> None:
    Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(status=Refund.Status.FAILED, error=error)


def refund_confirm(*, refund: Refund, answer: ProviderRefund) -> Refund:
    """Records that the provider made `refund` (API answer or webhook). Idempotent: only a
    pending refund moves to succeeded, adds to the payment's refunded amount, updates the
    order and restocks the lines stored on the refund (so a refund the provider confirms
    later, by webhook, restocks too); a second confirmation changes nothing."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Refund.Status.PENDING:
            return refund
        if answer.failed:  # gave no money back: recorded, nothing else changes
            refund.status = Refund.Status.FAILED
        elif answer.succeeded:
            refund.status = Refund.Status.SUCCEEDED
        refund.provider_refund_id = answer.provider_refund_id or refund.provider_refund_id
        refund.save(update_fields=["status", "provider_refund_id", "updated_at"])
        if refund.status != Refund.Status.SUCCEEDED:
            return refund
        _apply_refund(refund)
    return refund


def _apply_refund(refund: Refund) -> None:
    actor = refund.actor
    restock = {int(line_id): units for line_id, units in refund.restock.items()}
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    payment.refunded_amount += refund.amount
    payment.save(update_fields=["refunded_amount", "updated_at"])
    if payment.status == Payment.Status.CAPTURED:
        order_record_refund(order=payment.order, refunded_total=payment.refunded_amount, actor=actor, note=refund.reason)
    if restock:
        try:
            with transaction.atomic():  # a savepoint: a refused restock keeps the refund recorded
                order_restock_lines(order=payment.order, quantities=restock, actor=actor)
        except (ValueError, StockBusy) as exc:
            # payment_refund checked the lines, but a concurrent refund may have restocked the
            # same units since, or the stock rows may be busy; the money is back with the
            # customer either way, so record the refund and leave the stock to staff.
            order_flag(order=payment.order, reason=f"Refund {refund.pk} refunded, but not restocked: {exc}")


def refund_apply(*, gateway: str, answer: ProviderRefund) -> Refund | None:
    """Applies a refund reported by a webhook: ours (matched by provider refund id or
    idempotency key) is confirmed; one made in the provider's dashboard is recorded.
    Returns None when no payment of ours matches."""
    refund = Refund.objects.filter(
        Q(provider_refund_id=answer.provider_refund_id)
        | Q(idempotency_key=answer.idempotency_key or "-"),
        payment__gateway=gateway,
    ).first()
    if refund is None:
        payment = Payment.objects.filter(gateway=gateway, provider_payment_id=answer.provider_payment_id).first()
        if payment is None or answer.amount_minor is None:
            return None
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    payment=payment,
                    amount=from_minor(answer.amount_minor, payment.currency),
                    currency=payment.currency,
                    provider_refund_id=answer.provider_refund_id,
                    reason="Refunded at the provider",
                )
        except IntegrityError:  # the same refund reported twice at once
            refund = Refund.objects.get(provider_refund_id=answer.provider_refund_id)
    return refund_confirm(refund=refund, answer=answer)


# -- cancelling an order -------------------------------------------------------------------
# Orders cancels (it owns the status and the stock); a paid order's money comes back through
# here, because orders must not know payments. So the flow lives in the higher app.


@dataclass(frozen=True)
class Cancellation:
    """What order_cancel_and_refund did. `refunds`: the refunds it made (succeeded, or
    pending until the provider confirms them); `refund_errors`: one message per payment the
    provider would not refund (the order is flagged for staff)."""

    order: Order
    refunds: list[Refund]
    refund_errors: list[str]

    @property
    def refunded(self) -> Decimal:
        """The amount of this call's refunds (Decimal, the order currency)."""
        return sum((refund.amount for refund in self.refunds), Decimal("0"))


def order_cancel_and_refund(*, order: Order, actor=None, reason: str) -> Cancellation:
    """Cancels `order` through orders.services.order_cancel (an unpaid order's reservation is
    released; a paid, unshipped order's units go back on hand through the ledger), then
    refunds what is left of every captured payment of it through payment_refund, with no
    restock of its own (the cancellation has put the units back already).

    Cancelling twice is harmless: the order is cancelled once and a payment with nothing
    left to refund is skipped, so calling it again after a refund failed retries just that
    refund. Each refund runs after the cancellation has committed, outside any transaction
    while the provider is called (practice 5); a refund the provider refuses does not undo
    the cancellation: it is listed in refund_errors and the order is flagged for staff.

    Raises OrderStateError when the order cannot be cancelled (it has shipped, was refunded,
    expired…), StockBusy on lock timeout; nothing is cancelled or refunded then.
    """
    order = order_cancel(order=order, actor=actor, reason=reason)
    refunds: list[Refund] = []
    errors: list[str] = []
    refund_reason = f"Order cancelled: {reason}"[: Refund._meta.get_field("reason").max_length]
    for payment in Payment.objects.filter(order=order, status=Payment.Status.CAPTURED).order_by("pk"):
        if payment_refundable_amount(payment) <= 0:
            continue
        try:
            refunds.append(payment_refund(payment=payment, reason=refund_reason, actor=actor))
        except PaymentError:
            # Nothing left after all: a cancellation running at the same moment refunded it
            # (payment_refund decides under the payment's lock).
            continue
        except GatewayError as exc:
            errors.append(f"Payment {payment.reference}: {exc.message}")
            order_flag(order=order, reason=f"Cancelled, but the refund of payment {payment.reference} failed: {exc.message}")
    return Cancellation(order=order, refunds=refunds, refund_errors=errors)


# -- the webhook inbox ---------------------------------------------------------------------


def webhook_receive(*, provider: str, event: InboxEvent) -> tuple[WebhookEvent, bool]:
    """Stores a verified event once: returns (event, created). The same event delivered again
    returns the stored one with created=False and must not be processed again."""
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                provider=provider, event_id=event.event_id, event_type=event.event_type, payload=event.payload
            )
    except IntegrityError:
        logger.info(
            "webhook received again",
            extra={"event": "webhook.duplicate", "provider": provider, "event_id": event.event_id},
        )
        return WebhookEvent.objects.get(provider=provider, event_id=event.event_id), False
    logger.info(
        "webhook received",
        extra={"event": "webhook.received", "provider": provider, "event_id": event.event_id, "type": event.event_type},
    )
    return stored, True


def webhook_process(*, event: WebhookEvent) -> WebhookEvent:
    """Processes a stored event once: applies the payment or refund it reports and marks it
    processed (or ignored). Safe to call twice, concurrently too (the row is locked and a
    processed event is skipped). Errors are recorded on the event and raised for the task
    to retry."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        if event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                gateway = get_gateway(event.provider)
                info = gateway.read_event(InboxEvent(event.event_id, event.event_type, event.payload))
                if isinstance(info, ProviderPayment):
                    payment_apply(gateway=event.provider, info=info)
                elif isinstance(info, ProviderRefund):
                    # A refund of a payment that is not ours (another integration on the
                    # same account) is nothing to retry: the event is ignored.
                    info = refund_apply(gateway=event.provider, answer=info)
        except Exception as exc:  # noqa: BLE001 — recorded for staff, then retried by the task
            event.status = WebhookEvent.Status.FAILED
            event.error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
            event.save(update_fields=["status", "error", "attempts"])
            logger.warning(
                "webhook failed",
                extra={"event": "webhook.failed", "provider": event.provider, "event_id": event.event_id,
                       "attempts": event.attempts, "error": event.error},
            )
            error = exc
        else:
            event.status = WebhookEvent.Status.PROCESSED if info is not None else WebhookEvent.Status.IGNORED
            event.error = ""
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "error", "attempts", "processed_at"])
            logger.info(
                "webhook processed",
                extra={"event": "webhook.processed", "provider": event.provider, "event_id": event.event_id,
                       "status": event.status},
            )
            return event
    raise error


def webhook_replay(*, event: WebhookEvent) -> None:
    """Staff replay: a failed event is queued for processing again."""
    from .tasks import process_webhook_event

    WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.FAILED).update(status=WebhookEvent.Status.PENDING)
    transaction.on_commit(partial(process_webhook_event.delay, event.pk))


# -- reconciliation ------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    checked: int = 0
    captured: int = 0
    failed: int = 0
    still_pending: int = 0
    errors: int = 0


def payments_reconcile(*, older_than: timedelta) -> ReconcileResult:
    """Asks each provider about payments still pending after `older_than` and applies its
    answer (webhooks get lost). Provider errors are counted and logged, never raised."""
    result = ReconcileResult()
    cutoff = timezone.now() - older_than
    pending = Payment.objects.filter(status=Payment.Status.PENDING, created_at__lte=cutoff).exclude(provider_order_id=None)
    for payment in pending.iterator():
        result.checked += 1
        try:
            info = get_gateway(payment.gateway).fetch(payment)
            payment = payment_apply(gateway=payment.gateway, info=info)
        except (GatewayError, PaymentError, StockBusy) as exc:
            # One payment that cannot be settled now (provider down, stock rows busy) must
            # not stop the others; it is still pending and is asked about again next run.
            result.errors += 1
            logger.warning("reconcile failed for %s: %s", payment.reference, exc)
            continue
        if payment.status == Payment.Status.CAPTURED:
            result.captured += 1
        elif payment.status in (Payment.Status.FAILED, Payment.Status.REJECTED):
            result.failed += 1
        else:
            result.still_pending += 1
    return result
