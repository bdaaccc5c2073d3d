"""order_create with the figures checkout priced: discount, tax per line and in total, and a
hook that runs inside the order's own transaction."""

from datetime import timedelta
from decimal import Decimal

import pytest

from inventory.models import Reservation
from orders.models import Order, OrderLine
from orders.services import LineSnapshot, order_create
from tests.factories import stocked_variant
from tests.orders.helpers import shipping_details

pytestmark = pytest.mark.django_db


def _create(lines, **kwargs):
    return order_create(
        checkout_token="tok",
        lines=lines,
        shipping=shipping_details(),
        shipping_method_name="Standard",
        shipping_price=Decimal("5.00"),
        currency="USD",
        reservation_ttl=timedelta(minutes=15),
        **kwargs,
    )


def _line(variant, quantity, tax_amount):
    return LineSnapshot(
        variant_id=variant.pk,
        product_title="Shirt",
        variant_title="",
        sku=variant.sku,
        unit_price=variant.price,
        quantity=quantity,
        tax_rate=Decimal("0.2000"),
        tax_amount=tax_amount,
    )


def test_an_order_with_prices_excluding_tax_adds_the_tax_to_its_total():
    variant = stocked_variant(price=Decimal("20.00"))

    order, created = _create(
        [_line(variant, 2, Decimal("7.20"))],  # (40.00 − 4.00) × 0.2
        discount_total=Decimal("4.00"),
        tax_total=Decimal("8.20"),
        prices_include_tax=False,
        voucher_code="TEN",
    )

    assert created
    order.refresh_from_db()
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        Decimal("40.00"),
        Decimal("4.00"),
        Decimal("5.00"),
        Decimal("8.20"),
        Decimal("49.20"),
    )
    assert (order.prices_include_tax, order.voucher_code) == (False, "TEN")
    assert list(OrderLine.objects.values_list("tax_rate", "tax_amount")) == [(Decimal("0.2000"), Decimal("7.20"))]


def test_an_order_with_prices_including_tax_keeps_the_tax_inside_its_total():
    variant = stocked_variant(price=Decimal("24.00"))

    order, _ = _create([_line(variant, 1, Decimal("4.00"))], tax_total=Decimal("4.83"), prices_include_tax=True)

    assert order.total == Decimal("29.00")


def test_the_on_create_hook_runs_inside_the_transaction_and_its_failure_writes_nothing():
    variant = stocked_variant(on_hand=3)
    seen = []

    def refuse(order: Order) -> None:
        seen.append((order.pk, order.lines.count()))
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        _create([_line(variant, 1, Decimal("0"))], on_create=refuse)

    assert seen and seen[0][1] == 1  # it saw the order with its lines
    assert not Order.objects.exists()
    assert not Reservation.objects.exists()
