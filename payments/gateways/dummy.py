"""The local test gateway: a page of ours where the shopper chooses "pay" or "fail". No money
moves, so refunds always succeed. Refused in production settings."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from kernel.money import to_minor

from .base import Gateway, InboxEvent, Outcome, ProviderPayment, ProviderRefund, RefundStatus, ReturnUrls, StartAction


class DummyGateway(Gateway):
    name = "dummy"
    label = _("Test payment (no real money)")

    def check_configuration(self) -> list[str]:
        if getattr(settings, "IS_PRODUCTION", False):
            return ["the dummy gateway takes no money and cannot be enabled in production"]
        return []

    def start(self, payment, urls: ReturnUrls) -> StartAction:
        payment.provider_order_id = payment.reference
        payment.checkout_url = reverse("payments:dummy", args=[payment.reference])
        return StartAction(redirect_url=payment.checkout_url)

    def read_event(self, event: InboxEvent) -> ProviderPayment | None:
        """The dummy page's outcome, stored in the inbox like a provider webhook."""
        outcomes = {"payment.succeeded": Outcome.SUCCEEDED, "payment.failed": Outcome.FAILED}
        if event.event_type not in outcomes:
            return None
        currency = event.payload["currency"]
        return ProviderPayment(
            outcome=outcomes[event.event_type],
            reference=event.payload["reference"],
            provider_payment_id=event.payload["reference"],
            amount_minor=to_minor(Decimal(event.payload["amount"]), currency),
            currency=currency,
            # Stored in English; the failed-payment page translates it when it shows it.
            reason=gettext_noop("Declined on the test payment page"),
        )

    def fetch(self, payment) -> ProviderPayment:
        # Nothing happens at a provider: a dummy payment stays as the shopper left it.
        return ProviderPayment(outcome=Outcome.PENDING, reference=payment.reference)

    def refund(self, refund, provider_payment_id: str, amount_minor: int) -> ProviderRefund:
        return ProviderRefund(
            provider_refund_id=f"dummy_refund_{refund.idempotency_key}",
            provider_payment_id=provider_payment_id,
            amount_minor=amount_minor,
            status=RefundStatus.SUCCEEDED,
            idempotency_key=refund.idempotency_key,
        )

    def fetch_refund(self, refund) -> ProviderRefund:
        # No money moves: a dummy refund succeeded the moment it was made (refund() above).
        return ProviderRefund(
            provider_refund_id=refund.provider_refund_id or f"dummy_refund_{refund.idempotency_key}",
            provider_payment_id=refund.payment.provider_payment_id or "",
            amount_minor=to_minor(refund.amount, refund.currency),
            status=RefundStatus.SUCCEEDED,
            idempotency_key=refund.idempotency_key,
        )
