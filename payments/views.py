from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from inventory.exceptions import InsufficientStock, StockBusy
from orders.models import Order
from orders.services import OrderStateError, order_expire_if_due

from .models import Payment
from .services import GATEWAYS, PaymentError, payment_capture, payment_fail, payment_start


def pay(request, token: str):
    """The payment page: the order, a countdown to its reservation's expiry, the gateways.
    Reached by the order's unguessable access token, so guests need no account."""
    order = get_object_or_404(Order, access_token=token)
    order = order_expire_if_due(order=order)
    if order.status == Order.Status.PAID:
        return redirect(order.get_guest_url())
    if request.method == "POST" and order.status == Order.Status.PENDING_PAYMENT:
        gateway = request.POST.get("gateway", "")
        try:
            payment = payment_start(order=order, gateway=gateway)
        except PaymentError as exc:
            messages.error(request, exc.message)
            return redirect("payments:pay", token=token)
        return redirect("payments:dummy", payment_id=payment.provider_payment_id)
    return render(request, "payments/pay.html", {"order": order, "gateways": GATEWAYS})


def dummy(request, payment_id: str):
    """The dummy gateway's hosted page (local use): the shopper chooses to pay or to fail."""
    payment = get_object_or_404(Payment.objects.select_related("order"), provider_payment_id=payment_id, gateway="dummy")
    if payment.status != Payment.Status.PENDING:
        return redirect(payment.order.get_guest_url())
    return render(request, "payments/dummy.html", {"payment": payment, "order": payment.order})


@require_POST
def dummy_complete(request, payment_id: str):
    payment = get_object_or_404(Payment.objects.select_related("order"), provider_payment_id=payment_id, gateway="dummy")
    outcome = request.POST.get("outcome")
    if outcome not in ("pay", "fail"):
        raise Http404("Unknown outcome")
    order = payment.order
    if outcome == "fail":
        payment_fail(payment=payment, reason="Declined on the test payment page")
        messages.error(request, "Your payment failed and your reservation was released.")
        return redirect(order.get_guest_url())
    try:
        payment_capture(payment=payment)
    except InsufficientStock:
        messages.error(
            request,
            "Your reservation expired and the items sold out meanwhile, so we did not take the payment.",
        )
    except StockBusy as exc:
        return render(request, "checkout/busy.html", {"message": exc.message}, status=409)
    except (PaymentError, OrderStateError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Thank you! Your payment was received.")
    return redirect(order.get_guest_url())
