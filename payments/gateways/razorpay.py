"""Razorpay: the Orders API plus Checkout.js, a signed client callback, and webhooks.

The flow (https://razorpay.com/docs/payments/payment-gateway/web-integration/standard/):
1. start() creates a Razorpay Order for the payment (amount in paise) and our page opens
   Checkout.js on it; card, UPI and bank details go to Razorpay's iframe, never to us.
2. Checkout.js hands razorpay_payment_id, razorpay_order_id and razorpay_signature to our
   page, which posts them (with its CSRF token) to payments:callback. verify_callback()
   checks the signature, HMAC-SHA256(order_id|payment_id, key secret), and then asks the API
   what the payment is, because the signature proves only that Razorpay saw it succeed, not
   that it was captured, nor for how much.
3. Webhooks (payment.captured, order.paid, payment.failed, refund.created / .processed /
   .failed) report the same facts again; payments.services applies each at most once, in
   any order.

A failed attempt is not the end of a Razorpay Order: Checkout.js lets the shopper try again
on it (another card, UPI app, bank). So payment.failed, and reconciliation finding only failed
attempts while the order's reservation is still live, leave the payment pending; it ends when
the shopper pays, closes the Checkout.js window (payments:abandon), cancels the order, or the
reservation lapses (reconciliation then reports the failed attempts as failed).

Orders are created with payment_capture=1, so Razorpay captures authorised payments itself.

Refunds never refund twice for one of our Refund rows: each request carries
refund.idempotency_key in the X-Refund-Idempotency header (Razorpay's idempotent refunds,
https://razorpay.com/docs/api/refunds/normal-refunds-idempotent/, India and Malaysia), and,
since that header is not honoured on every account, in the refund's notes and receipt too;
before creating a refund we list the payment's refunds and return the one carrying that key.

Amounts are minor units (paise) everywhere in this module; kernel.money converts.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any

import django
import razorpay
import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from razorpay.errors import BadRequestError, ServerError, SignatureVerificationError
from razorpay.errors import GatewayError as RazorpayGatewayError

from kernel.money import to_minor
from orders.models import Order

from .base import (
    Gateway,
    GatewayError,
    InboxEvent,
    InvalidSignature,
    Outcome,
    ProviderPayment,
    ProviderRefund,
    RefundStatus,
    ReturnUrls,
    StartAction,
)

logger = logging.getLogger(__name__)

KEY_ID_PATTERN = re.compile(r"^rzp_(test|live)_[A-Za-z0-9]+$")
# Seconds to connect / to read. A stalled Razorpay must not hold a web worker for long; the
# webhook or reconciliation finishes what a timed-out request left open.
TIMEOUT = (5, 20)
RECEIPT_MAX = 40  # Razorpay rejects longer receipts (Orders API and refunds)
# What the SDK raises for an API error answer, and what requests raises for no answer
# (a non-JSON error page is a requests.JSONDecodeError, a RequestException too).
API_ERRORS = (BadRequestError, RazorpayGatewayError, ServerError, requests.RequestException)


# What went wrong, by what we asked: (Razorpay not reached, Razorpay answered with an error),
# whole sentences (issue 16: never "could not" + a phrase), English here and in storage,
# translated where a shopper or staff member reads them (GatewayError.message).
_API_ERRORS = {
    "start": (
        gettext_noop("Razorpay could not be reached to start the payment. Please try again in a moment."),
        gettext_noop("Razorpay could not start the payment: %(error)s"),
    ),
    "fetch": (
        gettext_noop("Razorpay could not be reached to report on %(id)s. Please try again in a moment."),
        gettext_noop("Razorpay could not report on %(id)s: %(error)s"),
    ),
    "fetch_refund": (
        gettext_noop("Razorpay could not be reached to report on refund %(id)s. Please try again in a moment."),
        gettext_noop("Razorpay could not report on refund %(id)s: %(error)s"),
    ),
    "refund": (
        gettext_noop("Razorpay could not be reached to make the refund. Please try again in a moment."),
        gettext_noop("Razorpay could not make the refund: %(error)s"),
    ),
}


def _api_error(asked: str, exc: Exception, *, about: str = "") -> GatewayError:
    """A GatewayError whose message can be shown: Razorpay's own description when it answered,
    a plain "could not be reached" when it did not (no URLs or tracebacks for shoppers).
    `asked`: a key of _API_ERRORS; `about`: the id it was about, if any.
    Retryable unless Razorpay refused the request (BadRequestError: a 4xx)."""
    unreachable, refused = _API_ERRORS[asked]
    if isinstance(exc, requests.RequestException):
        return GatewayError(unreachable, retryable=True, params={"id": about} if about else None)
    retryable = not isinstance(exc, BadRequestError)
    return GatewayError(refused, retryable=retryable, params={"id": about, "error": str(exc) or type(exc).__name__})


def _notes(entity: dict[str, Any]) -> dict[str, Any]:
    # Razorpay sends empty notes as [] rather than {}.
    notes = entity.get("notes")
    return notes if isinstance(notes, dict) else {}


def _outcome(entity: dict[str, Any]) -> Outcome:
    """A payment entity's status as our outcome: captured → succeeded; failed → failed;
    created / authorized → pending (with payment_capture=1 Razorpay captures it shortly);
    refunded → succeeded if it had been captured (the refund is a separate fact), failed if
    Razorpay auto-refunded an authorisation that was never captured."""
    status = entity.get("status")
    if status == "captured":
        return Outcome.SUCCEEDED
    if status == "refunded":
        return Outcome.SUCCEEDED if entity.get("captured") else Outcome.FAILED
    if status == "failed":
        return Outcome.FAILED
    return Outcome.PENDING


def _payment_info(entity: dict[str, Any], *, order_id: str = "") -> ProviderPayment:
    return ProviderPayment(
        outcome=_outcome(entity),
        reference=str(_notes(entity).get("payment_reference", "")),
        provider_order_id=entity.get("order_id") or order_id,
        provider_payment_id=entity.get("id", ""),
        amount_minor=entity.get("amount"),
        currency=entity.get("currency", ""),
        reason=entity.get("error_description") or "",
    )


# Refund entity statuses (https://razorpay.com/docs/api/refunds/#refund-entity): pending
# refunds end as processed (refund.processed) or failed (refund.failed).
REFUND_STATUSES = {"pending": RefundStatus.PENDING, "processed": RefundStatus.SUCCEEDED, "failed": RefundStatus.FAILED}


def _refund_info(entity: dict[str, Any]) -> ProviderRefund:
    status = REFUND_STATUSES.get(entity.get("status") or "", RefundStatus.PENDING)
    return ProviderRefund(
        provider_refund_id=entity["id"],
        provider_payment_id=entity.get("payment_id", ""),
        amount_minor=entity.get("amount"),
        status=status,
        reason=gettext_noop("Razorpay could not make the refund") if status is RefundStatus.FAILED else "",
        idempotency_key=str(_notes(entity).get("idempotency_key") or entity.get("receipt") or ""),
    )


def _reservation_live(order: Order) -> bool:
    """Whether `order` still awaits payment with its items reserved."""
    return (
        order.status == Order.Status.PENDING_PAYMENT
        and order.reservation_expires_at is not None
        and order.reservation_expires_at > timezone.now()
    )


class RazorpayGateway(Gateway):
    name = "razorpay"
    label = _("UPI, cards, netbanking (Razorpay)")

    def check_configuration(self) -> list[str]:
        problems = []
        if not KEY_ID_PATTERN.match(settings.RAZORPAY_KEY_ID or ""):
            problems.append("RAZORPAY_KEY_ID must be an API key id like rzp_test_… or rzp_live_…")
        if not settings.RAZORPAY_KEY_SECRET:
            problems.append("RAZORPAY_KEY_SECRET is empty")
        if not settings.RAZORPAY_WEBHOOK_SECRET:
            problems.append("RAZORPAY_WEBHOOK_SECRET is empty (set it on the webhook in the Razorpay dashboard)")
        return problems

    def _client(self) -> razorpay.Client:
        client = razorpay.Client(auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET))
        client.set_app_details({"title": "Django", "version": django.get_version()})
        return client

    # -- paying --------------------------------------------------------------------------

    def start(self, payment, urls: ReturnUrls) -> StartAction:
        """Creates the Razorpay Order the shopper pays through (one per Payment) and returns
        our Checkout.js page. Raises GatewayError when Razorpay refuses or is unreachable."""
        order = payment.order
        try:
            rzp_order = self._client().order.create(
                {
                    "amount": to_minor(payment.amount, payment.currency),
                    "currency": payment.currency.upper(),
                    "receipt": payment.reference[:RECEIPT_MAX],
                    "notes": {"payment_reference": payment.reference, "order_number": order.number},
                    "payment_capture": 1,
                },
                timeout=TIMEOUT,
            )
        except API_ERRORS as exc:
            logger.warning("razorpay order create failed for %s: %s", payment.reference, exc)
            raise _api_error("start", exc) from exc
        payment.provider_order_id = rzp_order["id"]
        return self._checkout(payment, urls)

    def resume(self, payment, urls: ReturnUrls) -> StartAction:
        """The same Checkout.js page on the Razorpay Order already made: no second order, so
        a shopper who reloads or comes back cannot pay the same Payment twice."""
        return self._checkout(payment, urls)

    def _checkout(self, payment, urls: ReturnUrls) -> StartAction:
        order = payment.order
        # Empty prefill fields are left out: Checkout.js would show them blank.
        prefill = {"email": order.email, "name": order.shipping_name, "contact": str(order.shipping_phone or "")}
        return StartAction(
            template="payments/razorpay_checkout.html",
            context={
                "razorpay": {
                    "key_id": settings.RAZORPAY_KEY_ID,
                    "amount": to_minor(payment.amount, payment.currency),
                    "currency": payment.currency.upper(),
                    "order_id": payment.provider_order_id,
                    "shop_name": settings.SITE_NAME,
                    "description": f"Order {order.number}",
                    "prefill": {key: value for key, value in prefill.items() if value},
                    "notes": {"payment_reference": payment.reference, "order_number": order.number},
                },
                "callback_url": urls.callback(payment.reference),
                "abandon_url": urls.abandon(payment.reference),
            },
        )

    def verify_callback(self, payment, data) -> ProviderPayment:
        """Checkout.js's signed result for `payment`. Raises InvalidSignature when the order id
        is not this payment's or the signature does not verify. The payment's state comes
        from the API, not from the browser; if the API cannot be asked, the answer is
        pending and the webhook or reconciliation settles it."""
        order_id = data.get("razorpay_order_id", "")
        payment_id = data.get("razorpay_payment_id", "")
        signature = data.get("razorpay_signature", "")
        if not payment.provider_order_id or order_id != payment.provider_order_id:
            raise InvalidSignature("The Razorpay order id is not this payment's.")
        if not (payment_id and signature):
            raise InvalidSignature("The Razorpay callback is incomplete.")
        client = self._client()
        try:
            client.utility.verify_payment_signature(
                {"razorpay_order_id": order_id, "razorpay_payment_id": payment_id, "razorpay_signature": signature}
            )
        except (SignatureVerificationError, TypeError) as exc:  # TypeError: non-ASCII signature
            raise InvalidSignature("The Razorpay signature does not verify.") from exc
        try:
            entity = client.payment.fetch(payment_id, timeout=TIMEOUT)
        except API_ERRORS as exc:
            logger.warning("razorpay payment fetch failed for %s (%s): %s", payment.reference, payment_id, exc)
            return ProviderPayment(outcome=Outcome.PENDING, reference=payment.reference, provider_order_id=order_id)
        if entity.get("order_id") != payment.provider_order_id:
            # A valid signature for this order, yet the API files the payment elsewhere.
            raise InvalidSignature("The Razorpay payment belongs to another order.")
        return replace(_payment_info(entity, order_id=order_id), reference=payment.reference)

    # -- webhooks ------------------------------------------------------------------------

    def verify_webhook(self, request) -> InboxEvent:
        """X-Razorpay-Signature is HMAC-SHA256 (hex) of the raw body with the webhook secret;
        x-razorpay-event-id names the event, the same on every redelivery (our inbox key).
        Raises InvalidSignature for a missing or wrong signature or a missing event id."""
        signature = request.headers.get("X-Razorpay-Signature", "")
        event_id = request.headers.get("X-Razorpay-Event-Id", "")
        if not signature:
            raise InvalidSignature("Missing X-Razorpay-Signature header.")
        if not event_id:
            raise InvalidSignature("Missing x-razorpay-event-id header.")
        try:
            body = request.body.decode("utf-8")
            self._client().utility.verify_webhook_signature(body, signature, settings.RAZORPAY_WEBHOOK_SECRET)
            payload = json.loads(body)
        except (UnicodeDecodeError, SignatureVerificationError, TypeError) as exc:  # TypeError: non-ASCII signature
            raise InvalidSignature("The Razorpay webhook signature does not verify.") from exc
        except ValueError as exc:
            raise InvalidSignature("The Razorpay webhook body is not JSON.") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            raise InvalidSignature("The Razorpay webhook names no event.")
        return InboxEvent(event_id=event_id, event_type=payload["event"], payload=payload)

    def read_event(self, event: InboxEvent) -> ProviderPayment | ProviderRefund | None:
        """payment.captured and order.paid → succeeded; payment.failed → pending with the
        attempt's reason (one attempt failed; Checkout.js lets the shopper try again on the
        same Razorpay Order: see the module docstring); refund.created / .processed / .failed
        → a refund, pending / succeeded / failed. Anything else, and payments that belong to
        no Razorpay Order (payment links, QR codes: not the shop's), → None."""
        body = event.payload.get("payload", {})
        payment = body.get("payment", {}).get("entity", {})
        order = body.get("order", {}).get("entity", {})
        if event.event_type in ("payment.captured", "payment.failed"):
            if not payment.get("order_id"):
                return None
            info = _payment_info(payment)
            if event.event_type == "payment.captured":
                return replace(info, outcome=Outcome.SUCCEEDED)
            return replace(info, outcome=Outcome.PENDING, reason=info.reason or gettext_noop("Declined at Razorpay"))
        if event.event_type == "order.paid":
            # Sent once a payment of the order is captured; it carries both entities. Without
            # the payment entity the order's own figures stand in for it.
            info = _payment_info(payment, order_id=order.get("id", ""))
            return replace(
                info,
                outcome=Outcome.SUCCEEDED,
                reference=info.reference or str(_notes(order).get("payment_reference", "")),
                amount_minor=order.get("amount_paid") if info.amount_minor is None else info.amount_minor,
                currency=info.currency or order.get("currency", ""),
            )
        if event.event_type in ("refund.created", "refund.processed", "refund.failed"):
            # Razorpay also refunds, by itself, authorisations that were never captured
            # (payment.captured false): no money of ours moved, nothing to record. A payment
            # of no Razorpay Order is not the shop's (as above).
            if payment and (payment.get("captured") is False or not payment.get("order_id")):
                return None
            refund = body.get("refund", {}).get("entity", {})
            return _refund_info(refund) if refund.get("id") else None
        return None

    # -- asking and refunding -----------------------------------------------------------------

    def fetch(self, payment) -> ProviderPayment:
        """What happened to the payment's Razorpay Order: a captured payment → succeeded;
        only failed attempts → failed once the order's reservation is over, pending (with the
        latest attempt's reason) while it is live, since the shopper may still try again; no
        attempt yet (or one still authorised) → pending. Raises GatewayError."""
        if not payment.provider_order_id:
            return ProviderPayment(outcome=Outcome.PENDING, reference=payment.reference)
        try:
            answer = self._client().order.payments(payment.provider_order_id, timeout=TIMEOUT)
        except API_ERRORS as exc:
            raise _api_error("fetch", exc, about=payment.provider_order_id) from exc
        attempts = answer.get("items", [])
        infos = [_payment_info(entity, order_id=payment.provider_order_id) for entity in attempts]
        for info in infos:
            if info.outcome is Outcome.SUCCEEDED:
                return replace(info, reference=payment.reference)
        if infos and all(info.outcome is Outcome.FAILED for info in infos):
            latest = max(zip(attempts, infos, strict=True), key=lambda pair: pair[0].get("created_at") or 0)[1]
            latest = replace(
                latest, reference=payment.reference, reason=latest.reason or gettext_noop("Declined at Razorpay")
            )
            if _reservation_live(payment.order):
                # The shopper may still be trying again in Checkout.js on this Razorpay Order:
                # failing the payment now would release their items under their feet.
                return replace(latest, outcome=Outcome.PENDING)
            # Every attempt failed and the reservation is over: the shopper has left.
            return latest
        return ProviderPayment(
            outcome=Outcome.PENDING, reference=payment.reference, provider_order_id=payment.provider_order_id
        )

    def fetch_refund(self, refund) -> ProviderRefund:
        """What Razorpay says about `refund` now (GET /v1/payments/{pay_id}/refunds/{rfnd_id},
        https://razorpay.com/docs/api/refunds/fetch-specific-refund-payment/), read as the
        refund.* webhooks are (REFUND_STATUSES; amount in paise). Raises GatewayError when
        Razorpay cannot be reached or answers with an error (retryable unless it refused the
        request, e.g. an id it does not know)."""
        payment_id = refund.payment.provider_payment_id or ""
        if not payment_id.startswith("pay_") or not refund.provider_refund_id:
            raise GatewayError(f"No Razorpay refund to ask about (have {payment_id!r}, {refund.provider_refund_id!r}).")
        try:
            entity = self._client().payment.fetch_refund_id(payment_id, refund.provider_refund_id, timeout=TIMEOUT)
        except API_ERRORS as exc:
            raise _api_error("fetch_refund", exc, about=refund.provider_refund_id) from exc
        return _refund_info(entity)

    def refund(self, refund, provider_payment_id: str, amount_minor: int) -> ProviderRefund:
        """Refunds `amount_minor` paise of a captured Razorpay payment, at most once per
        refund.idempotency_key (see the module docstring), and reports it as Razorpay answers
        (pending, processed or failed). Raises GatewayError (retryable unless Razorpay
        refused the request)."""
        key = refund.idempotency_key
        if not provider_payment_id.startswith("pay_"):
            raise GatewayError(f"No Razorpay payment id to refund (have {provider_payment_id!r}).")
        client = self._client()
        try:
            # Why look first: a refund request whose answer was lost (timeout, crash) may have
            # been made; retrying it blindly where the header is not honoured refunds twice.
            existing = client.payment.fetch_multiple_refund(provider_payment_id, {"count": 100}, timeout=TIMEOUT)
            for entity in existing.get("items", []):
                if _refund_info(entity).idempotency_key == key:
                    return _refund_info(entity)
            entity = client.payment.refund(
                provider_payment_id,
                {
                    "amount": amount_minor,
                    "speed": "normal",
                    "receipt": key[:RECEIPT_MAX],
                    "notes": {"idempotency_key": key, "payment_reference": refund.payment.reference},
                },
                headers={"X-Refund-Idempotency": key},
                timeout=TIMEOUT,
            )
        except API_ERRORS as exc:
            raise _api_error("refund", exc) from exc
        return _refund_info(entity)
