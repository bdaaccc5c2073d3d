"""Placing orders directly through orders.services, for order and payment tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from inventory.models import Reservation
from orders.models import Order
from orders.services import LineSnapshot, ShippingDetails, order_create


def shipping_details(**overrides) -> ShippingDetails:
    fields = {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "line1": "12 Analytical Row",
        "line2": "",
        "city": "London",
        "postal_code": "N1 9GU",
        "country": "GB",
    }
    fields.update(overrides)
    return ShippingDetails(**fields)


def snapshot(variant, quantity: int = 1) -> LineSnapshot:
    return LineSnapshot(
        variant_id=variant.pk,
        product_title=variant.product.title,
        variant_title=variant.title,
        sku=variant.sku,
        unit_price=variant.price,
        quantity=quantity,
    )


def place_order(*variants_and_quantities, token: str | None = None, ttl=timedelta(minutes=15)) -> Order:
    """place_order((variant, 2), (other, 1)) → a pending_payment order holding those units."""
    order, _ = order_create(
        checkout_token=token or uuid.uuid4().hex,
        lines=[snapshot(variant, quantity) for variant, quantity in variants_and_quantities],
        shipping=shipping_details(),
        shipping_method_name="Standard",
        shipping_price=Decimal("5.00"),
        currency="USD",
        reservation_ttl=ttl,
    )
    return order


def lapse(order: Order, *, ago: timedelta = timedelta(seconds=1)) -> None:
    """Moves the order's hold into the past, as if its reservation time had run out."""
    past = timezone.now() - ago
    Reservation.objects.filter(owner=order.reservation_owner).update(expires_at=past)
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=past)
    order.refresh_from_db()
