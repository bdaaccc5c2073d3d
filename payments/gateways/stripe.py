"""Stripe: a hosted Checkout Session the shopper is redirected to (card data never touches
us), webhooks for the outcome, the Checkout Session API for reconciliation and the return
page, and the Refunds API (making refunds, and asking about one whose webhook was lost).

What we keep at Stripe: Payment.provider_order_id is the Checkout Session id (cs_…),
Payment.provider_payment_id the PaymentIntent id (pi_…), known once the session completes.
Our Payment.reference travels as client_reference_id and as metadata on both the session
and its PaymentIntent, so every event can be matched back to us.

API reference: https://docs.stripe.com/api/checkout/sessions,
https://docs.stripe.com/api/refunds, events: https://docs.stripe.com/api/events/types.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from kernel.money import to_minor

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

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

SECRET_KEY_RE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]+$")
WEBHOOK_SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9+/=]+$")

# Stripe lets a Checkout Session live between 30 minutes and 24 hours. We ask for the
# minimum plus a minute of margin for clock skew between us and Stripe. The order's own
# reservation is usually shorter: a payment made after it lapsed is honoured only if the
# stock is still there (payments.services.payment_capture).
SESSION_LIFETIME = timedelta(minutes=31)

# Seconds to wait for Stripe (connect, read) inside a shopper's request, and how often the
# SDK retries a request that failed on the network or with a 409/5xx. Retries resend the
# same Idempotency-Key, so Stripe never creates a second session or refund for one call.
HTTP_TIMEOUT = (5, 30)
NETWORK_RETRIES = 2

# Refund statuses: https://docs.stripe.com/api/refunds/object#refund_object-status.
# "pending": the money is on its way back, not back yet; "requires_action" waits for the
# customer's bank details (https://docs.stripe.com/refunds#refund-destinations). Both end as
# succeeded, failed or canceled, which Stripe reports by refund.updated / refund.failed.
REFUND_STATUSES = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


class StripeGateway(Gateway):
    name = "stripe"
    label = _("Card (Stripe)")

    # -- configuration -----------------------------------------------------------------------

    def check_configuration(self) -> list[str]:
        problems = []
        key = settings.STRIPE_SECRET_KEY or ""
        if not key:
            problems.append(
                "STRIPE_SECRET_KEY is not set (a secret key sk_test_… or sk_live_…, or a restricted key rk_…)"
            )
        elif not SECRET_KEY_RE.match(key):
            kind = "a publishable key (pk_…)" if key.startswith("pk_") else "not a Stripe secret key"
            problems.append(f"STRIPE_SECRET_KEY is {kind}; expected sk_test_…, sk_live_…, rk_test_… or rk_live_…")
        secret = settings.STRIPE_WEBHOOK_SECRET or ""
        if not secret:
            problems.append("STRIPE_WEBHOOK_SECRET is not set (the endpoint's signing secret, whsec_…)")
        elif not WEBHOOK_SECRET_RE.match(secret):
            problems.append("STRIPE_WEBHOOK_SECRET is not a webhook signing secret; expected whsec_…")
        return problems

    def _client(self) -> stripe.StripeClient:
        return _client_for(settings.STRIPE_SECRET_KEY)

    # -- starting a payment ------------------------------------------------------------------

    def start(self, payment, urls: ReturnUrls) -> StartAction:
        """Creates a hosted Checkout Session charging exactly the order total (lines plus a
        shipping line, in minor units) and points the shopper at it. Raises GatewayError."""
        order = payment.order
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": _line_items(order),
            "customer_email": order.email,
            "client_reference_id": payment.reference,
            "metadata": _metadata(payment),
            "payment_intent_data": {"metadata": _metadata(payment)},
            # Stripe fills in {CHECKOUT_SESSION_ID}; the return page ignores it and asks
            # Stripe about the session id we stored, so a forged one changes nothing.
            "success_url": urls.success(payment.reference) + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": urls.cancel(payment.reference),
            # From the payment's creation, not "now": a retried start of the same payment
            # must send byte-identical parameters, or Stripe refuses the reused
            # Idempotency-Key instead of returning the session it already made.
            "expires_at": int((payment.created_at + SESSION_LIFETIME).timestamp()),
        }
        try:
            session = self._client().v1.checkout.sessions.create(
                params, {"idempotency_key": _checkout_idempotency_key(payment)}
            )
        except stripe.StripeError as exc:
            raise _gateway_error("start", exc) from exc
        payment.provider_order_id = session.id
        payment.checkout_url = session.url or ""
        return StartAction(redirect_url=payment.checkout_url)

    # -- webhooks ----------------------------------------------------------------------------

    def verify_webhook(self, request) -> InboxEvent:
        """Checks the Stripe-Signature header over the raw body with the endpoint's signing
        secret, rejecting signatures older than the SDK's tolerance (300 s) so a captured
        request cannot be replayed later. Raises InvalidSignature."""
        body = request.body
        try:
            stripe.Webhook.construct_event(
                body, request.headers.get("Stripe-Signature"), settings.STRIPE_WEBHOOK_SECRET
            )
            # The verified body itself, as plain JSON, is what the inbox keeps.
            payload = json.loads(body)
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature("Stripe signature verification failed") from exc
        except (ValueError, AttributeError) as exc:  # not UTF-8, not JSON, a JSON list
            raise InvalidSignature("Not a Stripe event") from exc
        if not isinstance(payload, dict) or not payload.get("id") or not payload.get("type"):
            raise InvalidSignature("Not a Stripe event")
        return InboxEvent(event_id=payload["id"], event_type=payload["type"], payload=payload)

    def read_event(self, event: InboxEvent) -> ProviderPayment | ProviderRefund | None:
        obj = event.payload.get("data", {}).get("object", {})
        kind = event.event_type
        if kind == "checkout.session.completed":
            # Cards are "paid" at once; delayed methods (bank debits, vouchers) complete the
            # session "unpaid" and report later through async_payment_succeeded/_failed.
            outcome = Outcome.SUCCEEDED if obj.get("payment_status") == "paid" else Outcome.PENDING
            return _session_payment(obj, outcome)
        if kind == "checkout.session.async_payment_succeeded":
            return _session_payment(obj, Outcome.SUCCEEDED)
        if kind == "checkout.session.async_payment_failed":
            return _session_payment(obj, Outcome.FAILED, reason=gettext_noop("The delayed payment did not go through"))
        if kind == "checkout.session.expired":
            return _session_payment(obj, Outcome.FAILED, reason=gettext_noop("Checkout session expired"))
        if kind == "payment_intent.payment_failed":
            return _intent_failed(obj)
        if kind == "charge.refunded":
            return _charge_refund(obj)
        if kind in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
            return _refund(obj)
        return None

    # -- asking Stripe -----------------------------------------------------------------------

    def fetch(self, payment) -> ProviderPayment:
        """What Stripe says about the payment's Checkout Session now (return page,
        reconciliation). Looked up by the session id we stored, never by anything the
        shopper's browser sends. Raises GatewayError."""
        if not payment.provider_order_id:
            return ProviderPayment(outcome=Outcome.PENDING, reference=payment.reference)
        try:
            found = self._client().v1.checkout.sessions.retrieve(
                payment.provider_order_id, {"expand": ["payment_intent"]}
            )
        except stripe.StripeError as exc:
            raise _gateway_error("fetch", exc) from exc
        session = found.to_dict()
        intent = session.get("payment_intent")
        intent_status = intent.get("status") if isinstance(intent, dict) else None
        status, paid = session.get("status"), session.get("payment_status") == "paid"
        if status == "complete" and paid:
            return _our_session_payment(session, Outcome.SUCCEEDED)
        if status == "expired":
            return _our_session_payment(session, Outcome.FAILED, reason=gettext_noop("Checkout session expired"))
        if status == "complete" and intent_status in ("requires_payment_method", "canceled"):
            # A completed session whose delayed payment failed stays "unpaid" for good; its
            # PaymentIntent says so.
            return _our_session_payment(
                session, Outcome.FAILED, reason=gettext_noop("The delayed payment did not go through")
            )
        return _our_session_payment(session, Outcome.PENDING)

    def fetch_refund(self, refund) -> ProviderRefund:
        """What Stripe says about `refund` now, looked up by the refund id Stripe gave us
        (GET /v1/refunds/{id}, https://docs.stripe.com/api/refunds/retrieve) and read as the
        refund.* webhooks are (REFUND_STATUSES, Stripe's failure_reason for a failed one;
        amount in minor units). Raises GatewayError when Stripe cannot be reached (retryable),
        refuses (an unknown refund id, bad keys) or reports a status we do not know."""
        if not refund.provider_refund_id:
            raise GatewayError("This refund has no Stripe refund id: Stripe has not answered it yet.")
        try:
            answer = self._client().v1.refunds.retrieve(refund.provider_refund_id)
        except stripe.StripeError as exc:
            raise _gateway_error("fetch_refund", exc) from exc
        return _refund_answer(answer.to_dict())

    def refund(self, refund, provider_payment_id: str, amount_minor: int) -> ProviderRefund:
        """Refunds `amount_minor` of the PaymentIntent with our refund's idempotency key, so a
        retried call refunds once, and reports the refund as Stripe answers it (pending stays
        pending: refund.updated says how it ends). Raises GatewayError (retryable when Stripe
        gave no answer, failed on its side or asked us to come back later).

        Stripe replays an answer for a repeated Idempotency-Key only for 24 hours
        (https://docs.stripe.com/api/idempotent_requests). So when this refund was sent before
        (refund.attempts > 1: the answer may have been lost), the PaymentIntent's refunds are
        listed first and the one carrying our key in its metadata is the answer: a refund
        resubmitted days later is still made once."""
        if not provider_payment_id.startswith("pi_"):
            raise GatewayError("This Stripe payment has no PaymentIntent yet; nothing was charged to refund.")
        client = self._client()
        try:
            if refund.attempts > 1:
                made = client.v1.refunds.list({"payment_intent": provider_payment_id, "limit": 100}).to_dict()
                for existing in made.get("data") or []:
                    if (existing.get("metadata") or {}).get("refund_key") == refund.idempotency_key:
                        return _refund_answer(existing)
            answer = client.v1.refunds.create(
                {
                    "payment_intent": provider_payment_id,
                    "amount": amount_minor,
                    # Lets refund webhooks (refund.created/updated) find this refund of ours
                    # even when they arrive before Stripe's answer to this call.
                    "metadata": {"refund_key": refund.idempotency_key, "payment_reference": refund.payment.reference},
                },
                {"idempotency_key": refund.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _gateway_error("refund", exc) from exc
        return _refund_answer(answer.to_dict())


@functools.lru_cache(maxsize=4)
def _client_for(secret_key: str) -> stripe.StripeClient:
    # One client per key and process, so its HTTP connections are reused (its requests
    # session is per thread, hence safe to share). Keyed by the key, so a changed setting
    # gets a new client.
    return stripe.StripeClient(
        secret_key,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT),
    )


# -- building the session ------------------------------------------------------------------


def _metadata(payment) -> dict[str, str]:
    return {"payment_reference": payment.reference, "order_number": payment.order.number}


def _line_items(order) -> list[SessionCreateParamsLineItem]:
    """One line item per order line and one for shipping, unit prices in minor units.

    Stripe charges Σ unit_amount × quantity, which must be exactly the order total: if the
    conversion to minor units ever rounds a unit price (a price with more decimals than the
    currency has), the whole order goes as one line instead, so the amount charged is still
    to_minor(order.total) and payment_capture's amount check holds."""
    currency = order.currency.lower()

    def item(name: str, unit_amount: int, quantity: int) -> SessionCreateParamsLineItem:
        return {
            "price_data": {"currency": currency, "unit_amount": unit_amount, "product_data": {"name": name[:250]}},
            "quantity": quantity,
        }

    items = []
    for line in order.lines.all():
        name = (
            line.product_title
            if not line.variant_title or line.variant_title == "Default Title"
            else f"{line.product_title} – {line.variant_title}"
        )
        items.append(item(name, to_minor(line.unit_price, order.currency), line.quantity))
    if order.shipping_total > 0:
        items.append(item(f"Shipping: {order.shipping_method_name}", to_minor(order.shipping_total, order.currency), 1))
    charged = sum(i["price_data"]["unit_amount"] * i["quantity"] for i in items)
    if charged != to_minor(order.total, order.currency):
        logger.warning("order %s: line amounts do not add up in minor units; charging one line", order.number)
        items = [item(f"Order {order.number}", to_minor(order.total, order.currency), 1)]
    return items


def _checkout_idempotency_key(payment) -> str:
    """order-<number>-checkout-<n>, n = this order's Stripe payments started before this one.
    The same payment retried sends the same key (Stripe answers with the session it made);
    a new attempt after a failed or expired one gets a new key, hence a new session."""
    earlier = type(payment).objects.filter(order_id=payment.order_id, gateway="stripe", pk__lt=payment.pk).count()
    return f"order-{payment.order.number}-checkout-{earlier}"


# What went wrong, by what we asked: (Stripe not reached, our keys refused, Stripe refused
# the request), whole sentences (issue 16: never "could not" + a phrase), English here and
# in storage, translated where a shopper or staff member reads them (GatewayError.message).
_ERRORS = {
    "start": (
        gettext_noop("Could not reach Stripe to start the payment. Please try again in a moment."),
        gettext_noop(
            "Stripe refused our credentials; could not start the payment. Staff have to check the Stripe keys."
        ),
        gettext_noop("Stripe could not start the payment%(code)s."),
    ),
    "fetch": (
        gettext_noop("Could not reach Stripe to look up the payment. Please try again in a moment."),
        gettext_noop(
            "Stripe refused our credentials; could not look up the payment. Staff have to check the Stripe keys."
        ),
        gettext_noop("Stripe could not look up the payment%(code)s."),
    ),
    "fetch_refund": (
        gettext_noop("Could not reach Stripe to look up the refund. Please try again in a moment."),
        gettext_noop(
            "Stripe refused our credentials; could not look up the refund. Staff have to check the Stripe keys."
        ),
        gettext_noop("Stripe could not look up the refund%(code)s."),
    ),
    "refund": (
        gettext_noop("Could not reach Stripe to refund the payment. Please try again in a moment."),
        gettext_noop(
            "Stripe refused our credentials; could not refund the payment. Staff have to check the Stripe keys."
        ),
        gettext_noop("Stripe could not refund the payment%(code)s."),
    ),
}


def _gateway_error(asked: str, exc: stripe.StripeError) -> GatewayError:
    """`asked`: a key of _ERRORS."""
    # The full error (with Stripe's request id) goes to the log; staff and shoppers get a
    # message that names no keys or internals.
    logger.warning("Stripe request %s failed: %r (request %s)", asked, exc, getattr(exc, "request_id", None))
    unreachable, credentials, refused = _ERRORS[asked]
    if isinstance(exc, stripe.APIConnectionError):
        # No answer (the SDK already retried NETWORK_RETRIES times): the request may or may
        # not have been carried out.
        return GatewayError(unreachable, retryable=True)
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        return GatewayError(credentials)
    # " (card_declined)": Stripe's error code, the same in every language.
    code = f" ({exc.code})" if getattr(exc, "code", None) else ""
    # APIError: 5xx, or 409 (the same Idempotency-Key still in progress); RateLimitError: 429.
    # Anything else the SDK raises for an answer is a 4xx: Stripe refused, nothing was done.
    retryable = isinstance(exc, (stripe.APIError, stripe.RateLimitError))
    return GatewayError(refused, retryable=retryable, params={"code": code})


# -- reading Stripe objects ----------------------------------------------------------------


def _id(value: Any) -> str:
    """An id from a field that holds either the id or the expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _session_payment(session: dict, outcome: Outcome, reason: str = "") -> ProviderPayment | None:
    reference = (session.get("metadata") or {}).get("payment_reference") or session.get("client_reference_id") or ""
    if not reference:
        return None  # a session some other integration on the account created
    return ProviderPayment(
        outcome=outcome,
        reference=reference,
        provider_order_id=session.get("id") or "",
        provider_payment_id=_id(session.get("payment_intent")),
        amount_minor=session.get("amount_total"),
        currency=(session.get("currency") or "").upper(),
        reason=reason,
    )


def _our_session_payment(session: dict, outcome: Outcome, reason: str = "") -> ProviderPayment:
    """_session_payment for a session we looked up by the id we stored: it carries our
    payment reference (client_reference_id), so a session without one is an error here
    (GatewayError, retryable: it tells us nothing of the payment), where a webhook's would
    be someone else's session to ignore."""
    info = _session_payment(session, outcome, reason)
    if info is None:
        raise GatewayError(
            f"Stripe's Checkout Session {session.get('id')} carries no payment reference of ours.", retryable=True
        )
    return info


def _intent_failed(intent: dict) -> ProviderPayment | None:
    """payment_intent.payment_failed. On the hosted Checkout page a declined card is not the
    end: the PaymentIntent goes back to requires_payment_method and the shopper may try
    another card in the same session. Failing the payment then would release the order's
    stock under the shopper's feet, so only a cancelled PaymentIntent fails it; an open
    session that is given up on ends with checkout.session.expired."""
    reference = (intent.get("metadata") or {}).get("payment_reference") or ""
    if not reference:
        return None
    error = (intent.get("last_payment_error") or {}).get("message") or gettext_noop("Payment declined")
    return ProviderPayment(
        outcome=Outcome.FAILED if intent.get("status") == "canceled" else Outcome.PENDING,
        reference=reference,
        provider_payment_id=intent.get("id") or "",
        amount_minor=intent.get("amount"),
        currency=(intent.get("currency") or "").upper(),
        reason=error,
    )


def _refund(refund: dict) -> ProviderRefund | None:
    """A Refund object (refund.* events, an API answer, or one listed on a charge), its status
    as Stripe says (REFUND_STATUSES) with Stripe's failure_reason for a failed one."""
    status = REFUND_STATUSES.get(refund.get("status") or "")
    if status is None or not refund.get("id"):
        logger.warning("Stripe refund %s has an unknown status %r", refund.get("id"), refund.get("status"))
        return None
    reason = refund.get("failure_reason") or ""
    if status is RefundStatus.CANCELED and not reason:
        reason = "canceled at Stripe"
    return ProviderRefund(
        provider_refund_id=refund["id"],
        provider_payment_id=_id(refund.get("payment_intent")),
        amount_minor=refund.get("amount"),
        status=status,
        reason=reason,
        idempotency_key=(refund.get("metadata") or {}).get("refund_key", ""),
    )


def _refund_answer(refund: dict) -> ProviderRefund:
    """_refund for Stripe's answer to our own call (a refund made, listed or looked up): a
    status we do not know is an error here, where a webhook's is skipped. Retryable: the
    refund may well have been made, so it must stay pending, its amount held, never be
    recorded as failed."""
    info = _refund(refund)
    if info is None:
        raise GatewayError(f"Stripe reports refund {refund.get('id')} in a status we do not know.", retryable=True)
    return info


def _charge_refund(charge: dict) -> ProviderRefund | None:
    """charge.refunded: the newest refund listed on the charge. Stripe sends one event per
    refund, each with the charge's refunds newest first, so each event names its own.

    Since API version 2022-11-15 a charge no longer lists its refunds; then this event says
    only how much was refunded in all, with no refund id to record it under once and only
    once, and refund.created (which has the id) does the work: see the README."""
    refunds = ((charge.get("refunds") or {}).get("data")) or []
    if not refunds:
        return None
    newest = max(refunds, key=lambda r: r.get("created") or 0)
    if not newest.get("payment_intent"):
        newest = {**newest, "payment_intent": charge.get("payment_intent")}
    return _refund(newest)


__all__ = ["StripeGateway"]
