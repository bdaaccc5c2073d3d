from decimal import Decimal

import pytest

from cart.models import Cart, CartLine
from cart.selectors import cart_view
from checkout.services import CheckoutError, checkout_fingerprint, checkout_place_order
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, run_together
from tests.orders.helpers import shipping_details


def _cart(*variants_and_quantities) -> Cart:
    cart = Cart.objects.create()
    for variant, quantity in variants_and_quantities:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


def _place(cart, method, *, token="chk-1", fingerprint=None):
    return checkout_place_order(
        cart=cart,
        checkout_token=token,
        shipping=shipping_details(),
        shipping_method=method,
        reviewed_fingerprint=fingerprint or checkout_fingerprint(cart_view(cart), method, country="GB"),
    )


@pytest.mark.django_db
def test_placing_an_order_reserves_the_cart_prices_it_from_the_catalog_and_empties_the_cart():
    shirt = stocked_variant(on_hand=5, price=Decimal("19.99"))
    method = ShippingMethodFactory(price=Decimal("4.50"))
    cart = _cart((shirt, 2))

    order = _place(cart, method)

    assert order.status == Order.Status.PENDING_PAYMENT
    assert (order.subtotal, order.shipping_total, order.total) == (Decimal("39.98"), Decimal("4.50"), Decimal("44.48"))
    assert order.shipping_method_name == method.name
    assert availability([shirt.pk]) == {shirt.pk: 3}
    assert not cart.lines.exists()
    assert_stock_consistent()


@pytest.mark.django_db
def test_placing_the_same_checkout_twice_returns_the_same_order_and_reserves_once():
    variant = stocked_variant(on_hand=5)
    method = ShippingMethodFactory()
    cart = _cart((variant, 2))
    fingerprint = checkout_fingerprint(cart_view(cart), method, country="GB")

    first = _place(cart, method, fingerprint=fingerprint)
    again = _place(cart, method, fingerprint=fingerprint)

    assert again.pk == first.pk
    assert Order.objects.count() == 1
    assert Reservation.objects.count() == 1
    assert availability([variant.pk]) == {variant.pk: 3}


@pytest.mark.django_db
def test_a_price_changed_after_review_is_refused_and_nothing_is_written():
    variant = stocked_variant(on_hand=5, price=Decimal("20.00"))
    method = ShippingMethodFactory()
    cart = _cart((variant, 1))
    reviewed = checkout_fingerprint(cart_view(cart), method, country="GB")
    variant.price = Decimal("25.00")
    variant.save(update_fields=["price"])
    movements = StockMovement.objects.count()

    with pytest.raises(CheckoutError) as exc:
        _place(cart, method, fingerprint=reviewed)

    assert "changed" in exc.value.message
    assert not Order.objects.exists()
    assert not Reservation.objects.exists()
    assert StockMovement.objects.count() == movements
    assert cart.lines.count() == 1
    assert availability([variant.pk]) == {variant.pk: 5}


@pytest.mark.django_db
def test_a_shipping_price_changed_after_review_is_refused():
    variant = stocked_variant(on_hand=5)
    method = ShippingMethodFactory(price=Decimal("5.00"))
    cart = _cart((variant, 1))
    reviewed = checkout_fingerprint(cart_view(cart), method, country="GB")
    method.price = Decimal("9.00")
    method.save(update_fields=["price"])

    with pytest.raises(CheckoutError):
        _place(cart, method, fingerprint=reviewed)

    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_empty_cart_cannot_be_placed():
    method = ShippingMethodFactory()

    with pytest.raises(CheckoutError) as exc:
        _place(Cart.objects.create(), method)

    assert exc.value.message == "Your cart is empty."


@pytest.mark.django_db
def test_a_cart_with_a_sold_out_line_cannot_be_placed():
    variant = stocked_variant(on_hand=1)
    method = ShippingMethodFactory()
    cart = _cart((variant, 1))
    fingerprint = checkout_fingerprint(cart_view(cart), method, country="GB")
    _place(_cart((variant, 1)), method, token="someone-else")

    with pytest.raises(CheckoutError):
        _place(cart, method, fingerprint=fingerprint)

    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_an_inactive_shipping_method_cannot_be_used():
    variant = stocked_variant(on_hand=1)
    method = ShippingMethodFactory(active=False)

    with pytest.raises(CheckoutError):
        _place(_cart((variant, 1)), method)

    assert not Reservation.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stock", [1, 10], ids=["last-unit", "plenty"])
def test_a_checkout_submitted_from_many_threads_at_once_places_one_order_for_all_of_them(stock):
    # Double clicks and retried requests: the first empties the cart and may take the last
    # unit; every other request must still get that same order, not an error.
    variant = stocked_variant(on_hand=stock)
    method = ShippingMethodFactory()
    cart = _cart((variant, 1))
    fingerprint = checkout_fingerprint(cart_view(cart), method, country="GB")

    outcomes = run_together(8, lambda i: _place(cart, method, token="dbl", fingerprint=fingerprint))

    assert [o.error for o in outcomes] == [None] * 8
    assert len({o.value.pk for o in outcomes}) == 1
    assert Order.objects.count() == 1
    assert Reservation.objects.count() == 1
    assert availability([variant.pk]) == {variant.pk: stock - 1}
    assert not cart.lines.exists()
