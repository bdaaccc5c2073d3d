"""A customer with something of everything the shop keeps about a person (an address, a
cart, orders, a review), made through the real services."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from accounts.services import address_create
from cart.services import cart_add, cart_for_api
from inventory.services import back_in_stock_subscribe
from orders.models import Order
from orders.services import order_create, order_ship, review_submit
from tests.factories import UserFactory, stocked_variant
from tests.orders.helpers import shipping_details, snapshot
from tests.payments.helpers import pay_by_dummy_webhook

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def order_of(user, variant, *, quantity: int = 1) -> Order:
    """An order of `user` awaiting payment, placed as checkout places it."""
    order, _ = order_create(
        checkout_token=uuid.uuid4().hex,
        lines=[snapshot(variant, quantity)],
        shipping=shipping_details(email=user.email, phone="+44 20 7946 0000"),
        shipping_method_name="Standard",
        shipping_price=Decimal("5.00"),
        currency="USD",
        user=user,
        reservation_ttl=timedelta(minutes=15),
    )
    return order


def paid_order_of(user, variant, *, quantity: int = 1) -> Order:
    """An order of `user`, paid through the dummy gateway's webhook, nothing shipped yet."""
    order = order_of(user, variant, quantity=quantity)
    pay_by_dummy_webhook(order)
    return order


def shipped_order_of(user, variant, *, quantity: int = 1) -> Order:
    """A paid order of `user` whose every unit has shipped (status fulfilled)."""
    order = paid_order_of(user, variant, quantity=quantity)
    order_ship(
        order=order,
        lines={line.pk: line.quantity for line in order.lines.all()},
        carrier="Royal Mail",
        tracking_number="RM123456789GB",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    return order


def customer_with_history(email: str = "ada@example.com"):
    """A customer with a saved address, a shipped order (and a review of what it bought) and
    a cart holding one line, and a back-in-stock request for a sold-out variant under the
    email in another letter case. Returns (user, variant, order)."""
    user = UserFactory(email=email, first_name="Ada", last_name="Lovelace")
    variant = stocked_variant(on_hand=10, price=Decimal("23.00"), product__title="Linen Shirt")
    address_create(
        user=user, name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1 9GU", country="GB"
    )
    order = shipped_order_of(user, variant, quantity=2)
    review_submit(user=user, product=variant.product, rating=5, text="Wears well.")
    cart, _ = cart_for_api(user=user, create=True)
    cart_add(cart=cart, variant_id=variant.pk, quantity=1)
    back_in_stock_subscribe(variant=stocked_variant(on_hand=0), email=email.upper())
    return user, variant, order
