"""Place order with STOCK_RESERVE_ON=cart: the cart's hold passes to the order inside the
order's own transaction, so its units are never free to anyone else in between."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cart.models import Cart
from cart.selectors import cart_view
from cart.services import cart_add
from checkout.services import checkout_fingerprint, checkout_place_order
from inventory.exceptions import InsufficientStock, StockBusy
from inventory.models import Reservation
from inventory.selectors import availability, hold_of
from inventory.services import StockLine, stock_reserve
from orders.models import Order
from orders.services import order_create
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, run_together
from tests.orders.helpers import shipping_details, snapshot


@pytest.fixture(autouse=True)
def _reserve_on_cart(settings):
    settings.STOCK_RESERVE_ON = "cart"


def _held_cart(variant, quantity) -> Cart:
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=variant.pk, quantity=quantity)
    return cart


def _order_for(variant, quantity, *, transfer_from) -> Order:
    order, _ = order_create(
        checkout_token=f"direct-{variant.pk}-{quantity}",
        lines=[snapshot(variant, quantity)],
        shipping=shipping_details(),
        shipping_method_name="Standard",
        shipping_price=Decimal("5.00"),
        currency="USD",
        reservation_ttl=timedelta(minutes=15),
        transfer_from=transfer_from,
    )
    return order


def _place(cart, method, *, token="chk-1"):
    return checkout_place_order(
        cart=cart,
        checkout_token=token,
        shipping=shipping_details(),
        shipping_method=method,
        reviewed_fingerprint=checkout_fingerprint(cart_view(cart), method, country="GB"),
    )


@pytest.mark.django_db
def test_placing_the_order_passes_the_cart_hold_to_the_order_and_empties_the_cart():
    variant = stocked_variant(on_hand=3)
    cart = _held_cart(variant, 3)  # every unit, so nothing is left for a fresh reservation

    order = _place(cart, ShippingMethodFactory())

    assert hold_of(order.reservation_owner).quantities == {variant.pk: 3}
    assert hold_of(cart.reservation_owner).quantities == {}
    assert availability([variant.pk]) == {variant.pk: 0}
    assert not cart.lines.exists()
    assert_stock_consistent()


@pytest.mark.django_db
def test_an_order_refused_for_stock_leaves_the_cart_hold_as_it_was():
    variant = stocked_variant(on_hand=3)
    cart = _held_cart(variant, 2)
    before = list(Reservation.objects.values_list("pk", "status", "expires_at"))

    with pytest.raises(InsufficientStock):
        _order_for(variant, 4, transfer_from=cart.reservation_owner)

    assert list(Reservation.objects.values_list("pk", "status", "expires_at")) == before
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_lapsed_cart_hold_whose_units_were_sold_meanwhile_fails_with_insufficient_stock():
    variant = stocked_variant(on_hand=2)
    cart = _held_cart(variant, 2)
    Reservation.objects.filter(owner=cart.reservation_owner).update(expires_at=timezone.now())
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:OTHER", ttl=timedelta(minutes=5))

    with pytest.raises(InsufficientStock):
        _order_for(variant, 2, transfer_from=cart.reservation_owner)

    assert not Order.objects.exists()
    assert availability([variant.pk]) == {variant.pk: 1}


@pytest.mark.django_db
def test_a_lapsed_cart_hold_is_taken_again_when_the_units_are_still_there():
    variant = stocked_variant(on_hand=2)
    cart = _held_cart(variant, 2)
    Reservation.objects.filter(owner=cart.reservation_owner).update(expires_at=timezone.now())

    order = _order_for(variant, 2, transfer_from=cart.reservation_owner)

    assert hold_of(order.reservation_owner).quantities == {variant.pk: 2}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_nobody_can_take_the_units_while_the_cart_hold_passes_to_the_order(round_):
    # Other buyers hammer the same last unit while the cart's order is placed: whichever way
    # the threads interleave, the unit goes from the cart to its order and to nobody else.
    variant = stocked_variant(on_hand=1)
    cart = _held_cart(variant, 1)
    method = ShippingMethodFactory()
    fingerprint = checkout_fingerprint(cart_view(cart), method, country="GB")

    def work(i):
        if i == 0:
            return checkout_place_order(
                cart=cart,
                checkout_token="mine",
                shipping=shipping_details(),
                shipping_method=method,
                reviewed_fingerprint=fingerprint,
            )
        return stock_reserve(lines=[StockLine(variant.pk, 1)], owner=f"order:X{i}", ttl=timedelta(minutes=5))

    outcomes = run_together(11, work)

    assert outcomes[0].error is None, outcomes[0].error
    assert all(isinstance(o.error, (InsufficientStock, StockBusy)) for o in outcomes[1:])
    order = outcomes[0].value
    active = Reservation.objects.filter(status=Reservation.Status.ACTIVE)
    assert list(active.values_list("owner", "quantity")) == [(order.reservation_owner, 1)]
