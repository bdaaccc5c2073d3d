"""Payment pages and endpoints. Thin: each validates, calls one service, turns errors into a
message or a 4xx."""

import logging
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inventory.exceptions import StockBusy
from kernel.auth import user_or_none
from kernel.money import format_money
from orders.forms import OrderCancelForm
from orders.models import NOTE_CANCELLED_BY_CUSTOMER, Order
from orders.services import OrderStateError, order_expire_if_due
from payments.gateways import GatewayError, InvalidSignature, enabled_gateways, get_gateway
from payments.gateways.base import InboxEvent, ReturnUrls
from payments.models import Payment, WebhookEvent
from payments.selectors import order_last_failed_payment
from payments.services import (
    PaymentError,
    order_cancel_and_refund,
    payment_apply,
    payment_fail,
    payment_start,
    webhook_process,
    webhook_receive,
)
from payments.tasks import process_webhook_event
from storefront.orders.lines import order_lines_for_display
from storefront.session import SESSION_JUST_PAID

logger = logging.getLogger(__name__)


def pay(request, token: str):
    """The payment page: the order, a countdown to its reservation's expiry, the gateways.
    Reached by the order's unguessable access token, so guests need no account."""
    order = get_object_or_404(Order, access_token=token)
    if order.imported_at is not None:  # history from the previous shop: nothing to pay here
        return redirect(_order_page(request, order))
    order = order_expire_if_due(order=order)
    if order.status == Order.Status.PAID:
        return redirect(order.get_guest_url())
    if request.method == "POST" and order.status == Order.Status.PENDING_PAYMENT:
        try:
            payment, action = payment_start(
                order=order, gateway=request.POST.get("gateway", ""), urls=ReturnUrls.from_request(request)
            )
        except (PaymentError, GatewayError) as exc:
            messages.error(request, exc.message)
            return redirect("payments:pay", token=token)
        if action.redirect_url:
            return redirect(action.redirect_url)
        return render(
            request,
            action.template,
            {"order": order, "lines": order_lines_for_display(order), "payment": payment, **action.context},
        )
    return render(
        request,
        "payments/pay.html",
        {"order": order, "lines": order_lines_for_display(order), "gateways": enabled_gateways()},
    )


def failed(request, token: str):
    """Where a failed payment lands the shopper: what happened, and while the order's
    reservation lasts, "Try again" (a new payment of the same order through the payment
    page's form: payment_start, same order, same reservation); once it has lapsed, the way
    back to the cart with the order's items put back in it (cart:restore)."""
    order = get_object_or_404(Order, access_token=token)
    if order.imported_at is not None:
        return redirect(_order_page(request, order))
    order = order_expire_if_due(order=order)
    if order.status == Order.Status.PAID:
        return redirect(order.get_guest_url())
    payment = order_last_failed_payment(order)
    gateways = enabled_gateways()
    last = payment.gateway if payment and any(g.name == payment.gateway for g in gateways) else ""
    return render(
        request,
        "payments/failed.html",
        {
            "order": order,
            "lines": order_lines_for_display(order),
            "payment": payment,
            "gateways": gateways,
            "last_gateway": last or (gateways[0].name if gateways else ""),
            "can_retry": order.status == Order.Status.PENDING_PAYMENT,
        },
    )


@require_POST
def order_cancel(request, token: str):
    """The shopper's "Cancel order" button on their order page (signed in, or through the
    guest link). Reached by the order's unguessable access token, as the payment page is: a
    wrong token is a 404. An unpaid order is cancelled; a paid one that has not shipped is
    cancelled and refunded (order_cancel_and_refund). A shipped one is refused with a message.
    """
    order = get_object_or_404(Order, access_token=token)
    form = OrderCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please tell us why you are cancelling (at most 200 characters)."))
        return redirect(_order_page(request, order))
    try:
        cancellation = order_cancel_and_refund(
            order=order,
            actor=user_or_none(request.user),
            reason=form.cleaned_data["reason"],
            reason_code=NOTE_CANCELLED_BY_CUSTOMER,
        )
    except (OrderStateError, StockBusy) as exc:
        messages.error(request, exc.message)
        return redirect(_order_page(request, order))
    if cancellation.refund_errors:
        messages.warning(
            request,
            _(
                "Order %(number)s is cancelled. We could not refund your payment right away; our staff "
                "have been told and will refund it."
            )
            % {"number": order.number},
        )
    elif cancellation.refunds:
        messages.success(
            request,
            _("Order %(number)s is cancelled. We are refunding %(amount)s to your payment method.")
            % {"number": order.number, "amount": format_money(cancellation.refunded, order.currency)},
        )
    else:
        messages.success(request, _("Order %(number)s is cancelled.") % {"number": order.number})
    return redirect(_order_page(request, order))


def _order_page(request, order: Order) -> str:
    # The owner's page goes through the login; anyone else came with the guest link.
    if request.user.is_authenticated and order.user_id == request.user.pk:
        return order.get_absolute_url()
    return order.get_guest_url()


def _payment_or_404(reference: str, **filters) -> Payment:
    return get_object_or_404(Payment.objects.select_related("order"), reference=reference, **filters)


def provider_return(request, reference: str):
    """Where the provider sends the shopper back after paying: ask it what happened (never
    trust the query string), apply that, show the order."""
    payment = _payment_or_404(reference)
    if payment.status == Payment.Status.PENDING:
        try:
            payment_apply(gateway=payment.gateway, info=get_gateway(payment.gateway).fetch(payment))
        except (GatewayError, PaymentError) as exc:
            logger.warning("return page could not confirm %s: %s", reference, exc)
        except StockBusy as exc:
            return render(request, "checkout/busy.html", {"message": exc.message}, status=409)
    return _show_result(request, payment)


def provider_cancel(request, reference: str):
    payment = _payment_or_404(reference)
    messages.info(request, _("Payment cancelled. Your items are still reserved until the countdown ends."))
    return redirect("payments:pay", token=payment.order.access_token)


@require_POST
def provider_abandon(request, reference: str):
    """An embedded checkout the shopper closed without paying (Razorpay Checkout.js's
    modal.ondismiss posts here through our page's form, with its CSRF token): the payment
    fails, and the shopper lands on the failed-payment page, where they may try again while
    the order's reservation lasts. A payment that was captured meanwhile stays captured
    (payment_fail never un-pays)."""
    payment = _payment_or_404(reference)
    try:
        # Stored in English (staff read it too); payments/failed.html translates it for the shopper.
        payment_fail(payment=payment, reason=gettext_noop("The shopper closed the payment window"))
    except StockBusy as exc:
        return render(request, "checkout/busy.html", {"message": exc.message}, status=409)
    return _show_result(request, payment)


@require_POST
def provider_callback(request, reference: str):
    """A gateway's client-side callback (Razorpay Checkout.js posts its signed result here)."""
    payment = _payment_or_404(reference)
    gateway = get_gateway(payment.gateway)
    try:
        info = gateway.verify_callback(payment, request.POST)
    except InvalidSignature:
        order = order_expire_if_due(order=payment.order)
        return render(
            request,
            "payments/failed.html",
            {
                "order": order,
                "message": _("We could not verify that payment."),
                "gateways": enabled_gateways(),
                "last_gateway": payment.gateway,
                "can_retry": order.status == Order.Status.PENDING_PAYMENT,
            },
            status=400,
        )
    try:
        payment_apply(gateway=payment.gateway, info=info)
    except StockBusy as exc:
        return render(request, "checkout/busy.html", {"message": exc.message}, status=409)
    return _show_result(request, payment)


def _rejected_message(order: Order) -> str:
    """Why we did not keep a payment, in the shopper's language: one whole sentence by what
    became of their order (payment.error says it in English, for staff)."""
    if order.paid_at is not None:
        return _(
            "We could not accept this payment, as your order was already paid by another payment: we are refunding it."
        )
    if order.status == Order.Status.EXPIRED:
        return _(
            "We could not accept this payment, as your reservation had run out and the items were sold meanwhile: "
            "we are refunding it."
        )
    if order.status == Order.Status.CANCELLED:
        return _("We could not accept this payment, as your order had been cancelled: we are refunding it.")
    return _("We could not accept this payment and are refunding it.")


def _show_result(request, payment: Payment):
    # Both read again, as processing left them: one query.
    payment = Payment.objects.select_related("order").get(pk=payment.pk)
    order = payment.order
    if payment.status == Payment.Status.CAPTURED:
        # The order page says thank you, once, for the order just paid.
        request.session[SESSION_JUST_PAID] = order.number
    elif payment.status == Payment.Status.REJECTED:
        messages.error(request, _rejected_message(order))
    elif payment.status == Payment.Status.FAILED and order.status == Order.Status.PAID:
        # Another payment paid the order: nothing to try again.
        messages.error(request, _("This payment did not go through, but your order was paid by another payment."))
    elif payment.status == Payment.Status.FAILED:
        # Pending still (try again while the reservation lasts), or lapsed (back to the cart).
        return redirect("payments:failed", token=order.access_token)
    else:
        messages.info(request, _("We are waiting for the payment provider to confirm your payment."))
    return redirect(order.get_guest_url())


@csrf_exempt
@require_POST
def webhook(request, provider: str):
    """The inbox door: verify the signature over the raw body, store the event once, answer
    2xx at once; a Celery task does the work. Bad or missing signature: 400, nothing stored."""
    try:
        gateway = get_gateway(provider)
        event = gateway.verify_webhook(request)
    except GatewayError:
        raise Http404("No such webhook") from None
    except InvalidSignature as exc:
        return JsonResponse({"error": {"code": "invalid_signature", "message": str(exc)}}, status=400)
    stored, created = webhook_receive(provider=provider, event=event)
    if created or stored.status == WebhookEvent.Status.PENDING:
        # A delivery of an event still pending is queued again: the first enqueue may have
        # been lost (broker down). transaction.on_commit, not kernel's after_commit, on
        # purpose: not robust, so if enqueueing fails the provider gets a 500 and delivers
        # again. Processing twice is harmless (webhook_process).
        transaction.on_commit(partial(process_webhook_event.delay, stored.pk))
    return JsonResponse({"received": True, "duplicate": not created})


# -- the dummy gateway's own pages ---------------------------------------------------------------


def _dummy_payment_or_404(reference: str) -> Payment:
    if "dummy" not in settings.PAYMENT_GATEWAYS:  # e.g. in production: these pages do not exist
        raise Http404("No such page")
    return _payment_or_404(reference, gateway="dummy")


def dummy(request, reference: str):
    """The dummy gateway's hosted page (local use): the shopper chooses to pay or to fail."""
    payment = _dummy_payment_or_404(reference)
    if payment.status != Payment.Status.PENDING:
        return redirect(payment.order.get_guest_url())
    return render(request, "payments/dummy.html", {"payment": payment, "order": payment.order})


@require_POST
def dummy_complete(request, reference: str):
    """The dummy provider reports the outcome through the same inbox as real webhooks."""
    payment = _dummy_payment_or_404(reference)
    outcome = request.POST.get("outcome")
    if outcome not in ("pay", "fail"):
        raise Http404("Unknown outcome")
    stored, _ = webhook_receive(
        provider="dummy",
        event=InboxEvent(
            event_id=f"{payment.reference}:{outcome}",
            event_type="payment.succeeded" if outcome == "pay" else "payment.failed",
            payload={"reference": payment.reference, "amount": str(payment.amount), "currency": payment.currency},
        ),
    )
    try:
        webhook_process(event=stored)
    except StockBusy as exc:
        return render(request, "checkout/busy.html", {"message": exc.message}, status=409)
    return _show_result(request, payment)
