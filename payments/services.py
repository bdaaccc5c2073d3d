"""
Payment state. Every provider answer (webhook, the shopper's return page, reconciliation)
goes through payment_capture / payment_fail, which lock the payment row and then the
order row and change a status at most once, so the same answer applied twice, or two answers
racing, leave one transition. Amounts are Decimal in currency units here; minor units come in
from gateways and are converted with kernel.money.

Never called inside a transaction that also talks to a provider: HTTP calls to Stripe or
Razorpay happen outside any database transaction (STYLE.md, practice 5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from inventory.exceptions import InsufficientStock, StockBusy
from kernel.errors import DomainError
from kernel.money import from_minor, to_minor
from kernel.tasks import enqueue_on_commit
from kernel.transactions import after_commit
from orders.credit_notes import credit_note_for_refund
from orders.models import CreditNote, Order, event_note
from orders.services import (
    OrderStateError,
    order_cancel,
    order_expire_if_due,
    order_flag,
    order_lock,
    order_mark_paid,
    order_payment_attempt_failed,
    order_record_refund,
    order_restock_lines,
)

from .gateways import GatewayError, get_gateway
from .gateways.base import (
    InboxEvent,
    Outcome,
    ProviderPayment,
    ProviderRefund,
    RefundStatus,
    ReturnUrls,
    StartAction,
)
from .models import Payment, Refund, WebhookEvent
from .selectors import payment_refundable_amount

logger = logging.getLogger(__name__)


class PaymentError(DomainError):
    """A payment request that cannot be served; `message` is for the shopper or staff."""

    code = "payment_error"
    http_status = HTTPStatus.BAD_REQUEST
    message: str

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# -- starting a payment --------------------------------------------------------------------


def payment_start(*, order: Order, gateway: str, urls: ReturnUrls | None = None) -> tuple[Payment, StartAction]:
    """Starts (or resumes) paying `order` through `gateway`: returns the Payment and how the
    shopper goes on (a redirect to the provider, or a page of ours).

    A pending payment of the same order and gateway is resumed instead of opening a second
    one. Raises PaymentError for an unknown or disabled gateway or an order not awaiting
    payment (after expiring it if its reservation lapsed), GatewayError when the provider
    refuses or cannot be reached (the payment is then marked failed; the order is untouched).
    An imported order (history from the previous shop) is refused with PaymentError.
    """
    if order.imported_at is not None:
        raise PaymentError(
            _("Order %(number)s was imported from the previous shop and is history only; cannot pay it.")
            % {"number": order.number}
        )
    try:
        gw = get_gateway(gateway)
    except GatewayError as exc:
        raise PaymentError(exc.message) from exc
    order = order_expire_if_due(order=order)
    if order.status != Order.Status.PENDING_PAYMENT:
        raise PaymentError(
            _("Order %(number)s is %(status)s.")
            % {"number": order.number, "status": order.get_status_display().lower()}
        )
    existing = (
        Payment.objects.filter(order=order, gateway=gateway, status=Payment.Status.PENDING)
        .exclude(provider_order_id=None)
        .order_by("-created_at")
        .first()
    )
    # No URLs (a caller with no pages to return to): every return URL is empty.
    urls = urls or ReturnUrls(build=lambda name, reference: "")
    if existing is not None:
        return existing, gw.resume(existing, urls)
    payment = Payment.objects.create(order=order, gateway=gateway, amount=order.total, currency=order.currency)
    try:
        action = gw.start(payment, urls)  # HTTP to the provider: outside any transaction
    except GatewayError as exc:
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.FAILED, error=exc.english)
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
        raise PaymentError(
            f"No {gateway} payment matches {info.reference or info.provider_order_id or info.provider_payment_id}."
        )
    if info.outcome is Outcome.SUCCEEDED:
        return payment_capture(
            payment=payment,
            provider_payment_id=info.provider_payment_id,
            amount_minor=info.amount_minor,
            currency=info.currency,
        )
    if info.outcome is Outcome.FAILED:
        return payment_fail(payment=payment, reason=info.reason or "Declined by the provider")
    if info.reason:
        # An attempt failed but the shopper may try again on the same provider checkout (a
        # declined card on Stripe's page, a failed attempt in Razorpay Checkout.js): the
        # payment stays pending and the order keeps its reservation; the reason is kept.
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
            error=info.reason, updated_at=timezone.now()
        )
    return payment


def _reject(payment: Payment, *, reason: str, refund: bool) -> None:
    """Marks a payment (locked by the caller) whose money we cannot keep and flags its order
    for staff. refund=True: the automatic refund's intent is written in this same transaction
    (one row, one key, whatever happens next) and submitted by the submit_refund task once it
    commits."""
    payment.status = Payment.Status.REJECTED
    payment.error = reason
    payment.save(update_fields=["status", "error", "provider_payment_id", "updated_at"])
    order_flag(order=payment.order, reason=f"Payment {payment.reference}: {reason}")
    _queue_waiting_refund_events(payment)
    if refund:
        intent = _refund_intend(
            payment, amount=None, reason=_automatic_refund_reason(payment), key=_automatic_refund_key(payment)
        )
        # robust: should the broker be down, the rejection stands and the refund row waits,
        # pending, for the beat's refunds_resubmit.
        enqueue_on_commit("payments.tasks.submit_refund", intent.pk)


def _queue_waiting_refund_events(payment: Payment) -> None:
    """Once the caller's transaction commits, queues the refund events that name this
    payment's provider payment id and are not done (waiting, pending, failed): a refund that
    overtook the capture is applied now that the capture is in."""
    if payment.provider_payment_id:
        # After the commit, not before: an event whose processing found the payment not
        # captured is then either already marked waiting (and found here), or still being
        # processed (found here too, as pending: its task queues behind that run's row lock
        # and sees the capture).
        after_commit(_queue_refund_events_of, payment.gateway, payment.provider_payment_id)


def _queue_refund_events_of(gateway: str, provider_payment_id: str) -> None:
    events = (
        WebhookEvent.objects.filter(provider=gateway, provider_payment_id=provider_payment_id)
        .exclude(status__in=(WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(events):
        enqueue_on_commit("payments.tasks.process_webhook_event", pk)


def _payment_lock(payment: Payment) -> Payment:
    """`payment` re-read with its row locked until the caller's transaction ends, and its
    order read (not locked: FOR UPDATE OF the payment only) in the same query, for the
    caller to lock next with order_lock: the order is not read a second time before that."""
    return Payment.objects.select_for_update(of=("self",)).select_related("order").get(pk=payment.pk)


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

    Refund events that arrived before this capture and wait for it are queued once it
    commits (see webhook_process).
    """
    with transaction.atomic():
        payment = _payment_lock(payment)
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
                    locked=True,  # just above, in this transaction: not read a second time
                )
        except InsufficientStock as exc:
            order_expire_if_due(order=order)
            _reject(
                payment, reason=f"Paid after the reservation lapsed and the stock was sold: {exc.message}", refund=True
            )
            return payment
        except OrderStateError as exc:
            _reject(payment, reason=exc.message, refund=True)
            return payment
        payment.status = Payment.Status.CAPTURED
        payment.error = ""
        payment.save(update_fields=["status", "error", "provider_payment_id", "updated_at"])
        _queue_waiting_refund_events(payment)
    logger.info("payment captured", extra={"payment": payment.reference, "order": payment.order.number})
    return payment


def payment_fail(*, payment: Payment, reason: str = "") -> Payment:
    """The provider declined `payment` (or its checkout expired, or the shopper closed it): it
    becomes failed, once. Its order, if still pending, stays pending with its reservation
    (order_payment_attempt_failed): the shopper may try again with a new payment of the same
    order (payment_start) while the reservation lasts, and the order expires with it
    otherwise. A payment already captured or rejected stays as it is: a late "failed" never
    un-pays an order. A failed payment captured after all is still honoured by
    payment_capture (and refunded if another payment paid the order meanwhile)."""
    with transaction.atomic():
        payment = _payment_lock(payment)
        if payment.status != Payment.Status.PENDING:
            return payment
        payment.status = Payment.Status.FAILED
        payment.error = reason
        payment.save(update_fields=["status", "error", "updated_at"])
        order = order_lock(order=payment.order)
        # Only a pending order hears of it; one another payment already paid (or that
        # expired meanwhile) keeps its status.
        if order.status == Order.Status.PENDING_PAYMENT:
            order_payment_attempt_failed(order=order, note=reason or "The payment did not go through")
    return payment


# -- refunds -------------------------------------------------------------------------------
# A refund we start is an intent first: one Refund row with its idempotency key, written
# under the payment's lock (refund_create), then submitted to the provider by that row,
# outside any transaction (refund_submit). Every retry submits the same row with the same
# key, so a request that reached the provider but whose answer was lost refunds once.

# How long one process may spend sending a refund before another may send it again: well
# over the providers' HTTP timeouts with the SDK's own retries, so two processes never send
# the same refund at once (Razorpay does not honour the idempotency header on every account).
REFUND_SUBMIT_LEASE = timedelta(minutes=5)
_FINAL = (Refund.Status.FAILED, Refund.Status.CANCELED)


def refund_create(
    *,
    payment: Payment,
    amount: Decimal | None = None,
    reason: str = "",
    actor=None,
    restock: dict[int, int] | None = None,
    key: str = "",
) -> Refund:
    """The intent to refund `amount` (Decimal, currency units; None = all that is left) of a
    captured or rejected payment: a pending Refund row with its idempotency key, written
    under the payment's row lock before any provider call. The amount is held from then on
    (payment_refundable_amount counts pending refunds); refund_submit sends it.

    `key` is the caller's idempotency key for this intent (the admin refund form's token): the
    same key again returns the same refund and holds nothing more, so a double click or a
    form posted twice makes one refund. Without it a fresh key is made. `restock` maps order
    line ids to units to put back on hand through the ledger once the refund succeeded.

    Raises PaymentError for an amount that is not positive or exceeds what is left to refund,
    a payment that took no money, a restock the order cannot take (a line of another order,
    more units than are left to restock, or a rejected payment, which sold nothing), or a key
    already used for another payment's refund; nothing is written then.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if key:
            # Under the payment's lock: of two requests with the same key, the second waits
            # here until the first has committed its row, and then finds it.
            existing = Refund.objects.filter(idempotency_key=key).first()
            if existing is not None:
                if existing.payment_id != payment.pk:
                    raise PaymentError("This refund request was already made for another payment.")
                return existing
        if payment.status not in (Payment.Status.CAPTURED, Payment.Status.REJECTED):
            raise PaymentError(f"Payment {payment.reference} took no money; nothing to refund.")
        return _refund_intend(payment, amount=amount, reason=reason, actor=actor, restock=restock, key=key)


def _refund_intend(
    payment: Payment,
    *,
    amount: Decimal | None,
    reason: str,
    actor=None,
    restock: dict[int, int] | None = None,
    key: str = "",
) -> Refund:
    """refund_create's row, for a payment the caller has locked."""
    left = payment_refundable_amount(payment)
    amount = left if amount is None else Decimal(amount)
    if amount <= 0 or amount > left:
        raise PaymentError(f"A refund must be more than 0 and at most {left} {payment.currency}.")
    # Why before the provider call: once the money has gone back, a restock that fails
    # would roll back the record of the refund itself (and leave it pending for ever).
    restock = _restock_checked(payment, restock)
    return Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        actor=actor,
        restock={str(line_id): units for line_id, units in restock.items()},
        **({"idempotency_key": key} if key else {}),
    )


def refund_submit(*, refund: Refund) -> Refund:
    """Sends the refund intent `refund` to its provider with its idempotency key, outside any
    transaction, and records the answer (refund_confirm). Returns the refund as it stands
    then: succeeded, or pending (the provider is still processing it; or it gave no answer,
    noted in refund.error: submit it again later, the same row with the same key, as the
    submit_refund task and the beat's refunds_resubmit do).

    A refund the provider has answered, or one another process is sending right now (it
    holds REFUND_SUBMIT_LEASE), is returned as it is without a call. Raises GatewayError
    when the provider refuses it for good or reports it failed: the refund is then failed
    with the reason and the order flagged for staff.
    """
    now = timezone.now()
    # Compare-and-swap on the lease: of two processes submitting the same refund (the task's
    # retry and the beat, a double click), exactly one gets the row count 1 and calls.
    claimed = (
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING, provider_refund_id__isnull=True)
        .filter(Q(submitting_until__isnull=True) | Q(submitting_until__lt=now))
        .update(submitting_until=now + REFUND_SUBMIT_LEASE, attempts=F("attempts") + 1, updated_at=now)
    )
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    if not claimed:
        return refund
    payment = refund.payment
    try:
        if payment.gateway not in settings.PAYMENT_GATEWAYS:
            # Nothing is sent. A refund sent before may have been made, though: it waits,
            # pending, for the gateway to come back rather than free its amount.
            raise GatewayError(f"The {payment.gateway} gateway is not enabled.", retryable=refund.attempts > 1)
        answer = get_gateway(payment.gateway).refund(
            refund,
            payment.provider_payment_id or payment.provider_order_id or "",
            to_minor(refund.amount, refund.currency),
        )
    except GatewayError as exc:
        if exc.retryable:
            # No answer: the refund may or may not have been made. It stays pending and
            # holds its amount; the next submission sends the same key.
            Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                error=exc.english, submitting_until=None, updated_at=timezone.now()
            )
            logger.warning(
                "refund not confirmed",
                extra={
                    "event": "refund.unanswered",
                    "refund": refund.pk,
                    "attempts": refund.attempts,
                    "error": exc.english,
                },
            )
            refund.refresh_from_db()
            return refund
        refund_confirm(
            refund=refund, answer=ProviderRefund(provider_refund_id="", status=RefundStatus.FAILED, reason=exc.english)
        )
        raise
    refund = refund_confirm(refund=refund, answer=answer)
    if refund.status in _FINAL:
        text = (
            gettext_noop("The refund canceled at %(gateway)s: %(error)s")
            if refund.status == Refund.Status.CANCELED
            else gettext_noop("The refund failed at %(gateway)s: %(error)s")
        )
        raise GatewayError(text, params={"gateway": payment.gateway, "error": refund.error})
    return refund


def payment_refund(
    *,
    payment: Payment,
    amount: Decimal | None = None,
    reason: str = "",
    actor=None,
    restock: dict[int, int] | None = None,
    key: str = "",
) -> Refund:
    """Refunds `amount` (Decimal, currency units; None = all that is left) of a captured or
    rejected payment through its gateway: refund_create, then refund_submit (see both for
    `key`, `restock` and what they raise). The order becomes refunded or partially_refunded
    (captured payments only) once the provider says the refund succeeded.

    Returns the refund: succeeded; or pending, when the provider is still processing it or
    could not be reached (refund.error says so; it is submitted again, same row, same key).
    Raises PaymentError (nothing written) or GatewayError (the provider refused: the refund
    is recorded failed, the order flagged, nothing else changes).
    """
    refund = refund_create(payment=payment, amount=amount, reason=reason, actor=actor, restock=restock, key=key)
    return refund_submit(refund=refund)


def _automatic_refund_key(payment: Payment) -> str:
    # One automatic refund per rejected payment, whoever asks for it: at most 40 characters,
    # as Razorpay's receipt field allows.
    return f"auto-{payment.reference}"


def payment_refund_rejected(*, payment: Payment) -> Refund | None:
    """The automatic refund of a rejected payment (money we could not keep), submitted:
    payment_capture made its intent when it rejected the payment; a payment rejected before
    intents were made there gets it now, once (a fixed key). Returns None when there is
    nothing to refund (not rejected, or already refunded by other means). Raises GatewayError
    as refund_submit does."""
    key = _automatic_refund_key(payment)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        refund = Refund.objects.filter(idempotency_key=key).first()
        if refund is None:
            if payment.status != Payment.Status.REJECTED or payment_refundable_amount(payment) <= 0:
                return None
            refund = _refund_intend(payment, amount=None, reason=_automatic_refund_reason(payment), key=key)
    return refund_submit(refund=refund)


def _automatic_refund_reason(payment: Payment) -> str:
    return ("Automatic refund: " + payment.error)[: Refund._meta.get_field("reason").max_length]


def refunds_resubmit(*, older_than: timedelta) -> dict[str, int]:
    """Beat: submits again every refund still waiting for the provider's first answer whose
    last attempt is older than `older_than` (a timeout, a worker that died, an enqueue lost
    while the broker was down), each with its own key. Returns how many ended succeeded,
    pending and failed. Provider errors are counted, never raised."""
    counts = {"succeeded": 0, "pending": 0, "failed": 0}
    stale = Refund.objects.filter(
        status=Refund.Status.PENDING, provider_refund_id__isnull=True, updated_at__lte=timezone.now() - older_than
    ).order_by("pk")
    for refund in stale.iterator():
        try:
            refund = refund_submit(refund=refund)
        except GatewayError:
            counts["failed"] += 1
            continue
        counts["succeeded" if refund.status == Refund.Status.SUCCEEDED else "pending"] += 1
    return counts


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


def refund_confirm(*, refund: Refund, answer: ProviderRefund) -> Refund:
    """Applies what the provider says about `refund` (its API answer or a webhook), in any
    order and any number of times; every move happens once, under the refund's row lock:

    - pending → succeeded: counted (_refund_succeeded: the payment's refunded amount, the
      order's refunded total and status, the restock stored on the refund);
    - pending → failed | canceled: recorded with the provider's reason; nothing is counted,
      the amount can be refunded again, and the order is flagged for staff (who are emailed);
    - succeeded → failed | canceled: Stripe can fail a refund after it succeeded
      (https://docs.stripe.com/refunds#failed-refunds): what it counted is taken back
      (_refund_reversed) and the order flagged;
    - failed and canceled are final, and a late "pending" never undoes "succeeded".
    """
    new = Refund.Status(answer.status.value)
    with transaction.atomic():
        # The refund row only (of=self): its payment is read here and locked, when money is
        # counted, by _refund_succeeded / _refund_reversed, after the refund as everywhere.
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund.pk)
        old = refund.status
        changed = {"submitting_until", "updated_at"}
        refund.submitting_until = None  # the provider answered: no submission is in flight
        if answer.provider_refund_id and not refund.provider_refund_id:
            refund.provider_refund_id = answer.provider_refund_id
            changed.add("provider_refund_id")
        moves = (
            old != new and old not in _FINAL and not (old == Refund.Status.SUCCEEDED and new == Refund.Status.PENDING)
        )
        if moves:
            refund.status = new
            refund.error = (answer.reason or f"{new.label} at the provider") if new in _FINAL else ""
            changed |= {"status", "error"}
        elif old == Refund.Status.PENDING and answer.provider_refund_id:
            refund.error = ""  # an earlier "no answer" is over: the provider has the refund
            changed.add("error")
        refund.save(update_fields=sorted(changed))
        if not moves:
            return refund
        logger.info("refund %s", new, extra={"event": f"refund.{new}", "refund": refund.pk, "was": old})
        if new == Refund.Status.SUCCEEDED:
            _refund_succeeded(refund)
        elif old == Refund.Status.SUCCEEDED:
            _refund_reversed(refund)
        else:
            order_flag(
                order=refund.payment.order,
                reason=f"{_refund_named(refund)} {_failed_word(refund)}: {refund.error}. Nothing was refunded; "
                "the amount can be refunded again.",
            )
    return refund


def _refund_named(refund: Refund) -> str:
    payment = refund.payment
    return f"Refund {refund.pk} of {refund.amount} {refund.currency} (payment {payment.reference}, {payment.gateway})"


def _failed_word(refund: Refund) -> str:
    return "was canceled" if refund.status == Refund.Status.CANCELED else "failed"


def _refund_succeeded(refund: Refund) -> None:
    """The one place where a refund becomes money given back: the payment's refunded amount,
    the order's refunded total and status, and the restock stored on the refund. Called once
    per refund, under its row lock (refund_confirm)."""
    actor = refund.actor
    restock = {int(line_id): units for line_id, units in refund.restock.items()}
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    payment.refunded_amount += refund.amount
    payment.save(update_fields=["refunded_amount", "updated_at"])
    if payment.status == Payment.Status.CAPTURED:
        order_record_refund(
            order=payment.order, refunded_total=payment.refunded_amount, actor=actor, note=refund.reason
        )
        # Money going back on an invoiced sale is a credit note, issued with the refund in this
        # transaction and emailed to the customer after the commit. Not for a rejected payment:
        # it was never the order's invoiced payment. A cancelled order's refund is covered by
        # the cancellation's credit note (credit_note_for_refund returns None then).
        credit_note_for_refund(
            order=payment.order,
            amount=refund.amount,
            reason=refund.reason,
            key=_credit_note_key(refund),
            restocked_lines=restock,
            actor=actor,
        )
    if restock:
        try:
            with transaction.atomic():  # a savepoint: a refused restock keeps the refund recorded
                order_restock_lines(order=payment.order, quantities=restock, actor=actor)
        except (ValueError, StockBusy) as exc:
            # refund_create checked the lines, but a concurrent refund may have restocked the
            # same units since, or the stock rows may be busy; the money is back with the
            # customer either way, so record the refund and leave the stock to staff.
            order_flag(order=payment.order, reason=f"Refund {refund.pk} refunded, but not restocked: {exc}")


def _refund_reversed(refund: Refund) -> None:
    """Takes back what _refund_succeeded counted for a refund the provider failed afterwards:
    the money is with us again, so the payment's refunded amount, the order's refunded total
    and its status go back (ORDER_TRANSITIONS lists those moves), and staff are told. Units
    restocked with the refund stay on hand: they came back whatever became of the money."""
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    payment.refunded_amount -= refund.amount
    payment.save(update_fields=["refunded_amount", "updated_at"])
    if payment.status == Payment.Status.CAPTURED:
        order_record_refund(
            order=payment.order,
            refunded_total=payment.refunded_amount,
            note=f"refund {refund.pk} {_failed_word(refund)} after it had succeeded",
        )
    restocked = "; the units restocked with it stay on hand" if refund.restock else ""
    # A credit note once issued is a document and stands: staff decide whether the law wants
    # a new invoice for the amount, or the customer is refunded again (which needs none).
    credit_note = CreditNote.objects.filter(key=_credit_note_key(refund)).first()
    documented = f" Its credit note {credit_note.number} stands as issued." if credit_note else ""
    order_flag(
        order=payment.order,
        reason=f"{_refund_named(refund)} {_failed_word(refund)} after it had succeeded: {refund.error}. "
        f"It no longer counts as refunded{restocked}; refund the customer again or contact them.{documented}",
    )


def _credit_note_key(refund: Refund) -> str:
    """The key under which orders.credit_notes documents `refund`: one credit note per refund."""
    return f"refund:{refund.pk}"


class RefundWaits(PaymentError):
    """A refund report about a payment we cannot match, or have not seen captured, yet: the
    webhook event waits for it (WebhookEvent.Status.WAITING)."""

    code = "refund_waits"


def refund_apply(*, gateway: str, answer: ProviderRefund) -> Refund | None:
    """Applies a refund reported by a webhook (refund_confirm): ours is found by provider
    refund id or idempotency key; one made in the provider's dashboard is recorded once (the
    provider refund id is unique, so refund.created, refund.updated and charge.refunded of one
    refund, in any order and at once, land on one row).

    Returns None for a report that can never be matched (it names no payment or no amount).
    Raises RefundWaits when the payment it names is not one we know, or not captured, yet:
    providers guarantee no order, so the refund may have overtaken the capture it refunds."""
    refund = Refund.objects.filter(
        Q(provider_refund_id=answer.provider_refund_id) | Q(idempotency_key=answer.idempotency_key or "-"),
        payment__gateway=gateway,
    ).first()
    if refund is None:
        if not answer.provider_payment_id or answer.amount_minor is None:
            return None
        payment = Payment.objects.filter(gateway=gateway, provider_payment_id=answer.provider_payment_id).first()
        if payment is None or payment.status not in (Payment.Status.CAPTURED, Payment.Status.REJECTED):
            state = "no payment of ours yet" if payment is None else f"payment {payment.reference}, {payment.status}"
            raise RefundWaits(
                f"Refund {answer.provider_refund_id} is of {gateway} payment {answer.provider_payment_id} "
                f"({state}): waiting for its capture."
            )
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    payment=payment,
                    amount=from_minor(answer.amount_minor, payment.currency),
                    currency=payment.currency,
                    provider_refund_id=answer.provider_refund_id,
                    # Marked: the credit note states it in the order's language.
                    reason=gettext_noop("Refunded at the provider"),
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
    pending until the provider confirms them or, if it could not be reached, until a retry
    gets its answer); `refund_errors`: one message per payment the provider would not refund
    (the order is flagged for staff)."""

    order: Order
    refunds: list[Refund]
    refund_errors: list[str]

    @property
    def refunded(self) -> Decimal:
        """The amount of this call's refunds (Decimal, the order currency)."""
        return sum((refund.amount for refund in self.refunds), Decimal("0"))


def order_cancel_and_refund(*, order: Order, actor=None, reason: str, reason_code: str = "") -> Cancellation:
    """Cancels `order` through orders.services.order_cancel (an unpaid order's reservation is
    released; a paid, unshipped order's units go back on hand through the ledger), then
    refunds what is left of every captured payment of it through payment_refund, with no
    restock of its own (the cancellation has put the units back already).

    Cancelling twice is harmless: the order is cancelled once and a payment with nothing
    left to refund is skipped, so calling it again after a refund failed retries just that
    refund. Each refund is an intent written after the cancellation has committed and sent
    outside any transaction (payment_refund; practice 5); a provider that cannot be reached
    leaves it pending, resubmitted later with the same key (refunds_resubmit); a refund the
    provider refuses does not undo the cancellation: it is listed in refund_errors and the
    order is flagged for staff.

    `reason` and `reason_code`: as order_cancel takes them (the customer's words with
    NOTE_CANCELLED_BY_CUSTOMER; staff's words alone).

    Raises OrderStateError when the order cannot be cancelled (it has shipped, was refunded,
    expired…), StockBusy on lock timeout; nothing is cancelled or refunded then.
    """
    order = order_cancel(order=order, actor=actor, reason=reason, reason_code=reason_code)
    refunds: list[Refund] = []
    errors: list[str] = []
    note = event_note(reason_code, reason=reason) if reason_code else reason
    refund_reason = f"Order cancelled: {note}"[: Refund._meta.get_field("reason").max_length]
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
            # The failed refund has flagged the order for staff (refund_confirm).
            errors.append(f"Payment {payment.reference}: {exc.message}")
    return Cancellation(order=order, refunds=refunds, refund_errors=errors)


# -- the webhook inbox ---------------------------------------------------------------------

# How long a refund event may wait for the payment it names before it is given up (marked
# ignored, with the reason: staff can still replay it). Stripe redelivers an event for up to
# three days (https://docs.stripe.com/webhooks#retries) and reconciliation captures a payment
# whose webhooks were lost within RECONCILE_AFTER_MINUTES, so a payment still unknown after
# this is not ours: a refund of another integration on the same provider account.
WEBHOOK_WAIT_LIMIT = timedelta(days=3)


def webhook_receive(*, provider: str, event: InboxEvent) -> tuple[WebhookEvent, bool]:
    """Stores a verified event once: returns (event, created). The same event delivered again
    returns the stored one with created=False and must not be processed again. A refund
    event is stored with the provider payment id it names (see WebhookEvent)."""
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                provider=provider,
                event_id=event.event_id,
                event_type=event.event_type,
                payload=event.payload,
                provider_payment_id=_refunded_payment_id(provider, event),
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


def _refunded_payment_id(provider: str, event: InboxEvent) -> str:
    """The provider payment id a refund event names, "" for any other event."""
    try:
        info = get_gateway(provider).read_event(event)
    except Exception:  # noqa: BLE001 — an unreadable event fails later, in webhook_process, with its error
        return ""
    return info.provider_payment_id[:255] if isinstance(info, ProviderRefund) else ""


def webhook_process(*, event: WebhookEvent) -> WebhookEvent:
    """Processes a stored event once: applies the payment or refund it reports and marks it
    processed, or ignored (nothing we act on). Safe to call twice, concurrently too (the row
    is locked and a processed or ignored event is skipped).

    A refund of a payment we have not matched or seen captured yet leaves the event waiting,
    with the reason in `error`: the task retries it with backoff, capturing that payment
    queues it again (payment_capture), and the beat (webhooks_retry_waiting) tries waiting
    events until WEBHOOK_WAIT_LIMIT after they arrived, then marks them ignored.

    Other errors are recorded on the event (failed) and raised for the task to retry."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        if event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                gateway = get_gateway(event.provider)
                info = gateway.read_event(InboxEvent(event.event_id, event.event_type, event.payload))
                # What the event came to; None: nothing of ours (the event is ignored).
                applied: object = info
                if isinstance(info, ProviderPayment):
                    payment_apply(gateway=event.provider, info=info)
                elif isinstance(info, ProviderRefund):
                    applied = refund_apply(gateway=event.provider, answer=info)
        except RefundWaits as exc:
            gave_up = event.received_at <= timezone.now() - WEBHOOK_WAIT_LIMIT
            event.status = WebhookEvent.Status.IGNORED if gave_up else WebhookEvent.Status.WAITING
            event.error = exc.message + (
                f" Given up after {WEBHOOK_WAIT_LIMIT.days} days: not a payment of ours." if gave_up else ""
            )
            event.processed_at = timezone.now() if gave_up else None
            event.save(update_fields=["status", "error", "attempts", "processed_at"])
            logger.info(
                "webhook waiting",
                extra={
                    "event": "webhook.waiting",
                    "provider": event.provider,
                    "event_id": event.event_id,
                    "status": event.status,
                    "error": event.error,
                },
            )
            return event
        except Exception as exc:  # noqa: BLE001 — recorded for staff, then retried by the task
            event.status = WebhookEvent.Status.FAILED
            event.error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
            event.save(update_fields=["status", "error", "attempts"])
            logger.warning(
                "webhook failed",
                extra={
                    "event": "webhook.failed",
                    "provider": event.provider,
                    "event_id": event.event_id,
                    "attempts": event.attempts,
                    "error": event.error,
                },
            )
            error = exc
        else:
            event.status = WebhookEvent.Status.PROCESSED if applied is not None else WebhookEvent.Status.IGNORED
            event.error = ""
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "error", "attempts", "processed_at"])
            logger.info(
                "webhook processed",
                extra={
                    "event": "webhook.processed",
                    "provider": event.provider,
                    "event_id": event.event_id,
                    "status": event.status,
                },
            )
            return event
    raise error


def webhook_replay(*, event: WebhookEvent) -> str | None:
    """Staff replay: queues `event` for processing again whatever became of it, unless it was
    processed (it has done its work). Failed, ignored, waiting and pending events go back to
    pending and are processed once this commits. Returns the status the event had, or None
    for a processed event, which is left as it is."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        if event.status == WebhookEvent.Status.PROCESSED:
            return None
        was = event.status
        event.status = WebhookEvent.Status.PENDING
        event.save(update_fields=["status"])
        # robust: with the broker down the error is logged and the event stays pending, to be
        # replayed again; staff get no error page for it.
        enqueue_on_commit("payments.tasks.process_webhook_event", event.pk)
    return was


def webhooks_retry_waiting() -> dict[str, int]:
    """Beat: processes every waiting event again, oldest first (its payment may have been
    captured by a path whose queueing was lost; an event waiting longer than
    WEBHOOK_WAIT_LIMIT is marked ignored). Returns how many ended processed, waiting and
    ignored. Errors are recorded on the events (failed), never raised."""
    counts = {"processed": 0, "waiting": 0, "ignored": 0, "failed": 0}
    waiting = WebhookEvent.objects.filter(status=WebhookEvent.Status.WAITING).order_by("pk")
    for pk in list(waiting.values_list("pk", flat=True)):
        try:
            event = webhook_process(event=WebhookEvent(pk=pk))
        except Exception:  # noqa: BLE001 — webhook_process recorded it on the event
            counts["failed"] += 1
            continue
        if event.status in counts:
            counts[event.status] += 1
    return counts


# -- reconciliation ------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    """What payments_reconcile did. Payments: `checked` asked about, then `captured`,
    `failed` (failed or rejected), `still_pending`, `errors` (could not be asked or settled).
    Refunds (pending ones the provider had accepted): `refunds_checked` asked about, then
    `refunds_succeeded`, `refunds_failed` (failed or canceled), `refunds_still_pending`,
    `refund_errors`."""

    checked: int = 0
    captured: int = 0
    failed: int = 0
    still_pending: int = 0
    errors: int = 0
    refunds_checked: int = 0
    refunds_succeeded: int = 0
    refunds_failed: int = 0
    refunds_still_pending: int = 0
    refund_errors: int = 0

    @property
    def refunds_settled(self) -> int:
        """Refunds asked about that have ended (succeeded, failed or canceled)."""
        return self.refunds_succeeded + self.refunds_failed


def payments_reconcile(*, older_than: timedelta) -> ReconcileResult:
    """Asks each provider about payments still pending after `older_than` and applies its
    answer (payment_apply), then about refunds still pending after `older_than` that the
    provider has accepted (it gave us their id) and applies its answer (refund_confirm):
    webhooks get lost. Provider errors are counted and logged, never raised."""
    result = ReconcileResult()
    cutoff = timezone.now() - older_than
    pending = Payment.objects.filter(status=Payment.Status.PENDING, created_at__lte=cutoff).exclude(
        provider_order_id=None
    )
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
    _refunds_reconcile(cutoff=cutoff, result=result)
    return result


def _refunds_reconcile(*, cutoff: datetime, result: ReconcileResult) -> None:
    """payments_reconcile's second half: the refunds created before `cutoff` that are still
    pending although the provider accepted them (they have a provider_refund_id), so only a
    refund.* webhook would end them; if it was lost, their amount would stay held for good.
    Each is asked about and the answer applied through refund_confirm, as the webhook's
    would be: a success counts once (and issues its credit note), a failure frees the amount
    and flags the order. Refunds the provider never answered are not here: the beat's
    refunds_resubmit sends them again."""
    pending = (
        Refund.objects.filter(status=Refund.Status.PENDING, provider_refund_id__isnull=False, created_at__lte=cutoff)
        .select_related("payment")
        .order_by("pk")
    )
    for refund in pending.iterator():
        result.refunds_checked += 1
        try:
            answer = get_gateway(refund.payment.gateway).fetch_refund(refund)
            # A webhook for the same refund may be applied at this very moment: refund_confirm
            # takes the refund's row lock and moves a status once, so it counts once either way.
            refund = refund_confirm(refund=refund, answer=answer)
        except (GatewayError, StockBusy, OrderStateError) as exc:
            # Like a payment: one refund that cannot be settled now (provider down, rows
            # busy) must not stop the others. Nothing of it was applied (refund_confirm is one
            # transaction): it is still pending, its amount held, and asked about next run.
            result.refund_errors += 1
            logger.warning("reconcile failed for refund %s (%s): %s", refund.pk, refund.provider_refund_id, exc)
            continue
        if refund.status == Refund.Status.SUCCEEDED:
            result.refunds_succeeded += 1
        elif refund.status in _FINAL:
            result.refunds_failed += 1
        else:
            result.refunds_still_pending += 1
