from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cart.selectors import cart_view
from cart.services import CartError, cart_remove_line, cart_set_quantity
from checkout.pricing import cart_pricing, cart_rows
from inventory.exceptions import StockBusy
from storefront.session import cart_for_request, checkout_country

from .forms import CartLineQuantityForm


def cart_detail(request, *, line_errors=None, status=200):
    view = cart_view(cart_for_request(request))
    # Priced by checkout (views may call any app; the cart itself never imports checkout):
    # tax for the country chosen at checkout, else SHOP_COUNTRY; shipping comes at checkout.
    pricing = cart_pricing(view, country=checkout_country(request))
    return render(
        request,
        "cart/detail.html",
        {"cart": view, "pricing": pricing, "rows": cart_rows(view, pricing), "line_errors": line_errors or {}},
        status=status,
    )


def cart_busy(request, exc: StockBusy):
    """409 "busy, try again" for a cart change that could not get the stock locks in time
    (STOCK_RESERVE_ON=cart); nothing was changed."""
    return render(
        request,
        "checkout/busy.html",
        {"message": exc.message, "back_url": reverse("cart:detail"), "back_label": "Back to your cart"},
        status=409,
    )


@require_POST
def line_update(request, line_id: int):
    form = CartLineQuantityForm(request.POST)
    cart = cart_for_request(request)
    if cart is None:
        return redirect("cart:detail")
    if not form.is_valid():
        return cart_detail(request, line_errors={line_id: form.errors["quantity"]})
    try:
        cart_set_quantity(cart=cart, line_id=line_id, quantity=form.cleaned_data["quantity"])
    except CartError as exc:
        return cart_detail(request, line_errors={line_id: [exc.message]})
    except StockBusy as exc:
        return cart_busy(request, exc)
    messages.success(request, "Cart updated.")
    return redirect("cart:detail")


@require_POST
def line_remove(request, line_id: int):
    cart = cart_for_request(request)
    if cart is not None:
        try:
            cart_remove_line(cart=cart, line_id=line_id)
        except StockBusy as exc:
            return cart_busy(request, exc)
        messages.success(request, "Item removed.")
    return redirect("cart:detail")
