"""Payments in the back office. Payments, refunds and webhook events are read-only: their
status changes only through payments.services, when the provider answers (webhook, return
page or reconciliation). Staff act through two doors that call services:

- the "Refund" page of a captured (or rejected) payment: payment_refund, with an optional
  restock of the order's lines; each form shown carries its own idempotency key, so posting
  it twice makes one refund;
- the "Replay selected events" action of the webhook inbox: webhook_replay of every event
  that was not processed (failed, ignored, waiting, pending);
- the "Send selected pending refunds to the provider again" action of the refunds list:
  refund_submit of refunds the provider has not answered (same row, same key);
- the "Cancel order" page of an order (linked from the order's page and its "Cancel (and
  refund if paid)" action): order_cancel_and_refund. It lives here because orders cannot
  refund: payments is the higher app.
"""
from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from inventory.exceptions import StockBusy
from kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline
from orders.forms import OrderCancelForm
from orders.models import Order
from orders.services import OrderStateError, order_can_cancel

from .forms import RefundForm
from .gateways import GatewayError
from .models import Payment, Refund, WebhookEvent
from .selectors import order_refundable_payments, payment_refundable_amount, refund_for_key
from .services import PaymentError, order_cancel_and_refund, payment_refund, refund_submit, webhook_replay

# Who may refund: holders of "add refund". RefundAdmin itself never adds rows (read-only);
# the permission names the capability, as inventory's "change stock item" does for adjusting.
REFUND_PERMISSION = "payments.add_refund"
# Who may replay failed webhook events.
REPLAY_PERMISSION = "payments.change_webhookevent"
# Who may cancel an order: holders of "change order" (and of REFUND_PERMISSION when the
# cancellation gives money back).
CANCEL_PERMISSION = "orders.change_order"

REFUNDABLE = (Payment.Status.CAPTURED, Payment.Status.REJECTED)


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

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFUND_PERMISSION)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # Before the default URLs: "<path:object_id>/" would swallow ".../refund/".
        return [
            path("<int:object_id>/refund/", self.admin_site.admin_view(self.refund_view), name="%s_%s_refund" % info),
            path(
                "cancel-order/<int:order_id>/",
                self.admin_site.admin_view(self.cancel_order_view),
                name="%s_%s_cancel_order" % info,
            ),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        can_refund = (
            payment is not None
            and payment.status in REFUNDABLE
            and self.has_refund_permission(request)
            and payment_refundable_amount(payment) > 0
        )
        extra_context = {**(extra_context or {}), "can_refund": can_refund}
        return super().change_view(request, object_id, form_url, extra_context)

    def _change_url(self, payment: Payment) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[payment.pk])

    def refund_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        payment = self.get_object(request, str(object_id))
        if payment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))
        if not self.has_refund_permission(request):
            raise PermissionDenied
        made = refund_for_key(payment=payment, key=request.POST.get("intent", "")) if request.method == "POST" else None
        if made is not None:
            # This form was posted before (a double click, a resubmission after a timeout):
            # it made this refund; say where it stands rather than make a second one.
            self.message_user(request, self._refund_message(made, made.restock), self._refund_level(made))
            return HttpResponseRedirect(self._change_url(payment))
        left = payment_refundable_amount(payment)
        if payment.status not in REFUNDABLE or left <= 0:
            self.message_user(
                request,
                f"Payment {payment.reference} is {payment.get_status_display().lower()} with "
                f"{left} {payment.currency} left to refund: there is nothing to refund.",
                messages.ERROR,
            )
            return HttpResponseRedirect(self._change_url(payment))
        form = RefundForm(request.POST or None, payment=payment, left=left)
        if request.method == "POST" and form.is_valid():
            try:
                refund = payment_refund(
                    payment=payment,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    restock=form.restock,
                    key=form.cleaned_data["intent"],
                )
            except (PaymentError, GatewayError, StockBusy) as exc:
                # The service re-checks under the lock (another refund may have landed since
                # this form was shown) and the provider may refuse: a form error, never a 500.
                form.add_error(None, exc.message)
            else:
                self.message_user(request, self._refund_message(refund, form.restock), self._refund_level(refund))
                return HttpResponseRedirect(self._change_url(payment))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund payment {payment.reference}",
            "subtitle": str(payment),
            "opts": self.opts,
            "original": payment,
            "order": payment.order,
            "left": left,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)

    def cancel_order_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        """Staff cancel an order with a reason: an unpaid one releases its reservation, a
        paid one that has not shipped restocks and is refunded in full."""
        order_opts = Order._meta
        order = Order.objects.filter(pk=order_id).first()
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, order_opts, str(order_id))
        refundable = order_refundable_payments(order)
        if not request.user.has_perm(CANCEL_PERMISSION) or (refundable and not self.has_refund_permission(request)):
            raise PermissionDenied
        order_url = reverse("admin:orders_order_change", args=[order.pk])
        if not order_can_cancel(order):
            self.message_user(
                request,
                f"Order {order.number} is {order.get_status_display().lower()}: it can no longer be cancelled.",
                messages.ERROR,
            )
            return HttpResponseRedirect(order_url)
        form = OrderCancelForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                cancellation = order_cancel_and_refund(order=order, actor=request.user, reason=form.cleaned_data["reason"])
            except (OrderStateError, StockBusy) as exc:
                # Decided again under the order's lock (it may have shipped, or been paid,
                # since this page was shown): a form error, never a 500.
                form.add_error(None, exc.message)
            else:
                self._cancel_messages(request, cancellation)
                return HttpResponseRedirect(order_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Cancel order {order.number}",
            "subtitle": str(order),
            "opts": order_opts,
            "original": order,
            # What the cancellation puts back on hand (a paid order; an unpaid one releases).
            "restock": [
                (line, line.quantity - line.restocked_quantity)
                for line in order.lines.all()
                if order.status != Order.Status.PENDING_PAYMENT and line.quantity > line.restocked_quantity
            ],
            "refundable": refundable,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/payments/cancel_order.html", context)

    def _cancel_messages(self, request: HttpRequest, cancellation) -> None:
        order = cancellation.order
        refunded = f"; refunded {cancellation.refunded} {order.currency}" if cancellation.refunds else ""
        self.message_user(request, f"Cancelled order {order.number}{refunded}.", messages.SUCCESS)
        if any(refund.status == Refund.Status.PENDING and refund.error for refund in cancellation.refunds):
            self.message_user(
                request,
                "The payment provider could not be reached for a refund; it stays pending and is sent again "
                "automatically with the same idempotency key.",
                messages.WARNING,
            )
        elif any(refund.status == Refund.Status.PENDING for refund in cancellation.refunds):
            self.message_user(
                request, "The provider has not confirmed every refund yet; each is recorded when it does.", messages.INFO
            )
        for error in cancellation.refund_errors:
            self.message_user(
                request,
                f"Refund failed: {error}. The order is flagged; refund it on the payment's page.",
                messages.ERROR,
            )

    @staticmethod
    def _refund_message(refund: Refund, restock: dict) -> str:
        units = sum(int(n) for n in restock.values())
        money = f"{refund.amount} {refund.currency}"
        if refund.status == Refund.Status.SUCCEEDED:
            restocked = f"; {units} unit(s) back on hand" if units else ""
            return f"Refunded {money}{restocked}."
        if refund.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
            return f"The refund of {money} {refund.get_status_display().lower()}: {refund.error}"
        if refund.error and not refund.provider_refund_id:
            return (
                f"The refund of {money} is pending: {refund.error} It is sent again automatically with the "
                "same idempotency key, so it is made once; there is nothing more to do."
            )
        return f"Refund of {money} requested; the provider has not confirmed it yet. It is recorded when it does."

    @staticmethod
    def _refund_level(refund: Refund) -> int:
        if refund.status == Refund.Status.SUCCEEDED:
            return messages.SUCCESS
        if refund.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
            return messages.ERROR
        return messages.WARNING if refund.error else messages.INFO


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at", "payment_link", "order_link", "amount", "currency", "status", "attempts", "restock", "actor", "reason",
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
                request, f"{skipped} refund(s) already had the provider's answer and were left as they are.", messages.INFO
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
        "provider", "event_type", "event_id", "provider_payment_id", "status", "attempts", "error", "received_at",
        "processed_at", "payload",
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
            self.message_user(request, f"{left} processed event(s) were left as they are: they have done their work.", messages.INFO)


def _counts(statuses: Counter) -> str:
    """Counter({"failed": 2, "waiting": 1}) → "2 failed, 1 waiting"."""
    return ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
