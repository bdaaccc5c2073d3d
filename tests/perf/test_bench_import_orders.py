"""bench/import_orders.py's generator: a Shopify orders export whose money adds up by the
README's rules, which import_orders takes whole (a small N here; the bench runs 20,000)."""

import csv
import importlib.util
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Sum

from inventory.importer import catalog_import
from orders.importer import orders_import
from orders.models import Order, OrderLine
from orders.order_export import ORDER_COLUMNS

pytestmark = pytest.mark.django_db

BENCH = Path(settings.BASE_DIR) / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_import_orders", BENCH / "import_orders.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_import_orders", None)
        sys.path.remove(str(BENCH))


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_IMAGE_TIMEOUT_SECONDS = 0.01


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_file_has_shopifys_header_and_money_that_adds_up(bench, tmp_path):
    path = tmp_path / "orders.csv"
    figures = bench.generate(path, 300, seed=7)

    with path.open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == list(ORDER_COLUMNS)
    rows = read(path)
    orders = defaultdict(list)
    for row in rows:
        orders[row["Name"]].append(row)
    assert len(orders) == figures["orders"] == 300
    assert len(rows) == figures["lines"]
    assert {len(lines) for lines in orders.values()} <= {1, 2, 3, 4}
    for number, lines in orders.items():
        first = lines[0]
        money = {c: Decimal(first[c]) for c in ("Subtotal", "Shipping", "Taxes", "Total", "Discount Amount")}
        items = sum(Decimal(r["Lineitem price"]) * int(r["Lineitem quantity"]) for r in lines)
        assert money["Subtotal"] == items - money["Discount Amount"], number
        taxes = [Decimal(first[f"Tax {n} Value"]) for n in range(1, 6) if first[f"Tax {n} Value"]]
        assert money["Taxes"] == sum(taxes, Decimal("0")), number
        assert money["Total"] == money["Subtotal"] + money["Shipping"] + money["Taxes"], number
        if not first["Discount Code"] and money["Discount Amount"]:  # an automatic discount
            assert sum(Decimal(r["Lineitem discount"]) for r in lines) == money["Discount Amount"], number
        assert Decimal(first["Refunded Amount"]) <= money["Total"]
        # Following rows repeat only the order's key columns.
        for row in lines[1:]:
            assert row["Financial Status"] == row["Total"] == row["Billing Name"] == ""
            assert (row["Email"], row["Created at"]) == (first["Email"], first["Created at"])
    # Oldest first, numbered in that order.
    assert list(orders) == [f"#{n}" for n in range(1001, 1301)]
    # Lines by SKU and by name both.
    assert any(r["Lineitem sku"] for r in rows) and any(not r["Lineitem sku"] for r in rows)
    # The same seed gives the same file.
    again = tmp_path / "again.csv"
    bench.generate(again, 300, seed=7)
    assert again.read_bytes() == path.read_bytes()


def test_import_orders_takes_the_generated_file_whole(bench, tmp_path):
    catalog_import(paths=[bench.DEMO_CATALOG])
    path = tmp_path / "orders.csv"
    figures = bench.generate(path, 120, seed=3)

    result = orders_import(paths=[path])

    assert result.created == Order.objects.count() == figures["orders"]
    assert OrderLine.objects.count() == figures["lines"]
    assert OrderLine.objects.filter(variant__isnull=False).count() == figures["matched"]
    totals = Order.objects.aggregate(total=Sum("total"), refunded=Sum("refunded_total"))
    assert (totals["total"], totals["refunded"]) == (figures["total"], figures["refunded"])
