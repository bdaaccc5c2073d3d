"""Reads of carts: lines priced from the catalog now, each checked against availability.
A cart's own hold (STOCK_RESERVE_ON=cart) counts as available to that cart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from catalog.models import ProductVariant
from inventory.selectors import availability_for_owner
from kernel.auth import user_or_none

from .models import Cart, CartLine


@dataclass
class CartLineView:
    line: CartLine
    variant: ProductVariant
    unit_price: Decimal  # currency units, from the catalog (never from the client)
    available: int  # units this cart could have now (display figure, its own hold included)
    problem: str  # "" when the line can be ordered, else what is wrong

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.line.quantity

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass
class CartView:
    cart: Cart | None
    lines: list[CartLineView]
    # When the cart's hold lapses (STOCK_RESERVE_ON=cart); None when it holds nothing live.
    reserved_until: datetime | None = None
    # Whether carts hold their stock at all (STOCK_RESERVE_ON=cart).
    holds_stock: bool = False

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines if line.ok), Decimal("0.00"))

    @property
    def quantity(self) -> int:
        return sum(line.line.quantity for line in self.lines)

    @property
    def has_problems(self) -> bool:
        return any(not line.ok for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines


def cart_view(cart: Cart | None) -> CartView:
    """Every line of `cart` with today's price and availability; lines that can no longer be
    ordered as they are keep their place and carry a `problem` instead of vanishing.

    Availability for a line is what others leave plus the cart's own live hold of that
    variant: a shopper's reservation never counts against them. Once the hold lapses the
    lines are checked against plain availability again.
    """
    holds_stock = settings.STOCK_RESERVE_ON == "cart"
    if cart is None:
        return CartView(cart=None, lines=[], holds_stock=holds_stock)
    lines = list(cart.lines.select_related("variant__product", "variant__stock"))
    if not lines:
        return CartView(cart=cart, lines=[], holds_stock=holds_stock)
    # Read in both modes: a hold left over from before a switch to "checkout" is still ours.
    figures, hold = availability_for_owner([line.variant for line in lines], owner=cart.reservation_owner)
    views = []
    for line in lines:
        variant, figure = line.variant, figures[line.variant_id]
        available = figure.units
        if not variant.product.published:
            problem = _("No longer available.")
        elif figure.backorder:
            problem = ""  # sold on backorder (inventory's policy): any quantity may be ordered
        elif available == 0:
            problem = _("Sold out.")
        elif line.quantity > available:
            problem = _("Only %(available)s left: lower the quantity.") % {"available": available}
        else:
            problem = ""
        views.append(CartLineView(line, variant, variant.price, available, problem))
    return CartView(
        cart=cart,
        lines=views,
        reserved_until=hold.expires_at if views else None,
        holds_stock=holds_stock,
    )


def cart_has_line(cart: Cart | None, line_id: int) -> bool:
    """Whether `line_id` is a line of `cart` (a line of another cart is not)."""
    return cart is not None and CartLine.objects.filter(cart=cart, pk=line_id).exists()


def cart_units(*, user, guest_cart_id: int | None = None) -> int:
    """Units (Σ quantities) in a web shopper's cart, for the header: the signed-in `user`'s
    own cart, else the guest cart `guest_cart_id`. One query; none for a guest without one."""
    if user_or_none(user) is not None:
        lines = CartLine.objects.filter(cart__user=user)
    elif guest_cart_id:
        lines = CartLine.objects.filter(cart_id=guest_cart_id, cart__user__isnull=True)
    else:
        return 0
    return sum(lines.values_list("quantity", flat=True))
