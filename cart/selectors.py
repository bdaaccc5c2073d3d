"""Reads of carts: lines priced from the catalog now, each checked against availability."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from catalog.models import ProductVariant
from inventory.selectors import with_availability

from .models import Cart, CartLine


@dataclass
class CartLineView:
    line: CartLine
    variant: ProductVariant
    unit_price: Decimal  # currency units, from the catalog (never from the client)
    available: int  # units available now (display figure)
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
    ordered as they are keep their place and carry a `problem` instead of vanishing."""
    if cart is None:
        return CartView(cart=None, lines=[])
    lines = list(cart.lines.all())
    variants = {
        v.pk: v
        for v in with_availability(
            ProductVariant.objects.filter(pk__in=[line.variant_id for line in lines])
        ).select_related("product")
    }
    views = []
    for line in lines:
        variant = variants[line.variant_id]
        available = max(variant.available, 0)
        if not variant.product.published:
            problem = "No longer available."
        elif available == 0:
            problem = "Sold out."
        elif line.quantity > available:
            problem = f"Only {available} left: lower the quantity."
        else:
            problem = ""
        views.append(CartLineView(line, variant, variant.price, available, problem))
    return CartView(cart=cart, lines=views)
