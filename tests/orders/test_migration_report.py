"""migration_report: what a merchant checks after switching shops."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orders.importer import orders_differences, orders_import
from orders.models import Order

pytestmark = pytest.mark.django_db


def _report(*args) -> str:
    out = StringIO()
    call_command("migration_report", *args, stdout=out)
    return out.getvalue()


def test_after_importing_the_sample_the_report_shows_no_difference(shopify_catalog, orders_csv):
    orders_import(paths=[orders_csv])
    text = _report("--orders", str(orders_csv))

    assert "Orders: 62 imported, 62 in all" in text
    assert "Order lines: 109 of imported orders, 109 in all" in text
    assert "Orders file(s): 62 orders, 109 lines" in text
    for line in (
        "2024: 28 orders, revenue 5621.47, refunds 294.39",
        "2025: 24 orders, revenue 4888.54, refunds 354.44",
        "2026: 10 orders, revenue 2490.47, refunds 43.59",
        "all: 62 orders, revenue 13000.48, refunds 692.42",
    ):
        assert text.count(line) == 2, line  # here, and in the file
    assert "No differences" in text
    assert orders_differences(paths=[orders_csv]) == []


def test_a_lost_order_and_a_changed_total_are_differences_and_exit_1(shopify_catalog, orders_csv):
    orders_import(paths=[orders_csv])
    Order.objects.filter(number="#1062").delete()
    Order.objects.filter(number="#1001").update(total=Decimal("120.00"))
    order = Order.objects.get(number="#1002")
    line = order.lines.first()
    line.quantity = 3
    line.save()

    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("migration_report", "--orders", str(orders_csv), stdout=out)
    assert failed.value.returncode == 1
    text = out.getvalue()
    assert "#1062: in the file, not here" in text
    assert "#1001: total 125.21 in the file, 120.00 here" in text
    assert "#1002 line 1: quantity 2 in the file, 3 here" in text


def test_without_files_the_report_only_counts(db):
    text = _report()
    assert "Orders: 0 imported, 0 in all" in text
    assert "all: 0 orders, revenue 0.00, refunds 0.00" in text
