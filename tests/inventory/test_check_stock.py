"""manage.py check_stock: proves on_hand == Σ ledger (and the newest ledger row) for every
variant and that no "deny" variant is oversold; exits 1 naming the SKU when not."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Reservation, StockItem, StockMovement
from inventory.services import StockLine, stock_commit, stock_policy_set, stock_reserve
from tests.factories import VariantFactory, stocked_variant

pytestmark = pytest.mark.django_db


def check_stock() -> tuple[int, str]:
    """(exit status, stdout) of the command."""
    out = StringIO()
    try:
        call_command("check_stock", stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def sold(variant, quantity: int, owner: str) -> None:
    stock_reserve(lines=[StockLine(variant.pk, quantity)], owner=owner, ttl=timedelta(minutes=15))
    stock_commit(owner=owner, reference=owner)


def test_a_clean_shop_is_consistent_and_exits_0():
    sold(stocked_variant(on_hand=5), 2, "order:A")
    backordered = stocked_variant(on_hand=1)
    stock_policy_set(variant=backordered, backorder_policy=StockItem.BackorderPolicy.CONTINUE)
    sold(backordered, 3, "order:B")
    VariantFactory()  # never stocked: no row, no ledger, zero

    status, out = check_stock()

    assert status == 0
    assert out.strip() == "All 3 variants consistent."


def test_an_on_hand_changed_behind_the_ledgers_back_is_named_and_exits_1():
    stocked_variant(on_hand=5, sku="GOOD-1")
    variant = stocked_variant(on_hand=5, sku="MUG-RED")
    StockItem.objects.filter(variant=variant).update(on_hand=7)

    status, out = check_stock()

    assert status == 1
    assert "MUG-RED  stored=7  expected=5  (Σ ledger differs)" in out
    assert "GOOD-1" not in out


def test_a_ledger_row_whose_on_hand_after_disagrees_is_named():
    variant = stocked_variant(on_hand=5, sku="TEE-S")
    StockMovement.objects.filter(variant=variant).update(on_hand_after=4)

    status, out = check_stock()

    assert status == 1
    assert "TEE-S  stored=5  expected=4  (newest ledger row's on_hand_after differs)" in out


def test_a_deny_variant_holding_more_live_reservations_than_stock_is_oversold():
    variant = stocked_variant(on_hand=2, sku="LAMP-1")
    Reservation.objects.create(
        variant=variant, quantity=3, owner="order:X", expires_at=timezone.now() + timedelta(minutes=5)
    )

    status, out = check_stock()

    assert status == 1
    assert "LAMP-1  stored=2  expected=3  (oversold" in out


def test_reservations_beyond_stock_are_fine_for_a_continue_variant_and_lapsed_ones_never_count():
    backordered = stocked_variant(on_hand=0)
    stock_policy_set(variant=backordered, backorder_policy=StockItem.BackorderPolicy.CONTINUE)
    stock_reserve(lines=[StockLine(backordered.pk, 4)], owner="order:A", ttl=timedelta(minutes=5))
    lapsed = stocked_variant(on_hand=1)
    Reservation.objects.create(
        variant=lapsed, quantity=5, owner="order:B", expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert check_stock()[0] == 0


def test_the_number_of_queries_does_not_grow_with_the_number_of_variants():
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            check_stock()
        return len(ctx.captured_queries)

    for _ in range(2):
        sold(stocked_variant(on_hand=3), 1, f"order:{VariantFactory().pk}")
    few = queries()
    for i in range(10):
        sold(stocked_variant(on_hand=3), 1, f"order:many-{i}")

    assert queries() == few
