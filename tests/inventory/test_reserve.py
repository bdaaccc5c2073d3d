from datetime import timedelta

import pytest

from inventory.exceptions import InsufficientStock
from inventory.selectors import availability
from inventory.services import StockLine, stock_reserve
from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db


def test_it_reserves_and_lowers_availability():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))
    assert availability([variant.pk]) == {variant.pk: 2}


def test_it_refuses_all_lines_when_one_is_short():
    plenty, scarce = stocked_variant(on_hand=5), stocked_variant(on_hand=1)
    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(
            lines=[StockLine(plenty.pk, 2), StockLine(scarce.pk, 2)], owner="order:A", ttl=timedelta(minutes=1)
        )
    assert [(line.sku, line.requested, line.available) for line in exc.value.lines] == [(scarce.sku, 2, 1)]
    assert availability([plenty.pk, scarce.pk]) == {plenty.pk: 5, scarce.pk: 1}
