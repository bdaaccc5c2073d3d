"""
Payments against orders, refunds, and the webhook inbox.

Amounts are Decimal in currency units here; gateways convert to minor units (cents, paise)
at their own boundary (kernel/money.py). A provider's payment id is unique, so one provider
payment can mark its order paid at most once.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orders.models import Order


def new_reference() -> str:
    return uuid.uuid4().hex


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CAPTURED = "captured", _("Captured")
        FAILED = "failed", _("Failed")
        # The provider took the money but we could not accept it (stock gone after the
        # reservation lapsed, order already paid, amount or currency mismatch): refunded.
        REJECTED = "rejected", _("Rejected")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=20)
    # Ours, made when the shopper starts paying; passed to the provider as metadata.
    reference = models.CharField(max_length=64, unique=True, default=new_reference)
    # The provider's object the shopper pays through: Stripe Checkout Session id, Razorpay
    # order id; for the dummy gateway, the reference again.
    provider_order_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # The provider's id of the money movement once known: Stripe PaymentIntent, Razorpay payment.
    provider_payment_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="payment_status_created_idx")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.provider_order_id or self.reference} ({self.status})"


class Refund(models.Model):
    """One refund: ours (staff, a cancellation, the automatic refund of money we could not
    keep), made as an intent with its idempotency key before the provider is called, or one
    made at the provider (its dashboard) that a webhook reported.

    Lifecycle (Stripe's refund statuses, https://docs.stripe.com/api/refunds/object#refund_object-status;
    Razorpay's refund.processed / refund.failed): pending → succeeded | failed | canceled.
    Only a succeeded refund counts towards Payment.refunded_amount and the order's refunded
    total; failed and canceled are final. Stripe may still fail a refund that succeeded
    (https://docs.stripe.com/refunds#failed-refunds): what it counted is then taken back."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Sent as the provider's idempotency key: a retried refund request never refunds twice.
    idempotency_key = models.CharField(max_length=64, unique=True, default=new_reference)
    provider_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    # Order line id → units to put back on hand once the refund succeeds (JSON keys are text).
    restock = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The provider's reason for a failed or canceled refund, or why the last submission got
    # no answer (the refund is then still pending and is submitted again).
    error = models.TextField(blank=True)
    # Times we sent this refund to the provider (always with idempotency_key).
    attempts = models.PositiveIntegerField(default=0)
    # Set while one process is sending the refund to the provider: nobody else sends it then
    # (payments.services.refund_submit). A process that died mid-call holds it only until then.
    submitting_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0")]
        indexes = [
            # Refunds still waiting for the provider's first answer: what the beat resubmits.
            models.Index(
                fields=["updated_at"],
                name="refund_unanswered_idx",
                condition=Q(status="pending", provider_refund_id__isnull=True),
            ),
            # Refunds the provider accepted and has not ended yet: what reconciliation asks
            # about (payments.services.payments_reconcile), a handful among all refunds ever.
            models.Index(
                fields=["created_at"],
                name="refund_accepted_pending_idx",
                condition=Q(status="pending", provider_refund_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} {self.currency} of {self.payment} ({self.status})"


class WebhookEvent(models.Model):
    """The inbox: every verified provider event, stored once, processed by a Celery task.

    A refund event about a payment we cannot match yet (providers guarantee no order: the
    refund may arrive before the capture it refunds) waits: it is retried with backoff, and
    capturing that payment queues it again (payments.services.payment_capture)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed (will retry)")
        WAITING = "waiting", _("Waiting (for the payment it refers to)")
        IGNORED = "ignored", _("Ignored (not an event we act on)")

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    # For refund events: the provider's payment id the refund refers to (Stripe PaymentIntent,
    # Razorpay payment), read when the event is stored, so that capturing that payment finds
    # the events waiting for it without scanning payloads.
    provider_payment_id = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_unique"),
        ]
        indexes = [
            models.Index(
                fields=["provider", "provider_payment_id"],
                name="webhook_event_payment_idx",
                condition=~Q(provider_payment_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"
