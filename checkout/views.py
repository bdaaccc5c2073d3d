import secrets

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cart.selectors import cart_view
from cart.services import CartError, cart_for_request, cart_reserve
from inventory.exceptions import InsufficientStock, StockBusy
from orders.services import ShippingDetails

from .forms import CheckoutForm, PlaceOrderForm
from .models import ShippingMethod
from .services import CheckoutError, checkout_fingerprint, checkout_place_order, checkout_totals

SESSION_DETAILS = "checkout_details"
SESSION_TOKEN = "checkout_token"
SESSION_GUEST_ORDERS = "guest_orders"


def _checkout_token(request) -> str:
    # One token per checkout attempt: a second "Place order" with it returns the same order.
    if SESSION_TOKEN not in request.session:
        request.session[SESSION_TOKEN] = secrets.token_urlsafe(24)
    return request.session[SESSION_TOKEN]


def details(request):
    cart = cart_for_request(request)
    try:
        # STOCK_RESERVE_ON=cart: proceeding to checkout refreshes the cart's hold (and takes
        # a lapsed one again); with "checkout" this does nothing.
        cart_reserve(cart=cart)
    except CartError as exc:
        messages.error(request, exc.message)
        return redirect("cart:detail")
    except StockBusy as exc:
        return render(
            request,
            "checkout/busy.html",
            {"message": exc.message, "back_url": reverse("cart:detail"), "back_label": "Back to your cart"},
            status=409,
        )
    view = cart_view(cart)
    if view.is_empty:
        messages.info(request, "Your cart is empty.")
        return redirect("cart:detail")
    initial = request.session.get(SESSION_DETAILS) or (
        {"email": request.user.email} if request.user.is_authenticated else {}
    )
    form = CheckoutForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        request.session[SESSION_DETAILS] = form.session_data()
        return redirect("checkout:review")
    return render(request, "checkout/details.html", {"form": form, "cart": view})


def _details_or_none(request):
    data = request.session.get(SESSION_DETAILS)
    if not data:
        return None, None
    form = CheckoutForm(data)
    if not form.is_valid():  # e.g. the shipping method was switched off meanwhile
        return None, None
    return form.cleaned_data, form.cleaned_data["shipping_method"]


def review(request):
    view = cart_view(cart_for_request(request))
    data, method = _details_or_none(request)
    if view.is_empty:
        return redirect("cart:detail")
    if data is None:
        return redirect("checkout:details")
    _checkout_token(request)
    return render(
        request,
        "checkout/review.html",
        {
            "cart": view,
            "details": data,
            "method": method,
            "totals": checkout_totals(view, method),
            "form": PlaceOrderForm(initial={"fingerprint": checkout_fingerprint(view, method)}),
        },
    )


@require_POST
def place_order(request):
    form = PlaceOrderForm(request.POST)
    data, method = _details_or_none(request)
    if data is None:
        return redirect("checkout:details")
    if not form.is_valid():
        messages.error(request, "Please review your order again.")
        return redirect("checkout:review")
    try:
        order = checkout_place_order(
            cart=cart_for_request(request),
            checkout_token=_checkout_token(request),
            shipping=ShippingDetails(
                email=data["email"],
                name=data["name"],
                line1=data["line1"],
                line2=data["line2"],
                city=data["city"],
                postal_code=data["postal_code"],
                country=data["country"],
                phone=data["phone"],
            ),
            shipping_method=method,
            reviewed_fingerprint=form.cleaned_data["fingerprint"],
            user=request.user,
        )
    except StockBusy as exc:
        return render(request, "checkout/busy.html", {"message": exc.message}, status=409)
    except InsufficientStock as exc:
        messages.error(request, exc.message)
        return redirect("cart:detail")
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return redirect("checkout:review")
    request.session.pop(SESSION_TOKEN, None)
    guest_orders = request.session.get(SESSION_GUEST_ORDERS, [])
    request.session[SESSION_GUEST_ORDERS] = [*guest_orders, order.number][-20:]
    return redirect("payments:pay", token=order.access_token)
