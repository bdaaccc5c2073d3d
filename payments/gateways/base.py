"""The small interface every payment gateway implements, and the facts it reports.

A gateway turns a pending Payment into something the shopper can pay through (a redirect or
an embedded checkout), verifies and reads the provider's webhooks, answers "what happened to
this payment?" and "what happened to this refund?" for reconciliation, and refunds. It speaks
minor units to its provider; what it reports back to payments.services is in minor units too
(ProviderPayment.amount_minor, ProviderRefund.amount_minor), and services convert with
kernel.money.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext

from kernel.errors import DomainError

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.utils.functional import _StrOrPromise

    from payments.models import Payment, Refund


class GatewayError(DomainError):
    """The provider refused or could not be reached; the message is safe to show to staff
    and shoppers (no keys, URLs or tracebacks).

    `text` is a whole English sentence, marked with gettext_noop by the raiser, with
    %(name)s placeholders filled from `params` (ids, the provider's own words): `english` is
    it filled in, what is stored (Payment.error, Refund.error) and logged; `message` is it
    translated into the active language when read (the page's, the API client's).

    `retryable` is True when we cannot tell whether the provider did what we asked (no
    answer: a connection error or timeout; an error on its side: 5xx; "come back later": 409
    idempotency key in use, 429), so the same request, with the same idempotency key, may be
    sent again. False for a definite refusal (4xx: invalid request, card error, bad keys):
    nothing was done and sending it again would be refused again."""

    code = "gateway_error"
    http_status = HTTPStatus.BAD_GATEWAY  # not the client's fault; try again later

    def __init__(self, text: str, *, retryable: bool = False, params: Mapping[str, object] | None = None):
        self.text = text
        self.params = dict(params or {})
        self.retryable = retryable
        super().__init__(self.english)

    @property
    def english(self) -> str:
        return self.text % self.params if self.params else self.text

    @property
    def message(self) -> str:
        translated = gettext(self.text)
        return translated % self.params if self.params else translated


class InvalidSignature(DomainError):
    """A webhook or callback whose signature does not verify: answer 400, store nothing."""

    code = "invalid_signature"

    @property
    def message(self) -> str:
        return str(self)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True)
class ProviderPayment:
    """What the provider says about one payment. `amount_minor` is an integer in minor units."""

    outcome: Outcome
    reference: str = ""  # our Payment.reference, when the provider echoes it back
    provider_order_id: str = ""
    provider_payment_id: str = ""
    amount_minor: int | None = None
    currency: str = ""
    reason: str = ""


class RefundStatus(StrEnum):
    """A refund's status as the provider reports it (Stripe: pending and requires_action →
    PENDING; Razorpay: pending → PENDING, processed → SUCCEEDED, failed → FAILED)."""

    PENDING = "pending"  # the provider is still processing it: no money has gone back yet
    SUCCEEDED = "succeeded"  # the money went back
    FAILED = "failed"  # the provider gave up: no money went back (or it came back to us)
    CANCELED = "canceled"  # cancelled before it was made (Stripe): no money went back


@dataclass(frozen=True)
class ProviderRefund:
    """A refund the provider reports (webhook or API answer). `amount_minor` in minor units;
    `reason` is the provider's reason for a failed or canceled refund."""

    provider_refund_id: str
    provider_payment_id: str = ""
    amount_minor: int | None = None
    status: RefundStatus = RefundStatus.SUCCEEDED
    reason: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True)
class InboxEvent:
    """A verified webhook, ready for the inbox: unique by (provider, event_id)."""

    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StartAction:
    """How the shopper goes on paying: a redirect, or a page of ours rendered with context."""

    redirect_url: str = ""
    template: str = ""
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReturnUrls:
    """Absolute URLs of ours for one payment, built by the web layer:
    build(url name, payment reference) -> "https://shop.example.com/payments/return/<ref>/"."""

    build: Callable[[str, str], str]

    @classmethod
    def from_request(cls, request: HttpRequest) -> ReturnUrls:
        """Our URLs on the host `request` came in on (the pages and the API alike)."""
        return cls(build=lambda name, reference: request.build_absolute_uri(reverse(name, args=[reference])))

    def success(self, reference: str) -> str:
        """Where the provider sends the shopper after paying."""
        return self.build("payments:return", reference)

    def cancel(self, reference: str) -> str:
        """Where the provider sends a shopper who gave up."""
        return self.build("payments:cancel", reference)

    def callback(self, reference: str) -> str:
        """Where an embedded checkout (Razorpay Checkout.js) posts its signed result."""
        return self.build("payments:callback", reference)

    def abandon(self, reference: str) -> str:
        """Where an embedded checkout posts that the shopper closed it without paying."""
        return self.build("payments:abandon", reference)


class Gateway:
    name: str = ""
    # What the shopper reads on the payment page (translated lazily, in the page's language).
    label: _StrOrPromise = ""

    def check_configuration(self) -> list[str]:
        """Problems with the settings this gateway needs (empty when fine)."""
        return []

    def start(self, payment: Payment, urls: ReturnUrls) -> StartAction:
        """Creates the provider-side object for a pending payment; sets
        payment.provider_order_id (and checkout_url) without saving. Raises GatewayError."""
        raise NotImplementedError

    def resume(self, payment: Payment, urls: ReturnUrls) -> StartAction:
        """How to continue an already started, still pending payment."""
        return StartAction(redirect_url=payment.checkout_url) if payment.checkout_url else self.start(payment, urls)

    def verify_webhook(self, request: HttpRequest) -> InboxEvent:
        """Verifies the signature over the raw body. Raises InvalidSignature."""
        raise InvalidSignature(f"{self.name} has no webhooks")

    def read_event(self, event: InboxEvent) -> ProviderPayment | ProviderRefund | None:
        """What a stored event says; None for events we do not act on."""
        return None

    def verify_callback(self, payment: Payment, data) -> ProviderPayment:
        """Verifies a client-side callback's signature (Razorpay). Raises InvalidSignature."""
        raise InvalidSignature(f"{self.name} has no callbacks")

    def fetch(self, payment: Payment) -> ProviderPayment:
        """Asks the provider about `payment` now (reconciliation). Raises GatewayError."""
        raise GatewayError(f"{self.name} cannot be asked about payments")

    def fetch_refund(self, refund: Refund) -> ProviderRefund:
        """Asks the provider about `refund` now (reconciliation of a refund whose refund.*
        webhook was lost), by the provider refund id it answered with
        (refund.provider_refund_id), and reports its status exactly as the refund webhooks do
        (`amount_minor` in minor units). Raises GatewayError when the provider cannot be asked
        (no answer, refused, the refund unknown to it)."""
        raise GatewayError(f"{self.name} cannot be asked about refunds")

    def refund(self, refund: Refund, provider_payment_id: str, amount_minor: int) -> ProviderRefund:
        """Refunds `amount_minor` of a captured payment, with refund.idempotency_key as the
        provider's idempotency key, and reports the provider's answer as it is (a refund it
        made pending or failed at once is reported so, not raised). refund.attempts > 1 means
        an earlier request may have reached the provider. Raises GatewayError (see its
        `retryable`) when the provider refuses or gives no answer."""
        raise GatewayError(f"{self.name} cannot refund")
