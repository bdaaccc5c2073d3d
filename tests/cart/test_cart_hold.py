"""Cart services with STOCK_RESERVE_ON=cart: the cart's hold always matches its lines, a
change that cannot be held changes nothing, and a removal is never refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cart.models import Cart, CartLine
from cart.selectors import cart_view
from cart.services import (
    CartError,
    cart_add,
    cart_clear,
    cart_merge,
    cart_remove_line,
    cart_reserve,
    cart_set_quantity,
)
from inventory.models import Reservation
from inventory.selectors import availability, hold_of
from inventory.services import StockLine, stock_reserve
from tests.factories import stocked_variant
from tests.inventory.helpers import run_together


@pytest.fixture(autouse=True)
def _reserve_on_cart(settings):
    settings.STOCK_RESERVE_ON = "cart"


def _lines(cart) -> dict[int, int]:
    return dict(CartLine.objects.filter(cart=cart).values_list("variant_id", "quantity"))


def _lapse(cart) -> None:
    Reservation.objects.filter(owner=cart.reservation_owner).update(expires_at=timezone.now() - timedelta(seconds=1))


def _take(variant, quantity) -> None:
    stock_reserve(lines=[StockLine(variant.pk, quantity)], owner="order:OTHER", ttl=timedelta(minutes=5))


@pytest.mark.django_db
def test_the_hold_follows_every_change_of_the_cart():
    shirt, scarf = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    cart = Cart.objects.create()

    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)
    line = cart_add(cart=cart, variant_id=scarf.pk, quantity=1)
    cart_set_quantity(cart=cart, line_id=line.pk, quantity=4)

    assert hold_of(cart.reservation_owner).quantities == _lines(cart) == {shirt.pk: 2, scarf.pk: 4}
    assert availability([shirt.pk, scarf.pk]) == {shirt.pk: 3, scarf.pk: 1}


@pytest.mark.django_db
def test_a_change_is_refused_naming_another_line_whose_lapsed_hold_was_taken():
    shirt, scarf = stocked_variant(on_hand=2, product__title="Shirt"), stocked_variant(on_hand=5)
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)
    line = cart_add(cart=cart, variant_id=scarf.pk, quantity=1)
    _lapse(cart)
    _take(shirt, 1)

    with pytest.raises(CartError) as exc:
        cart_set_quantity(cart=cart, line_id=line.pk, quantity=2)

    assert exc.value.message == "Only 1 of Shirt left."
    assert _lines(cart) == {shirt.pk: 2, scarf.pk: 1}
    assert cart_view(cart).lines[0].problem == "Only 1 left: lower the quantity."


@pytest.mark.django_db
def test_a_removal_stands_even_when_the_rest_can_no_longer_be_held():
    shirt, scarf = stocked_variant(on_hand=2), stocked_variant(on_hand=5)
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)
    line = cart_add(cart=cart, variant_id=scarf.pk, quantity=1)
    _lapse(cart)
    _take(shirt, 2)

    cart_remove_line(cart=cart, line_id=line.pk)

    assert _lines(cart) == {shirt.pk: 2}
    assert hold_of(cart.reservation_owner).quantities == {}
    assert [item.problem for item in cart_view(cart).lines] == ["Sold out."]
    assert availability([scarf.pk]) == {scarf.pk: 5}


@pytest.mark.django_db
def test_removing_a_line_that_is_gone_changes_nothing():
    shirt = stocked_variant(on_hand=5)
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)
    before = list(Reservation.objects.values_list("pk", "status", "expires_at"))

    cart_remove_line(cart=cart, line_id=999_999)

    assert list(Reservation.objects.values_list("pk", "status", "expires_at")) == before


@pytest.mark.django_db
def test_clearing_the_cart_releases_its_hold():
    shirt = stocked_variant(on_hand=5)
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)

    cart_clear(cart=cart)

    assert _lines(cart) == {}
    assert availability([shirt.pk]) == {shirt.pk: 5}


@pytest.mark.django_db
def test_a_lapsed_hold_is_taken_again_by_cart_reserve_and_refused_when_the_stock_is_gone():
    shirt = stocked_variant(on_hand=3, product__title="Shirt")
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)
    _lapse(cart)

    cart_reserve(cart=cart)
    assert hold_of(cart.reservation_owner).quantities == {shirt.pk: 2}

    _lapse(cart)
    _take(shirt, 2)
    with pytest.raises(CartError) as exc:
        cart_reserve(cart=cart)
    assert exc.value.message == "Only 1 of Shirt left."
    assert _lines(cart) == {shirt.pk: 2}


@pytest.mark.django_db
def test_cart_reserve_does_nothing_when_stock_is_reserved_at_checkout(settings):
    settings.STOCK_RESERVE_ON = "checkout"
    shirt = stocked_variant(on_hand=3)
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)

    cart_reserve(cart=cart)

    assert not Reservation.objects.exists()


@pytest.mark.django_db
def test_a_merge_releases_the_guest_hold_and_holds_the_merged_cart_within_the_line_limit():
    shirt = stocked_variant(on_hand=200)
    guest, mine = Cart.objects.create(), Cart.objects.create()
    cart_add(cart=mine, variant_id=shirt.pk, quantity=60)
    cart_add(cart=guest, variant_id=shirt.pk, quantity=60)

    notes = cart_merge(source=guest, target=mine)

    assert _lines(mine) == {shirt.pk: 99}
    assert notes == [f"{shirt}: only 99 available, your cart now holds 99."]
    assert hold_of(guest.reservation_owner).quantities == {}
    assert hold_of(mine.reservation_owner).quantities == {shirt.pk: 99}
    assert availability([shirt.pk]) == {shirt.pk: 101}


@pytest.mark.django_db
def test_a_merge_drops_a_guest_line_that_sold_out_and_keeps_the_rest_held():
    shirt, scarf = stocked_variant(on_hand=1), stocked_variant(on_hand=5)
    guest, mine = Cart.objects.create(), Cart.objects.create()
    cart_add(cart=guest, variant_id=shirt.pk, quantity=1)
    cart_add(cart=mine, variant_id=scarf.pk, quantity=2)
    _lapse(guest)
    _take(shirt, 1)

    notes = cart_merge(source=guest, target=mine)

    assert notes == [f"{shirt} is sold out and was not added to your cart."]
    assert _lines(mine) == {scarf.pk: 2}
    assert hold_of(mine.reservation_owner).quantities == {scarf.pk: 2}


@pytest.mark.django_db(transaction=True)
def test_two_tabs_changing_the_same_cart_at_once_leave_its_hold_equal_to_its_lines():
    variants = [stocked_variant(on_hand=50) for _ in range(3)]
    cart = Cart.objects.create()

    def change(i):
        return cart_add(cart=cart, variant_id=variants[i % 3].pk, quantity=1 + i % 2)

    outcomes = run_together(12, change)

    assert [o.error for o in outcomes] == [None] * 12
    expected = {v.pk: sum(1 + i % 2 for i in range(12) if i % 3 == n) for n, v in enumerate(variants)}
    assert _lines(cart) == expected
    assert hold_of(cart.reservation_owner).quantities == expected
    assert Reservation.objects.filter(owner=cart.reservation_owner, status="active").count() == 3


@pytest.mark.django_db
def test_the_cart_shows_its_own_hold_as_its_to_have_and_others_live_holds_as_taken():
    shirt, scarf = stocked_variant(on_hand=5), stocked_variant(on_hand=3)
    cart = Cart.objects.create()
    cart_add(cart=cart, variant_id=shirt.pk, quantity=2)
    cart_add(cart=cart, variant_id=scarf.pk, quantity=1)
    _take(shirt, 1)
    # Someone else's lapsed hold counts for nothing.
    stock_reserve(lines=[StockLine(scarf.pk, 2)], owner="order:LAPSED", ttl=timedelta(minutes=5))
    Reservation.objects.filter(owner="order:LAPSED").update(expires_at=timezone.now() - timedelta(seconds=1))

    view = cart_view(cart)

    assert {item.variant.pk: item.available for item in view.lines} == {shirt.pk: 4, scarf.pk: 3}
    own = Reservation.objects.filter(owner=cart.reservation_owner, status=Reservation.Status.ACTIVE)
    assert view.reserved_until == min(own.values_list("expires_at", flat=True))

    # Lapsed, the cart's own hold is no one's: the same units, and nothing held until then.
    _lapse(cart)
    lapsed = cart_view(cart)
    assert {item.variant.pk: item.available for item in lapsed.lines} == {shirt.pk: 4, scarf.pk: 3}
    assert lapsed.reserved_until is None
