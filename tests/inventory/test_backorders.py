"""Backorders: a variant with the "continue" policy keeps selling when sold out (on_hand
goes below zero and the ledger shows it); "deny", the default, never sells what it lacks."""

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from cart.models import Cart
from cart.selectors import cart_view
from inventory.exceptions import BackordersOutstanding, InsufficientStock
from inventory.models import Reservation, StockItem, StockMovement
from inventory.selectors import availability, sellable_quantity
from inventory.services import StockLine, stock_adjust, stock_commit, stock_policy_set, stock_reserve
from tests.factories import VariantFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand

pytestmark = pytest.mark.django_db

CONTINUE = StockItem.BackorderPolicy.CONTINUE
DENY = StockItem.BackorderPolicy.DENY
TTL = timedelta(minutes=15)


def backorder_variant(on_hand: int = 0, **kwargs):
    variant = stocked_variant(on_hand=on_hand, **kwargs)
    stock_policy_set(variant=variant, backorder_policy=CONTINUE)
    return variant


def sell(variant, quantity: int, owner: str) -> None:
    stock_reserve(lines=[StockLine(variant.pk, quantity)], owner=owner, ttl=TTL)
    stock_commit(owner=owner, reference=owner)


def test_new_variants_deny_backorders_by_default():
    variant = stocked_variant(on_hand=1)

    assert StockItem.objects.get(variant=variant).backorder_policy == DENY


def test_a_continue_variant_sells_below_zero_and_the_ledger_shows_it():
    variant = backorder_variant(on_hand=2)

    sell(variant, 5, "order:A")

    assert on_hand(variant) == -3
    sale = StockMovement.objects.get(variant=variant, reason=StockMovement.Reason.SALE)
    assert (sale.quantity, sale.on_hand_after) == (-5, -3)
    assert_stock_consistent()


def test_a_continue_variant_is_never_refused_for_lack_of_stock():
    variant = backorder_variant(on_hand=0)

    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=TTL)
    stock_reserve(lines=[StockLine(variant.pk, 4)], owner="order:B", ttl=TTL)

    assert Reservation.objects.filter(variant=variant).count() == 2
    assert on_hand(variant) == 0


def test_a_deny_variant_refuses_what_it_does_not_have_and_stays_at_zero():
    variant = stocked_variant(on_hand=2)

    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(lines=[StockLine(variant.pk, 5)], owner="order:A", ttl=TTL)

    assert [(line.requested, line.available) for line in exc.value.lines] == [(5, 2)]
    assert not Reservation.objects.exists()
    sell(variant, 2, "order:B")
    assert on_hand(variant) == 0
    assert_stock_consistent()


def test_an_order_mixing_policies_is_refused_only_for_the_short_deny_line():
    deny, keep_selling = stocked_variant(on_hand=1), backorder_variant(on_hand=0)

    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(lines=[StockLine(deny.pk, 2), StockLine(keep_selling.pk, 2)], owner="order:A", ttl=TTL)

    assert [line.variant_id for line in exc.value.lines] == [deny.pk]
    assert not Reservation.objects.exists()


def test_the_database_refuses_negative_stock_for_a_deny_variant_but_not_for_continue():
    deny, keep_selling = stocked_variant(on_hand=1), backorder_variant(on_hand=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        StockItem.objects.filter(variant=deny).update(on_hand=-1)
    StockItem.objects.filter(variant=keep_selling).update(on_hand=-1)

    assert on_hand(keep_selling) == -1


def test_switching_back_to_deny_is_refused_while_units_are_owed_to_buyers():
    variant = backorder_variant(on_hand=1)
    sell(variant, 4, "order:A")

    with pytest.raises(BackordersOutstanding) as exc:
        stock_policy_set(variant=variant, backorder_policy=DENY)

    assert exc.value.owed == 3
    assert StockItem.objects.get(variant=variant).backorder_policy == CONTINUE
    stock_adjust(variant=variant, quantity=3, reason=StockMovement.Reason.RECEIPT)
    assert stock_policy_set(variant=variant, backorder_policy=DENY) is True
    assert_stock_consistent()


def test_switching_back_to_deny_counts_live_reservations_as_owed():
    variant = backorder_variant(on_hand=2)
    stock_reserve(lines=[StockLine(variant.pk, 5)], owner="order:A", ttl=TTL)

    with pytest.raises(BackordersOutstanding) as exc:
        stock_policy_set(variant=variant, backorder_policy=DENY)

    assert exc.value.owed == 3


def test_setting_the_same_policy_again_changes_nothing():
    variant = backorder_variant()

    assert stock_policy_set(variant=variant, backorder_policy=CONTINUE) is False


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError):
        stock_policy_set(variant=VariantFactory(), backorder_policy="sometimes")


def test_a_removal_under_continue_ignores_reservations_but_not_the_units_on_the_shelf():
    variant = backorder_variant(on_hand=2)
    stock_reserve(lines=[StockLine(variant.pk, 5)], owner="order:A", ttl=TTL)

    stock_adjust(variant=variant, quantity=-2, reason=StockMovement.Reason.ADJUSTMENT, note="broken")
    with pytest.raises(InsufficientStock):
        stock_adjust(variant=variant, quantity=-1, reason=StockMovement.Reason.ADJUSTMENT)

    assert on_hand(variant) == 0
    assert_stock_consistent()


def test_sellable_quantity_is_unlimited_only_for_continue_variants():
    deny, keep_selling = stocked_variant(on_hand=3), backorder_variant(on_hand=0)
    stock_reserve(lines=[StockLine(deny.pk, 1)], owner="order:A", ttl=TTL)

    assert sellable_quantity([deny.pk, keep_selling.pk]) == {deny.pk: 2, keep_selling.pk: None}
    assert availability([keep_selling.pk]) == {keep_selling.pk: 0}


def test_sellable_quantity_reads_the_stock_rows_once_and_a_variant_without_one_has_none_to_sell(
    django_assert_num_queries,
):
    deny, keep_selling, no_stock_row = stocked_variant(on_hand=1), backorder_variant(on_hand=0), VariantFactory()
    stock_reserve(lines=[StockLine(deny.pk, 1)], owner="order:A", ttl=TTL)

    with django_assert_num_queries(2):
        sellable = sellable_quantity([deny.pk, keep_selling.pk, no_stock_row.pk])

    assert sellable == {deny.pk: 0, keep_selling.pk: None, no_stock_row.pk: 0}


def test_the_product_page_says_available_on_backorder_instead_of_sold_out(client):
    variant = backorder_variant(on_hand=0, product__title="Made to Order Mug")

    page = client.get(variant.product.get_absolute_url()).content.decode()

    assert "Available on backorder" in page
    # The page script's wording (data-text-* attributes, the variants' JSON) is not what shows.
    page = re.sub(r'<script[^>]*>.*?</script>|data-text-[a-z-]+="[^"]*"', "", page, flags=re.S)
    assert "Sold out" not in page
    assert "Email me when" not in page


def test_a_sold_out_deny_variant_still_says_sold_out(client):
    variant = stocked_variant(on_hand=0)

    page = client.get(variant.product.get_absolute_url()).content.decode()

    assert "Sold out" in page
    assert "Available on backorder" not in page


def test_a_shopper_can_put_a_backorder_variant_in_the_cart_and_it_has_no_problem(client):
    variant = backorder_variant(on_hand=0)

    response = client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 3})

    assert response.status_code == 302
    cart = Cart.objects.get()
    assert [(line.variant_id, line.quantity) for line in cart.lines.all()] == [(variant.pk, 3)]
    assert not cart_view(cart).has_problems


def test_a_shopper_cannot_put_more_of_a_deny_variant_in_the_cart_than_there_is(client):
    variant = stocked_variant(on_hand=1)

    response = client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 3})

    assert response.status_code == 200
    assert "Only 1" in response.content.decode()
    assert not Cart.objects.filter(lines__isnull=False).exists()
