import secrets
from decimal import Decimal

from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.selectors import addresses_for_user
from accounts.services import address_create
from cart.selectors import CartView, cart_view
from cart.services import CartError, cart_reserve
from checkout.exceptions import (
    MESSAGES,
    CheckoutBusy,
    CheckoutError,
    IdempotencyKeyReused,
    ShippingUnavailable,
    VoucherError,
)
from checkout.forms import CheckoutForm
from checkout.pricing import Goods, cart_goods, cart_pricings, cart_rows
from checkout.selectors import checkout_price, voucher_check
from checkout.services import checkout_place_order
from inventory.exceptions import InsufficientStock, StockBusy
from kernel.addresses import ADDRESS_FIELDS, address_from, country_name
from orders.services import ShippingDetails
from storefront.session import SESSION_DETAILS, SESSION_VOUCHER, cart_for_request, checkout_country

from .forms import PlaceOrderForm, VoucherForm

SESSION_TOKEN = "checkout_token"
SESSION_GUEST_ORDERS = "guest_orders"


def _checkout_token(request) -> str:
    # One token per checkout attempt: a second "Place order" with it returns the same order.
    if SESSION_TOKEN not in request.session:
        request.session[SESSION_TOKEN] = secrets.token_urlsafe(24)
    return request.session[SESSION_TOKEN]


def _busy(request, message: str, **context):
    return render(request, "checkout/busy.html", {"message": message, **context}, status=409)


def _goods_after_discount(request, goods: Goods, view: CartView, email: str) -> Decimal:
    """`goods` (the cart's) after the voucher in the session, if it may still be used (for
    the free-shipping threshold the shipping choices are quoted with)."""
    code = request.session.get(SESSION_VOUCHER)
    if not code:
        return goods.subtotal
    try:
        voucher = voucher_check(code, subtotal=goods.subtotal, email=email)
    except VoucherError:
        return goods.subtotal
    return cart_goods(view, voucher=voucher).after_discount


def _saved_addresses(request) -> list:
    """A signed-in shopper's address book, the default first (offered at checkout)."""
    return list(addresses_for_user(request.user)) if request.user.is_authenticated else []


def _checkout_form(
    request, view: CartView, data=None, initial=None, *, offer_methods=True, saved_addresses=None
) -> CheckoutForm:
    initial = initial or {}
    email = (data or {}).get("email") or initial.get("email") or ""
    goods = cart_goods(view)
    return CheckoutForm(
        data,
        initial=initial,
        weight_grams=goods.weight_grams,
        goods_after_discount=_goods_after_discount(request, goods, view, email),
        offer_methods=offer_methods,
        saved_addresses=saved_addresses,
    )


def _initial_details(request, saved_addresses: list) -> dict:
    """A first visit's details: a signed-in shopper's email and default address (chosen
    among the saved ones), a guest's nothing but the country their cart is priced for."""
    initial: dict = {"email": request.user.email} if request.user.is_authenticated else {}
    default = next((address for address in saved_addresses if address.is_default), None)
    if default is not None:
        initial.update(address_from(default), saved_address=str(default.pk))
    elif saved_addresses:
        initial["saved_address"] = "new"
    return {**initial, "country": initial.get("country") or checkout_country(request)}


def _save_new_address(request, form: CheckoutForm) -> None:
    """ "Save this address to my account": a new address (not one chosen from the book, not
    one the book holds already) joins the signed-in shopper's address book."""
    if not (request.user.is_authenticated and form.cleaned_data.get("save_address")):
        return
    if form.cleaned_data.get("saved_address") not in (None, "", "new"):
        return
    address = form.address
    if any(address_from(saved) == address for saved in addresses_for_user(request.user)):
        return
    address_create(user=request.user, **address)
    messages.success(request, _("The address is saved to your account."))


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
        return _busy(request, exc.message, back_url=reverse("cart:detail"), back_label=_("Back to your cart"))
    view = cart_view(cart)
    if view.is_empty:
        messages.info(request, _("Your cart is empty."))
        return redirect("cart:detail")
    saved = request.session.get(SESSION_DETAILS)
    saved_addresses = _saved_addresses(request)
    if request.method == "POST":
        # The methods are listed only if the page is shown again (details refused).
        form = _checkout_form(request, view, data=request.POST, offer_methods=False, saved_addresses=saved_addresses)
    elif saved and request.GET.get("recheck"):
        # Sent back because the saved details no longer work (e.g. the shipping method cannot
        # take the cart any more): show them with the reason next to the field.
        form = _checkout_form(request, view, data=saved, saved_addresses=saved_addresses)
        form.is_valid()
    else:
        initial = saved or _initial_details(request, saved_addresses)
        form = _checkout_form(request, view, initial=initial, saved_addresses=saved_addresses)
    if request.method == "POST":
        if form.is_valid():
            _save_new_address(request, form)
            request.session[SESSION_DETAILS] = form.session_data()
            return redirect("checkout:review")
        form.offer_shipping_methods()
    context = {"form": form, "cart": view, "cart_count": view.quantity, **_details_summary(request, view, form)}
    return render(request, "checkout/details.html", context)


def _with_images(view: CartView) -> CartView:
    """`view` with each line's product images read in one query (the lines' thumbnails)."""
    prefetch_related_objects([item.variant.product for item in view.lines], "images")
    return view


def _details_summary(request, view: CartView, form: CheckoutForm) -> dict:
    """The checkout page's side panel and shipping cards: the cart's lines with thumbnails,
    priced for the country in the form with the method chosen in it (or the first offered),
    and each offered method with its price for this cart there."""
    country = form._country()
    offers = form.offers  # the methods the form offers, priced for this cart there
    chosen = str(form["shipping_method"].value() or "")
    method = next((m for m, _price in offers if str(m.pk) == chosen), None)
    if method is None and offers and not form.is_bound:
        method = offers[0][0]
    voucher = None
    code = request.session.get(SESSION_VOUCHER)
    if code:
        try:
            voucher = voucher_check(code, subtotal=cart_goods(view).subtotal, email=form["email"].value() or "")
        except VoucherError:
            voucher = None
    area = str(form["country_area"].value() or "") if "country_area" in form.fields else ""
    # The checkout priced with the method chosen, then with each other one offered (one tax
    # rate read): choosing another card updates the summary's shipping, tax and total at once
    # (static/js/checkout.js), as the review will.
    methods = [method, *(m for m, _price in offers if m != method)]
    priced = dict(
        zip(
            methods,
            cart_pricings(
                _with_images(view), country=country, country_area=area, shipping_methods=methods, voucher=voucher
            ),
            strict=True,
        )
    )
    pricing = priced[method]
    offered = {str(m.pk): (m, price, priced[m]) for m, price in offers}
    chosen = chosen or (str(method.pk) if method else "")
    return {
        "rows": cart_rows(view, pricing),
        "pricing": pricing,
        "method": method,
        "shipping_cards": [
            (radio, *offered[str(radio.data["value"])])
            for radio in form["shipping_method"]
            if str(radio.data["value"]) in offered
        ],
        "chosen_method": chosen,
        "country_name": country_name(country),
    }


def _saved_details(request, view: CartView):
    """The shipping details saved in the session, validated again (a method may have been
    switched off, or may no longer take this cart): (cleaned data, method), or (None, None)."""
    data = request.session.get(SESSION_DETAILS)
    if not data:
        return None, None
    form = _checkout_form(request, view, data=data, offer_methods=False)
    if not form.is_valid():
        return None, None
    return form.cleaned_data, form.cleaned_data["shipping_method"]


def _review_pricing(request, view: CartView, data, method):
    """The checkout priced for the review, with the session's voucher. A voucher that can no
    longer be used is dropped from the session with the reason as a message, and the
    checkout priced without it. Raises ShippingUnavailable."""
    code = request.session.get(SESSION_VOUCHER, "")
    try:
        return checkout_price(
            view,
            country=data["country"],
            country_area=data["country_area"],
            shipping_method=method,
            voucher_code=code,
            email=data["email"],
        )
    except VoucherError as exc:
        request.session.pop(SESSION_VOUCHER, None)
        messages.error(request, _("%(problem)s It was removed from your order.") % {"problem": exc.message})
        return checkout_price(
            view,
            country=data["country"],
            country_area=data["country_area"],
            shipping_method=method,
            email=data["email"],
        )


def review(request):
    view = cart_view(cart_for_request(request))
    if view.is_empty:
        return redirect("cart:detail")
    data, method = _saved_details(request, view)
    if data is None:
        if request.session.get(SESSION_DETAILS):
            messages.error(request, _("Please check your shipping details: something changed."))
            return redirect(reverse("checkout:details") + "?recheck=1")
        return redirect("checkout:details")
    try:
        pricing = _review_pricing(request, view, data, method)
    except ShippingUnavailable as exc:
        messages.error(request, exc.message)
        return redirect(reverse("checkout:details") + "?recheck=1")
    _checkout_token(request)
    return render(
        request,
        "checkout/review.html",
        {
            "cart": _with_images(view),
            "cart_count": view.quantity,  # the header's (context_processors.cart_summary), no query
            "rows": cart_rows(view, pricing),
            "pricing": pricing,
            "details": data,
            "country_name": country_name(data["country"]),
            "method": method,
            "voucher_form": VoucherForm(),
            "form": PlaceOrderForm(initial={"fingerprint": pricing.fingerprint()}),
        },
    )


@require_POST
def voucher_apply(request):
    view = cart_view(cart_for_request(request))
    data, _method = _saved_details(request, view)
    if data is None:
        return redirect("checkout:details")
    form = VoucherForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please type a discount code."))
        return redirect("checkout:review")
    try:
        voucher = voucher_check(form.cleaned_data["code"], subtotal=cart_goods(view).subtotal, email=data["email"])
    except VoucherError as exc:
        messages.error(request, exc.message)
        return redirect("checkout:review")
    request.session[SESSION_VOUCHER] = voucher.code
    messages.success(request, _("The code “%(code)s” was applied.") % {"code": voucher.code})
    return redirect("checkout:review")


@require_POST
def voucher_remove(request):
    if request.session.pop(SESSION_VOUCHER, None):
        messages.success(request, _("The discount code was removed."))
    return redirect("checkout:review")


@require_POST
def place_order(request):
    form = PlaceOrderForm(request.POST)
    cart = cart_for_request(request)
    view = cart_view(cart)
    data, method = _saved_details(request, view)
    if data is None:
        return redirect(reverse("checkout:details") + ("?recheck=1" if request.session.get(SESSION_DETAILS) else ""))
    if not form.is_valid():
        messages.error(request, _("Please review your order again."))
        return redirect("checkout:review")
    try:
        order = checkout_place_order(
            cart=cart,
            view=view,
            checkout_token=_checkout_token(request),
            shipping=ShippingDetails(
                email=data["email"],
                **{name: data[name] for name in ADDRESS_FIELDS},
                billing=data.get("billing_address"),
            ),
            shipping_method=method,
            reviewed_fingerprint=form.cleaned_data["fingerprint"],
            voucher_code=request.session.get(SESSION_VOUCHER, ""),
            user=request.user,
        )
    except (StockBusy, CheckoutBusy) as exc:
        return _busy(request, exc.message)
    except InsufficientStock as exc:
        messages.error(request, exc.message)
        return redirect("cart:detail")
    except ShippingUnavailable as exc:
        messages.error(request, exc.message)
        return redirect(reverse("checkout:details") + "?recheck=1")
    except VoucherError as exc:
        # Back to the review, priced without the code, to be confirmed again.
        request.session.pop(SESSION_VOUCHER, None)
        messages.error(
            request,
            _("%(problem)s It was removed from your order: please check the new total.") % {"problem": exc.message},
        )
        return redirect("checkout:review")
    except IdempotencyKeyReused:
        # Another window placed this token's order for what it reviewed there, and this
        # request reviewed something else (the cart changed in between). That order is not
        # this one's; a new token lets the shopper place what they now review.
        request.session.pop(SESSION_TOKEN, None)
        messages.error(request, MESSAGES["placed_meanwhile"])
        return redirect("checkout:review")
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return redirect("checkout:review")
    request.session.pop(SESSION_TOKEN, None)
    request.session.pop(SESSION_VOUCHER, None)
    guest_orders = request.session.get(SESSION_GUEST_ORDERS, [])
    request.session[SESSION_GUEST_ORDERS] = [*guest_orders, order.number][-20:]
    return redirect("payments:pay", token=order.access_token)
