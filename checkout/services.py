"""
Checkout: turns a cart plus shipping details into a placed order (stock reserved, order
pending payment) through orders.services.order_create. Prices always come from the catalog
at the moment of placing; the shopper's review is guarded by a fingerprint of what they saw.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

from django.conf import settings

from cart.models import Cart
from cart.selectors import CartView, cart_view
from cart.services import cart_clear
from orders.models import Order
from orders.services import LineSnapshot, ShippingDetails, order_create

from .models import ShippingMethod


class CheckoutError(Exception):
    """The cart cannot be ordered as it is; `message` is for the shopper."""

    code = "checkout_error"

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def checkout_fingerprint(view: CartView, shipping_method: ShippingMethod) -> str:
    """A digest of the lines, quantities, prices and shipping the shopper reviewed."""
    parts = [f"{line.variant.pk}:{line.line.quantity}:{line.unit_price}" for line in view.lines]
    parts.append(f"ship:{shipping_method.pk}:{shipping_method.price}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def checkout_totals(view: CartView, shipping_method: ShippingMethod) -> dict[str, Decimal]:
    """Subtotal, shipping and total in currency units."""
    subtotal = view.subtotal
    return {"subtotal": subtotal, "shipping": shipping_method.price, "total": subtotal + shipping_method.price}


def _checkout_problem(view: CartView, shipping_method: ShippingMethod, reviewed_fingerprint: str) -> str:
    """What stops this cart from being ordered as reviewed, for the shopper; "" if nothing."""
    if view.is_empty:
        return "Your cart is empty."
    if view.has_problems:
        return "Some items in your cart are not available as they are; please review your cart."
    if not shipping_method.active:
        return "That shipping method is no longer offered."
    if checkout_fingerprint(view, shipping_method) != reviewed_fingerprint:
        return "Your cart or its prices changed since you reviewed it. Please check the totals again."
    return ""


def checkout_place_order(
    *,
    cart: Cart | None,
    checkout_token: str,
    shipping: ShippingDetails,
    shipping_method: ShippingMethod,
    reviewed_fingerprint: str,
    user=None,
) -> Order:
    """Places the order: reserves the stock for STOCK_RESERVATION_MINUTES and creates the
    order in pending_payment with line snapshots, then empties the cart.

    The cart's own hold (STOCK_RESERVE_ON=cart) passes to the order inside the order's
    transaction, so its units are never free to others in between; if that hold lapsed, the
    order gets the units only if they are still there.

    The same `checkout_token` placed twice (a double click, a retried request) returns the
    same order. Raises CheckoutError when the cart is empty, has lines that cannot be
    ordered, or changed since the shopper reviewed it (`reviewed_fingerprint`);
    InsufficientStock or StockBusy from inventory.
    """
    existing = Order.objects.filter(checkout_token=checkout_token).first()
    if existing:
        return existing
    view = cart_view(cart)
    problem = _checkout_problem(view, shipping_method, reviewed_fingerprint)
    if problem:
        # Why look again: a double click whose first request committed after our lookup above
        # has meanwhile emptied the cart (or taken its last units); that order is the answer.
        existing = Order.objects.filter(checkout_token=checkout_token).first()
        if existing:
            return existing
        raise CheckoutError(problem)
    order, created = order_create(
        checkout_token=checkout_token,
        lines=[
            LineSnapshot(
                variant_id=line.variant.pk,
                product_title=line.variant.product.title,
                variant_title=line.variant.title,
                sku=line.variant.sku,
                unit_price=line.unit_price,
                quantity=line.line.quantity,
            )
            for line in view.lines
        ],
        shipping=shipping,
        shipping_method_name=shipping_method.name,
        shipping_price=shipping_method.price,
        currency=settings.SHOP_CURRENCY,
        user=user,
        reservation_ttl=timedelta(minutes=settings.STOCK_RESERVATION_MINUTES),
        # In both modes: with "checkout" the cart holds nothing and this releases nothing.
        transfer_from=cart.reservation_owner,
    )
    if created:
        cart_clear(cart=cart)
    return order
