"""Carts and checkouts for the checkout tests, through the real services."""

from __future__ import annotations

import uuid

from cart.models import Cart, CartLine
from cart.selectors import cart_view
from checkout.selectors import checkout_fingerprint, checkout_price
from checkout.services import checkout_place_order
from orders.models import Order
from tests.orders.helpers import shipping_details


def cart_of(*variants_and_quantities) -> Cart:
    """cart_of((shirt, 2), (mug, 1)) → a guest cart holding those lines."""
    cart = Cart.objects.create()
    for variant, quantity in variants_and_quantities:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


def price(cart, method, *, country="GB", voucher_code="", email="ada@example.com"):
    """The cart priced as the review page prices it."""
    return checkout_price(
        cart_view(cart), country=country, shipping_method=method, voucher_code=voucher_code, email=email
    )


def place(
    cart, method, *, country="GB", voucher_code="", email="ada@example.com", token=None, fingerprint=None, user=None
) -> Order:
    """Reviews then places the cart, as the shopper's two clicks do (or with the given
    `fingerprint` of an earlier review)."""
    if fingerprint is None:
        fingerprint = checkout_fingerprint(
            cart_view(cart), method, country=country, voucher_code=voucher_code, email=email
        )
    return checkout_place_order(
        cart=cart,
        checkout_token=token or uuid.uuid4().hex,
        shipping=shipping_details(country=country, email=email),
        shipping_method=method,
        reviewed_fingerprint=fingerprint,
        voucher_code=voucher_code,
        user=user,
    )
