from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cart.models import CartLine
from cart.selectors import cart_view
from cart.services import CartError, cart_add, cart_remove_line, cart_set_quantity
from checkout.exceptions import VoucherError
from checkout.models import Voucher
from checkout.pricing import cart_goods, cart_pricing, cart_rows
from checkout.selectors import voucher_check
from inventory.exceptions import StockBusy
from kernel.addresses import country_name
from orders.models import Order
from orders.selectors import order_awaiting_payment
from storefront.checkout.views import SESSION_GUEST_ORDERS
from storefront.session import SESSION_DETAILS, SESSION_VOUCHER, cart_for_request, checkout_country

from .forms import CartLineQuantityForm


def cart_detail(request, *, line_errors=None, status=200):
    view = cart_view(cart_for_request(request))
    # The lines' thumbnails: every product's images in one query.
    prefetch_related_objects([item.variant.product for item in view.lines], "images")
    # Priced by checkout (views may call any app; the cart itself never imports checkout):
    # tax for the country chosen at checkout, else SHOP_COUNTRY; shipping comes at checkout.
    country = checkout_country(request)
    pricing = cart_pricing(view, country=country, voucher=_session_voucher(request, view))
    return render(
        request,
        "cart/detail.html",
        {
            "cart": view,
            "pricing": pricing,
            "rows": cart_rows(view, pricing),
            "line_errors": line_errors or {},
            # The header's count (context_processors.cart_summary) from the lines read here.
            "cart_count": view.quantity,
            "country_name": country_name(country),
            # Placing an order empties the cart: an order still waiting for payment is named.
            "awaiting": order_awaiting_payment(user=request.user, numbers=request.session.get(SESSION_GUEST_ORDERS, []))
            if view.is_empty
            else None,
        },
        status=status,
    )


def _session_voucher(request, view) -> Voucher | None:
    """The discount code applied at checkout (kept in the session), if it can still be used
    on this cart: the cart's summary shows its discount. None otherwise."""
    code = request.session.get(SESSION_VOUCHER)
    if not code or view.is_empty:
        return None
    details = request.session.get(SESSION_DETAILS) or {}
    email = details.get("email") or (request.user.email if request.user.is_authenticated else "")
    try:
        return voucher_check(code, subtotal=cart_goods(view).subtotal, email=email)
    except VoucherError:
        return None


def cart_busy(request, exc: StockBusy):
    """409 "busy, try again" for a cart change that could not get the stock locks in time
    (STOCK_RESERVE_ON=cart); nothing was changed."""
    return render(
        request,
        "checkout/busy.html",
        {"message": exc.message, "back_url": reverse("cart:detail"), "back_label": _("Back to your cart")},
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
    messages.success(request, _("Cart updated."))
    return redirect("cart:detail")


@require_POST
def line_remove(request, line_id: int):
    cart = cart_for_request(request)
    if cart is not None:
        try:
            cart_remove_line(cart=cart, line_id=line_id)
        except StockBusy as exc:
            return cart_busy(request, exc)
        messages.success(request, _("Item removed."))
    return redirect("cart:detail")


# Orders whose items may go back into the cart: unpaid, and no longer holding their stock.
RESTORABLE = (Order.Status.EXPIRED, Order.Status.PAYMENT_FAILED, Order.Status.CANCELLED)


@require_POST
def restore(request, token: str):
    """ "Back to your cart" from an unpaid order whose reservation lapsed (or that was
    cancelled): its items go back into the shopper's cart, each line up to the order's
    quantity (so pressing twice adds nothing more), through cart_add like any addition; a
    line that cannot be added (sold out, no longer sold) is named in a message. Reached by
    the order's unguessable access token, as the payment pages are."""
    order = get_object_or_404(Order, access_token=token)
    if order.status not in RESTORABLE:
        return redirect("cart:detail")
    cart = cart_for_request(request, create=True)
    assert cart is not None
    in_cart = dict(CartLine.objects.filter(cart=cart).values_list("variant_id", "quantity"))
    problems = []
    for line in order.lines.all():
        missing = line.quantity - in_cart.get(line.variant_id, 0)
        if line.variant_id is None or missing <= 0:
            continue
        try:
            cart_add(cart=cart, variant_id=line.variant_id, quantity=missing)
        except CartError as exc:
            problems.append(_("%(product)s: %(problem)s") % {"product": line.product_title, "problem": exc.message})
        except StockBusy as exc:
            return cart_busy(request, exc)
    if problems:
        messages.warning(request, _("Some items could not go back in your cart.") + " " + " ".join(problems))
    else:
        messages.success(request, _("The items of order %(number)s are back in your cart.") % {"number": order.number})
    return redirect("cart:detail")
