"""Reads for checkout: which shipping methods can take a cart, whether a voucher code may be
used, what a checkout costs (and its fingerprint), and the API's checkouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.utils import timezone

from cart.selectors import CartView, cart_view
from kernel.auth import user_or_none

from .exceptions import MESSAGES, ShippingUnavailable, VoucherError
from .models import CheckoutSession, ShippingMethod, Voucher, VoucherRedemption
from .pricing import Pricing, cart_goods, cart_pricing, shipping_price


def shipping_methods_for(
    *, country: str, weight_grams: int, goods_after_discount: Decimal
) -> list[tuple[ShippingMethod, Decimal]]:
    """The active methods that can ship a cart of `weight_grams` to `country`, each with its
    price for it, in the admin's order. Two queries whatever the number of methods, three
    when any is priced by weight (its bands)."""
    methods = list(ShippingMethod.objects.filter(active=True).prefetch_related("countries"))
    # Bands for the methods priced by weight alone, as CheckoutForm.clean reads them: a shop
    # whose methods are flat-rate reads none.
    prefetch_related_objects([method for method in methods if method.kind == ShippingMethod.Kind.WEIGHT], "bands")
    offers = []
    for method in methods:
        price = shipping_price(
            method, country=country, weight_grams=weight_grams, goods_after_discount=goods_after_discount
        )
        if price is not None:
            offers.append((method, price))
    return offers


def voucher_find(code: str) -> Voucher | None:
    """The voucher whose code is `code`, whatever the case (surrounding spaces ignored)."""
    code = code.strip()
    if not code:
        return None
    return Voucher.objects.filter(code__iexact=code).first()


def voucher_problem(
    voucher: Voucher | None, *, code: str, subtotal: Decimal, email: str, currency: str, now: datetime | None = None
) -> VoucherError | None:
    """Why `voucher` (looked up by `code`) cannot be used on goods of `subtotal` by `email`
    now, as a VoucherError to raise; None when it can. The usage counts are read as they
    are: checkout.services.voucher_redeem asks again under the voucher's row lock."""
    now = now or timezone.now()
    if voucher is None or not voucher.active:
        return VoucherError("voucher_invalid", voucher_code=code)
    code = voucher.code
    if voucher.starts_at and now < voucher.starts_at:
        return VoucherError("voucher_not_yet_valid", voucher_code=code, starts_at=voucher.starts_at.astimezone(UTC))
    if voucher.ends_at and now >= voucher.ends_at:
        return VoucherError("voucher_expired", voucher_code=code)
    if subtotal < voucher.min_spend:
        return VoucherError(
            "voucher_min_spend",
            voucher_code=code,
            min_spend=voucher.min_spend,
            missing=voucher.min_spend - subtotal,
            currency=currency,
        )
    if voucher.usage_limit is not None and voucher.used_count >= voucher.usage_limit:
        return VoucherError("voucher_exhausted", voucher_code=code)
    if voucher.per_customer_limit is not None and email:
        used = VoucherRedemption.objects.filter(voucher=voucher, email=email.strip().lower()).count()
        if used >= voucher.per_customer_limit:
            return VoucherError("voucher_customer_exhausted", voucher_code=code)
    return None


def voucher_check(code: str, *, subtotal: Decimal, email: str, currency: str | None = None) -> Voucher:
    """The voucher for `code` if it may be used now on goods of `subtotal` by `email`.
    Raises VoucherError naming why not (see checkout.exceptions.MESSAGES)."""
    voucher = voucher_find(code)
    problem = voucher_problem(
        voucher, code=code.strip(), subtotal=subtotal, email=email, currency=currency or settings.SHOP_CURRENCY
    )
    if problem:
        raise problem
    assert voucher is not None  # voucher_problem refuses a code that finds no voucher
    return voucher


def checkout_price(
    view: CartView,
    *,
    country: str,
    country_area: str = "",
    shipping_method: ShippingMethod,
    voucher_code: str = "",
    email: str = "",
) -> Pricing:
    """The cart priced as the review shows it and Place order charges it: for `country` (and
    its subdivision `country_area`, whose tax rate wins over the country's), with
    `shipping_method` and the voucher `voucher_code` ("" for none) used by `email`.

    Raises VoucherError when the code cannot be used (now, on these goods, by this email),
    ShippingUnavailable when the method cannot ship this cart there.
    """
    if not shipping_method.active:
        raise ShippingUnavailable(MESSAGES["shipping_inactive"])
    voucher = None
    if voucher_code:
        voucher = voucher_check(voucher_code, subtotal=cart_goods(view).subtotal, email=email)
    return cart_pricing(
        view, country=country, country_area=country_area, shipping_method=shipping_method, voucher=voucher
    )


def checkout_fingerprint(
    view: CartView,
    shipping_method: ShippingMethod,
    *,
    country: str,
    country_area: str = "",
    voucher_code: str = "",
    email: str = "",
) -> str:
    """The fingerprint (Pricing.fingerprint) of the checkout the shopper reviews: lines,
    prices, quantities, country and tax, voucher and discount, shipping, total. Raises as
    checkout_price does."""
    return checkout_price(
        view,
        country=country,
        country_area=country_area,
        shipping_method=shipping_method,
        voucher_code=voucher_code,
        email=email,
    ).fingerprint()


# -- checkouts through the API (CheckoutSession) ----------------------------------------------


def checkout_session_for(*, public_id, user=None, cart_token: str = "") -> CheckoutSession | None:
    """The checkout `public_id` if the caller may see it: its user, or (a guest checkout) the
    holder of its cart's token. None for anyone else, so ids cannot be probed."""
    # Not its order: only a placed checkout has one (its answer then reads the order's number
    # and hold in one more query), and an order's fifty-odd columns cost every other request
    # about 0.4 ms of ORM work to select and to load.
    checkout = CheckoutSession.objects.select_related("cart", "shipping_method").filter(public_id=public_id).first()
    if checkout is None:
        return None
    if checkout.user_id is not None:
        user = user_or_none(user)
        return checkout if user is not None and user.pk == checkout.user_id else None
    if cart_token and checkout.cart is not None and checkout.cart.token == cart_token:
        return checkout
    return None


@dataclass
class CheckoutSummary:
    """A checkout priced now, as GET checkout/<id>/ shows it and place-order charges it."""

    checkout: CheckoutSession
    cart: CartView
    pricing: Pricing
    shipping_methods: list[tuple[ShippingMethod, Decimal]]
    # Why the voucher or the shipping method is not in `pricing` ("" when they are).
    voucher_problem: str = ""
    shipping_problem: str = ""

    @property
    def reserved_until(self) -> datetime | None:
        if self.checkout.order is not None:
            return self.checkout.order.reservation_expires_at
        return self.cart.reserved_until


def checkout_session_summary(checkout: CheckoutSession, *, cart: CartView | None = None) -> CheckoutSummary:
    """`checkout` priced now (checkout.pricing): its cart's orderable lines for its country
    (SHOP_COUNTRY until one is chosen), with its voucher and shipping method when they can be
    used (else priced without them, and the reason given), and the shipping methods that can
    take the cart there. `cart`: cart_view(checkout.cart) read earlier in the same request
    (the API's PATCH validates with it), so that it is not read twice."""
    view = cart if cart is not None else cart_view(checkout.cart)
    country = str(checkout.country or settings.SHOP_COUNTRY)
    area = checkout.country_area if checkout.country else ""
    voucher = None
    voucher_message = ""
    goods = cart_goods(view)
    if checkout.voucher_code:
        try:
            voucher = voucher_check(checkout.voucher_code, subtotal=goods.subtotal, email=checkout.email)
        except VoucherError as exc:
            voucher_message = exc.message
    shipping_message = ""
    method = checkout.shipping_method
    if method is not None and not method.active:
        method, shipping_message = None, MESSAGES["shipping_inactive"]
    try:
        pricing = cart_pricing(view, country=country, country_area=area, shipping_method=method, voucher=voucher)
    except ShippingUnavailable as exc:
        shipping_message = exc.message
        pricing = cart_pricing(view, country=country, country_area=area, voucher=voucher)
    # The goods after the voucher's discount as cart_pricing counts them (cart_goods: no query).
    methods = shipping_methods_for(
        country=country,
        weight_grams=goods.weight_grams,
        goods_after_discount=cart_goods(view, voucher=voucher).after_discount,
    )
    return CheckoutSummary(
        checkout=checkout,
        cart=view,
        pricing=pricing,
        shipping_methods=methods,
        voucher_problem=voucher_message,
        shipping_problem=shipping_message,
    )
