"""
The one place where a checkout is priced: lines, voucher discount, shipping, tax and total.
The cart page, the review page and checkout_place_order all call checkout_pricing (or
cart_pricing, its CartView front), so the figure the shopper confirms is the figure the order
is written with.

The rules, in the order they apply:

1. line total = unit price × quantity; subtotal = Σ line totals. Prices are entered as the
   shop's PRICES_INCLUDE_TAX says: tax-inclusive (gross) or exclusive (net).
2. A voucher discounts the goods subtotal, never below zero: a percentage is rounded half up
   to the currency's precision, a fixed amount is capped at the subtotal. The discount is
   spread over the lines in proportion to their totals (largest remainder, so the parts add
   up to the discount exactly); each line's tax is computed on its discounted amount.
3. Shipping is the method's price for the cart (flat, or the weight band that holds
   Σ grams × quantity), or zero when the discounted goods reach the method's free_over.
4. Tax is the rate of the shipping address's subdivision (a US state: TaxRate with its
   country_area) if it has one, else of its country (TaxRate without; none: 0). We tax shipping too, at the same
   rate: the common EU rule for a shipment of goods taxed at one rate. Per line and for
   shipping, each rounded half up to the currency's precision:
   inclusive: tax = amount − amount / (1 + rate)   (contained in the price)
   exclusive: tax = amount × rate                   (added on top)
   The tax total is the sum of those rounded parts, so lines always add up to it.
5. total = subtotal − discount + shipping (+ tax when prices exclude tax).

Money is Decimal in the shop currency, rounded to the currency's precision (two places at
most: orders store two).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.utils import formats

from cart.selectors import CartLineView, CartView
from kernel.money import currency_quantum, round_money

from .exceptions import MESSAGES, ShippingUnavailable
from .models import ShippingMethod, TaxRate, Voucher

ZERO = Decimal("0")


def percent(rate: Decimal) -> str:
    """Decimal("0.2000") → "20", Decimal("0.0550") → "5.5": a tax rate for people, written
    as the active language writes numbers ("5,5" in German)."""
    text = f"{(rate * 100).quantize(Decimal('0.01')):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return formats.number_format(Decimal(text))


@dataclass(frozen=True)
class PricingInput:
    """One line to price: `unit_price` Decimal in currency units, `quantity` > 0, `grams`
    the weight of one unit. `cart_line_id` ties it back to the cart line, for display."""

    variant_id: int
    unit_price: Decimal
    quantity: int
    grams: int = 0
    cart_line_id: int | None = None


@dataclass(frozen=True)
class PricedLine:
    variant_id: int
    cart_line_id: int | None
    unit_price: Decimal
    quantity: int
    line_total: Decimal  # unit_price × quantity, before discount, as prices are entered
    discount: Decimal  # this line's share of the voucher discount
    tax_rate: Decimal  # a fraction, 4 places: Decimal("0.2000") is 20 %
    tax_amount: Decimal  # on line_total − discount; contained in it or added, per prices_include_tax

    @property
    def tax_percent(self) -> str:
        return percent(self.tax_rate)


@dataclass(frozen=True)
class Pricing:
    currency: str
    prices_include_tax: bool
    country: str
    tax_name: str  # e.g. "VAT"; "" when the country has no TaxRate
    tax_rate: Decimal
    lines: tuple[PricedLine, ...]
    weight_grams: int
    subtotal: Decimal  # Σ line totals
    voucher_id: int | None
    voucher_code: str  # the voucher's code as configured; "" without one
    discount: Decimal
    shipping_method_id: int | None  # None: no method chosen yet (the cart page)
    shipping_method_name: str
    shipping: Decimal  # ZERO without a method
    shipping_tax: Decimal
    tax: Decimal  # Σ line taxes + shipping tax
    total: Decimal

    @property
    def tax_percent(self) -> str:
        return percent(self.tax_rate)

    @property
    def goods_after_discount(self) -> Decimal:
        return self.subtotal - self.discount

    def fingerprint(self) -> str:
        """A digest of everything the shopper confirms: every line (variant, quantity, price,
        discount, tax), the country and its rate, the voucher and its discount, the shipping
        method and price, the tax and the total. Any change to one of them changes it."""
        parts = [
            f"{self.currency}:{int(self.prices_include_tax)}:{self.country}:{self.tax_rate}",
            *(
                f"{line.variant_id}:{line.quantity}:{line.unit_price}:{line.line_total}:"
                f"{line.discount}:{line.tax_rate}:{line.tax_amount}"
                for line in self.lines
            ),
            f"voucher:{self.voucher_code.upper()}:{self.discount}",
            f"ship:{self.shipping_method_id}:{self.shipping}:{self.shipping_tax}",
            f"tax:{self.tax}",
            f"total:{self.total}",
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def shipping_price(
    method: ShippingMethod, *, country: str, weight_grams: int, goods_after_discount: Decimal
) -> Decimal | None:
    """What `method` charges for a cart of `weight_grams` going to `country`, or None when it
    cannot take it: switched off, not shipping to that country, a weight-based method without
    a band heavy enough. Zero when the goods after discount reach free_over. Reads
    method.countries and method.bands (prefetch them for a list of methods)."""
    if not method.active:
        return None
    countries = {str(c.country) for c in method.countries.all()}
    if countries and country not in countries:
        return None
    if method.kind == ShippingMethod.Kind.WEIGHT:
        band = next(
            (b for b in sorted(method.bands.all(), key=lambda b: b.max_grams) if weight_grams <= b.max_grams), None
        )
        if band is None:
            return None
        price = band.price
    else:
        price = method.price
    if method.free_over is not None and goods_after_discount >= method.free_over:
        return ZERO
    return price


def voucher_discount(voucher: Voucher, *, subtotal: Decimal, currency: str) -> Decimal:
    """The discount `voucher` gives on goods of `subtotal`: a percentage rounded half up to
    the currency's precision, or the fixed amount; never more than the subtotal."""
    if voucher.kind == Voucher.Kind.PERCENT:
        amount = round_money(subtotal * voucher.value / 100, currency)
    else:
        amount = round_money(voucher.value, currency)
    return min(amount, subtotal)


def allocate(amount: Decimal, weights: Sequence[Decimal], *, quantum: Decimal) -> list[Decimal]:
    """Splits `amount` (a multiple of `quantum`) over `weights` in proportion, each part a
    multiple of `quantum`, the parts adding up to `amount` exactly.

    Largest remainder: every part is first rounded down, then the quanta left over go one
    each to the parts that lost the most to rounding (the earlier line on a tie).
    """
    total = sum(weights, ZERO)
    if amount == 0 or total == 0:
        return [ZERO for _ in weights]
    exact = [amount * weight / total for weight in weights]
    parts = [share.quantize(quantum, rounding=ROUND_DOWN) for share in exact]
    left = int((amount - sum(parts, ZERO)) / quantum)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += quantum
    return parts


def tax_on(amount: Decimal, *, rate: Decimal, prices_include_tax: bool, currency: str) -> Decimal:
    """The tax in `amount` (prices_include_tax) or on it (otherwise), rounded half up."""
    if rate == 0 or amount == 0:
        return round_money(ZERO, currency)
    if prices_include_tax:
        return round_money(amount - amount / (1 + rate), currency)
    return round_money(amount * rate, currency)


@dataclass(frozen=True)
class Goods:
    """The goods of a checkout before shipping and tax, as checkout_pricing counts them: what
    shipping methods are quoted on and a voucher's minimum spend is checked against."""

    subtotal: Decimal  # Σ line totals, each rounded to the currency's precision
    discount: Decimal  # the voucher's discount on them (zero without one)
    weight_grams: int  # Σ grams × quantity

    @property
    def after_discount(self) -> Decimal:
        return self.subtotal - self.discount


def _line_total(line: PricingInput, currency: str) -> Decimal:
    return round_money(line.unit_price * line.quantity, currency)


def _goods(
    lines: Sequence[PricingInput], totals: Sequence[Decimal], *, voucher: Voucher | None, currency: str
) -> Goods:
    subtotal = sum(totals, round_money(ZERO, currency))
    discount = (
        voucher_discount(voucher, subtotal=subtotal, currency=currency) if voucher else round_money(ZERO, currency)
    )
    return Goods(subtotal=subtotal, discount=discount, weight_grams=sum(line.grams * line.quantity for line in lines))


def goods_of(lines: Sequence[PricingInput], *, voucher: Voucher | None = None, currency: str | None = None) -> Goods:
    """The Goods of `lines` with `voucher` (None: no discount) in `currency` (default
    SHOP_CURRENCY). No query: the tax rate plays no part in them."""
    currency = currency or settings.SHOP_CURRENCY
    return _goods(lines, [_line_total(line, currency) for line in lines], voucher=voucher, currency=currency)


def tax_rate_for(country: str, country_area: str = "") -> TaxRate | None:
    """The TaxRate of `country_area` in `country` if staff set one, else the country's, else
    None (no tax). One query."""
    areas = {"", country_area} if country_area else {""}
    rates = sorted(
        TaxRate.objects.filter(country=country, country_area__in=areas), key=lambda rate: rate.country_area == ""
    )
    return rates[0] if rates else None


def checkout_pricing(
    *,
    lines: Sequence[PricingInput],
    country: str,
    country_area: str = "",
    shipping_method: ShippingMethod | None = None,
    voucher: Voucher | None = None,
    currency: str | None = None,
    prices_include_tax: bool | None = None,
) -> Pricing:
    """Prices `lines` for delivery to `country` (ISO code) with `shipping_method` (None: no
    shipping yet) and `voucher` (None: no discount). The voucher is applied as it is: whether
    it may be used is voucher_check's question (checkout.selectors). `currency` and
    `prices_include_tax` default to SHOP_CURRENCY and PRICES_INCLUDE_TAX.

    Reads the TaxRate of `country_area` (the address's state, province…) or else of the
    country (tax_rate_for). Raises ShippingUnavailable when the method cannot ship this cart
    to `country`.
    """
    return _pricing(
        lines=lines,
        country=country,
        tax_rate=tax_rate_for(country, country_area),
        shipping_method=shipping_method,
        voucher=voucher,
        currency=currency,
        prices_include_tax=prices_include_tax,
    )


def _pricing(
    *,
    lines: Sequence[PricingInput],
    country: str,
    tax_rate: TaxRate | None,
    shipping_method: ShippingMethod | None,
    voucher: Voucher | None,
    currency: str | None,
    prices_include_tax: bool | None,
) -> Pricing:
    """checkout_pricing with the tax rate already read (None: no tax). No query."""
    currency = currency or settings.SHOP_CURRENCY
    if prices_include_tax is None:
        prices_include_tax = settings.PRICES_INCLUDE_TAX
    quantum = currency_quantum(currency)
    rate = tax_rate.rate if tax_rate else Decimal("0.0000")

    totals = [_line_total(line, currency) for line in lines]
    goods = _goods(lines, totals, voucher=voucher, currency=currency)
    subtotal, discount, weight = goods.subtotal, goods.discount, goods.weight_grams
    shares = allocate(discount, totals, quantum=quantum)
    priced = tuple(
        PricedLine(
            variant_id=line.variant_id,
            cart_line_id=line.cart_line_id,
            unit_price=line.unit_price,
            quantity=line.quantity,
            line_total=total,
            discount=share,
            tax_rate=rate,
            tax_amount=tax_on(total - share, rate=rate, prices_include_tax=prices_include_tax, currency=currency),
        )
        for line, total, share in zip(lines, totals, shares, strict=True)
    )

    shipping = round_money(ZERO, currency)
    if shipping_method is not None:
        price = shipping_price(
            shipping_method, country=country, weight_grams=weight, goods_after_discount=subtotal - discount
        )
        if price is None:
            raise ShippingUnavailable(
                MESSAGES["shipping_unavailable"].format(method=shipping_method.name, country=country)
            )
        shipping = round_money(price, currency)
    shipping_tax = tax_on(shipping, rate=rate, prices_include_tax=prices_include_tax, currency=currency)
    tax = sum((line.tax_amount for line in priced), shipping_tax)
    total = subtotal - discount + shipping + (ZERO if prices_include_tax else tax)
    return Pricing(
        currency=currency,
        prices_include_tax=prices_include_tax,
        country=country,
        tax_name=tax_rate.name if tax_rate else "",
        tax_rate=rate,
        lines=priced,
        weight_grams=weight,
        subtotal=subtotal,
        voucher_id=voucher.pk if voucher else None,
        voucher_code=voucher.code if voucher else "",
        discount=discount,
        shipping_method_id=shipping_method.pk if shipping_method else None,
        shipping_method_name=shipping_method.name if shipping_method else "",
        shipping=shipping,
        shipping_tax=shipping_tax,
        tax=tax,
        total=total,
    )


def cart_pricing(
    view: CartView,
    *,
    country: str,
    country_area: str = "",
    shipping_method: ShippingMethod | None = None,
    voucher: Voucher | None = None,
) -> Pricing:
    """checkout_pricing for the lines of a cart that can be ordered (a flagged line is shown
    but counts for nothing until it is fixed), at today's catalog prices."""
    return checkout_pricing(
        lines=[pricing_input(item) for item in view.lines if item.ok],
        country=country,
        country_area=country_area,
        shipping_method=shipping_method,
        voucher=voucher,
    )


def cart_pricings(
    view: CartView,
    *,
    country: str,
    country_area: str = "",
    shipping_methods: Sequence[ShippingMethod | None],
    voucher: Voucher | None = None,
) -> list[Pricing]:
    """cart_pricing with each of `shipping_methods` in turn (None: no shipping yet), in their
    order, the tax rate read once: the checkout page prices the cart with every method it
    offers. Raises ShippingUnavailable as cart_pricing does."""
    lines = [pricing_input(item) for item in view.lines if item.ok]
    tax_rate = tax_rate_for(country, country_area)
    return [
        _pricing(
            lines=lines,
            country=country,
            tax_rate=tax_rate,
            shipping_method=method,
            voucher=voucher,
            currency=None,
            prices_include_tax=None,
        )
        for method in shipping_methods
    ]


def cart_goods(view: CartView, *, voucher: Voucher | None = None) -> Goods:
    """goods_of the lines of a cart that can be ordered (as cart_pricing counts them), with
    `voucher`; no query."""
    return goods_of([pricing_input(item) for item in view.lines if item.ok], voucher=voucher)


def pricing_input(item: CartLineView) -> PricingInput:
    return PricingInput(
        variant_id=item.variant.pk,
        unit_price=item.unit_price,
        quantity=item.line.quantity,
        grams=item.variant.grams,
        cart_line_id=item.line.pk,
    )


@dataclass(frozen=True)
class CartRow:
    """A cart line for display with its priced figures (None for a flagged line)."""

    item: CartLineView
    priced: PricedLine | None


def cart_rows(view: CartView, pricing: Pricing) -> list[CartRow]:
    by_line = {line.cart_line_id: line for line in pricing.lines}
    return [CartRow(item, by_line.get(item.line.pk)) for item in view.lines]
