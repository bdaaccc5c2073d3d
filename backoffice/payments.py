"""The payment pages of the back office that reach orders and inventory, added to payments'
own PaymentAdmin (payments/admin.py):

- the "Refund" page of a captured (or rejected) payment: payment_refund, with an optional
  restock of the order's lines; each form shown carries its own idempotency key, so posting
  it twice makes one refund;
- the "Cancel order" page of an order (linked from the order's page and its "Cancel (and
  refund if paid)" action): order_cancel_and_refund. Under the payment admin's URLs
  (admin:payments_payment_cancel_order), as a cancellation that gives money back is a
  payments flow.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from inventory.exceptions import StockBusy
from orders.forms import OrderCancelForm
from orders.models import Order
from orders.services import OrderStateError, order_can_cancel
from payments import admin as payments_admin
from payments.gateways import GatewayError
from payments.models import Payment, Refund
from payments.selectors import order_refundable_payments, payment_refundable_amount, refund_for_key
from payments.services import PaymentError, order_cancel_and_refund, payment_refund

from .forms import RefundForm

# Who may cancel an order: holders of "change order" (and of REFUND_PERMISSION when the
# cancellation gives money back).
CANCEL_PERMISSION = "orders.change_order"
REFUND_PERMISSION = payments_admin.REFUND_PERMISSION

REFUNDABLE = (Payment.Status.CAPTURED, Payment.Status.REJECTED)


class PaymentAdmin(payments_admin.PaymentAdmin):
    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFUND_PERMISSION)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        # Before the default URLs: "<path:object_id>/" would swallow ".../refund/".
        return [
            path("<int:object_id>/refund/", self.admin_site.admin_view(self.refund_view), name=f"{prefix}_refund"),
            path(
                "cancel-order/<int:order_id>/",
                self.admin_site.admin_view(self.cancel_order_view),
                name=f"{prefix}_cancel_order",
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
                # The status's value ("pending", "failed"): these English sentences for staff
                # are not translated, and a translated label inside one would mix languages.
                f"Payment {payment.reference} is {payment.status} with "
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
                cancellation = order_cancel_and_refund(
                    order=order, actor=request.user, reason=form.cleaned_data["reason"]
                )
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
                request,
                "The provider has not confirmed every refund yet; each is recorded when it does.",
                messages.INFO,
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
            return f"The refund of {money} {refund.status}: {refund.error}"  # "failed", "canceled"
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
