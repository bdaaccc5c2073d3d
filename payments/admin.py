"""Payments in the back office. Payments, refunds and webhook events are read-only: their
status changes only through payments.services, when the provider answers (webhook, return
page or reconciliation). Staff act through doors that call services:

- the "Replay selected events" action of the webhook inbox: webhook_replay of every event
  that was not processed (failed, ignored, waiting, pending);
- the "Send selected pending refunds to the provider again" action of the refunds list:
  refund_submit of refunds the provider has not answered (same row, same key);
- the "Refund" page of a payment and the "Cancel order" page of an order, flows that reach
  orders and inventory: the back office adds them (backoffice/payments.py).
"""

from collections import Counter

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline

from .gateways import GatewayError
from .models import Payment, Refund, WebhookEvent
from .services import refund_submit, webhook_replay

# Who may refund (and send a pending refund again): holders of "add refund". RefundAdmin
# itself never adds rows (read-only); the permission names the capability, as inventory's
# "change stock item" does for adjusting.
REFUND_PERMISSION = "payments.add_refund"
# Who may replay failed webhook events.
REPLAY_PERMISSION = "payments.change_webhookevent"


def _order_link(order) -> str:
    return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.number)


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    # What fits the payment page's width: the currency is the payment's (shown above it), and
    # the provider's id and the attempts are on each refund's own page.
    fields = ("created_at", "amount", "status", "restock", "reason", "actor", "error")
    show_change_link = True
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/payments/payment/change_form.html"
    list_display = (
        "reference",
        "order_link",
        "gateway",
        "provider_order_id",
        "provider_payment_id",
        "amount",
        "refunded_amount",
        "currency",
        "status",
        "created_at",
    )
    list_select_related = ("order",)
    list_filter = ("status", "gateway", "created_at")
    search_fields = ("=reference", "=provider_order_id", "=provider_payment_id", "order__number", "order__email")
    date_hierarchy = "created_at"
    fields = (
        "reference",
        "order_link",
        "gateway",
        ("provider_order_id", "provider_payment_id"),
        ("amount", "refunded_amount", "currency"),
        "status",
        "error",
        "checkout_url",
        ("created_at", "updated_at"),
    )
    readonly_fields = (
        "reference",
        "order_link",
        "gateway",
        "provider_order_id",
        "provider_payment_id",
        "amount",
        "refunded_amount",
        "currency",
        "status",
        "error",
        "checkout_url",
        "created_at",
        "updated_at",
    )
    inlines = (RefundInline,)

    @admin.display(description="order", ordering="order__number")
    def order_link(self, payment: Payment) -> str:
        return _order_link(payment.order)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "payment_link",
        "order_link",
        "amount",
        "currency",
        "status",
        "attempts",
        "restock",
        "actor",
        "reason",
    )
    list_select_related = ("payment__order", "actor")
    list_filter = ("status", "restock", "created_at")
    search_fields = ("=provider_refund_id", "=payment__reference", "payment__order__number", "reason")
    date_hierarchy = "created_at"
    actions = ("send_again",)
    fields = (
        "payment_link",
        "order_link",
        ("amount", "currency"),
        "status",
        "reason",
        "restock",
        "actor",
        ("provider_refund_id", "idempotency_key"),
        ("attempts", "error"),
        ("created_at", "updated_at"),
    )
    readonly_fields = (
        "payment_link",
        "order_link",
        "amount",
        "currency",
        "status",
        "reason",
        "restock",
        "actor",
        "provider_refund_id",
        "idempotency_key",
        "attempts",
        "error",
        "created_at",
        "updated_at",
    )

    @admin.display(description="payment", ordering="payment__reference")
    def payment_link(self, refund: Refund) -> str:
        url = reverse("admin:payments_payment_change", args=[refund.payment_id])
        return format_html('<a href="{}">{}</a>', url, refund.payment.reference)

    @admin.display(description="order", ordering="payment__order__number")
    def order_link(self, refund: Refund) -> str:
        return _order_link(refund.payment.order)

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFUND_PERMISSION)

    @admin.action(description="Send selected pending refunds to the provider again", permissions=["send"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        # What the beat does every RECONCILE_INTERVAL_MINUTES (refunds_resubmit), now: for a
        # refund the provider has not answered (a timeout, a task waiting for a worker). The
        # same row and key are sent, so it is made once; one being sent right now is skipped.
        sent: Counter[str] = Counter()
        for refund in queryset.filter(status=Refund.Status.PENDING, provider_refund_id__isnull=True).order_by("pk"):
            try:
                sent[refund_submit(refund=refund).status] += 1
            except GatewayError as exc:
                sent[Refund.Status.FAILED] += 1
                self.message_user(request, f"Refund {refund.pk}: {exc.message}", messages.ERROR)
        skipped = queryset.count() - sent.total()
        if sent:
            self.message_user(request, f"Sent {sent.total()} refund(s) again: now {_counts(sent)}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} refund(s) already had the provider's answer and were left as they are.",
                messages.INFO,
            )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "received_at",
        "provider",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "error_summary",
        "processed_at",
    )
    list_filter = ("status", "provider", "event_type")
    search_fields = ("=event_id", "=provider_payment_id")
    date_hierarchy = "received_at"
    fields = (
        ("provider", "event_type"),
        ("event_id", "provider_payment_id"),
        ("status", "attempts"),
        "error",
        ("received_at", "processed_at"),
        "payload",
    )
    readonly_fields = (
        "provider",
        "event_type",
        "event_id",
        "provider_payment_id",
        "status",
        "attempts",
        "error",
        "received_at",
        "processed_at",
        "payload",
    )
    actions = ("replay_events",)

    @admin.display(description="error")
    def error_summary(self, event: WebhookEvent) -> str:
        return event.error.splitlines()[0][:120] if event.error else ""

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        # Every event that has not done its work: failed, ignored (nothing we acted on then,
        # perhaps something now), waiting (for the payment it refunds), pending (its queueing
        # may have been lost). A processed one is left alone: replaying it would change nothing.
        was: Counter[str] = Counter()
        left = 0
        for event in queryset.order_by("pk"):
            status = webhook_replay(event=event)
            if status is None:
                left += 1
            else:
                was[status] += 1
        if was:
            self.message_user(
                request,
                f"Queued {was.total()} event(s) for processing again: {_counts(was)}. The list shows how each ends.",
                messages.SUCCESS,
            )
        if left:
            self.message_user(
                request, f"{left} processed event(s) were left as they are: they have done their work.", messages.INFO
            )


def _counts(statuses: Counter) -> str:
    """Counter({"failed": 2, "waiting": 1}) → "2 failed, 1 waiting"."""
    return ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
