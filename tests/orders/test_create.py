from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.exceptions import InsufficientStock
from inventory.models import Reservation
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db


def test_placing_an_order_reserves_its_lines_and_awaits_payment():
    shirt, mug = stocked_variant(on_hand=5, price=Decimal("19.99")), stocked_variant(on_hand=2, price=Decimal("7.50"))

    order = place_order((shirt, 3), (mug, 1))

    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.subtotal == Decimal("67.47")
    assert order.shipping_total == Decimal("5.00")
    assert order.total == Decimal("72.47")
    assert [(line.sku, line.quantity, line.line_total) for line in order.lines.all()] == [
        (shirt.sku, 3, Decimal("59.97")),
        (mug.sku, 1, Decimal("7.50")),
    ]
    assert availability([shirt.pk, mug.pk]) == {shirt.pk: 2, mug.pk: 1}
    holds = Reservation.objects.filter(owner=order.reservation_owner)
    assert {h.expires_at for h in holds} == {order.reservation_expires_at}
    assert list(order.events.values_list("type", flat=True)) == [OrderEvent.Type.PLACED]
    assert_stock_consistent()


def test_placing_the_same_checkout_token_twice_returns_the_first_order_and_reserves_once():
    variant = stocked_variant(on_hand=5)

    first = place_order((variant, 2), token="tok-1")
    again = place_order((variant, 2), token="tok-1")

    assert again.pk == first.pk
    assert Order.objects.count() == 1
    assert Reservation.objects.count() == 1
    assert availability([variant.pk]) == {variant.pk: 3}


def test_an_order_that_cannot_be_served_in_full_writes_nothing():
    plenty, scarce = stocked_variant(on_hand=5), stocked_variant(on_hand=1)

    with pytest.raises(InsufficientStock) as exc:
        place_order((plenty, 1), (scarce, 2))

    assert [(line.variant_id, line.requested, line.available) for line in exc.value.lines] == [(scarce.pk, 2, 1)]
    assert not Order.objects.exists()
    assert not Reservation.objects.exists()
    assert availability([plenty.pk, scarce.pk]) == {plenty.pk: 5, scarce.pk: 1}
    assert_stock_consistent()


@pytest.mark.django_db(transaction=True)
def test_the_stock_is_locked_last_so_a_hot_variant_is_held_for_one_statement_and_the_commit():
    # Every buyer of a variant queues on its stock row's lock until the holder commits: the
    # order's own rows are written before it is taken, none after.
    variant = stocked_variant(on_hand=5)

    with CaptureQueriesContext(connection) as queries:
        order = place_order((variant, 1))

    statements = [query["sql"] for query in queries.captured_queries]
    locked = next(i for i, sql in enumerate(statements) if "FOR UPDATE" in sql and "inventory_stockitem" in sql)
    assert statements[locked + 1 :] == ["COMMIT"]
    assert [sql.split()[2] for sql in statements[:locked] if sql.startswith("INSERT")] == [
        '"orders_order"',
        '"orders_orderline"',
        '"orders_orderevent"',
    ]
    assert Reservation.objects.get(owner=order.reservation_owner).expires_at == order.reservation_expires_at
    assert_stock_consistent()
