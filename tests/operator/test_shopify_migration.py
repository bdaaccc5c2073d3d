"""Switching a shop over, as a merchant does it, through the commands: the two product
catalogs, the customers and the orders of ../shared/data/shopify/ come in completely, the
migration report finds nothing lost, and a second run changes nothing."""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Max

from accounts.models import Address, User
from inventory.models import StockMovement
from orders.models import EmailLog, Invoice, Order, OrderLine
from tests.catalog.conftest import SHOPIFY_DIR

pytestmark = pytest.mark.django_db

CATALOGS = [SHOPIFY_DIR / "apparel.csv", SHOPIFY_DIR / "home-and-garden.csv"]
CUSTOMERS = SHOPIFY_DIR / "customers.csv"
ORDERS = SHOPIFY_DIR / "orders.csv"


@pytest.fixture(autouse=True)
def shared_files(monkeypatch):
    if not all(path.exists() for path in [*CATALOGS, CUSTOMERS, ORDERS]):
        pytest.skip(f"the shared Shopify exports are not in {SHOPIFY_DIR}")

    def urlopen(request, timeout=None):  # no internet: images become placeholders
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def migrate_everything() -> list[str]:
    return [
        run("import_products", *map(str, CATALOGS)),
        run("import_customers", str(CUSTOMERS)),
        run("import_orders", str(ORDERS)),
    ]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def file_totals_per_year() -> dict[str, Decimal]:
    """Σ Total of the orders file per year of "Created at" (the shop's own date), read here
    from the file itself: an order's Total is on its first row (Financial Status filled)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in read(ORDERS):
        if row["Financial Status"]:
            totals[row["Created at"][:4]] += Decimal(row["Total"])
    return dict(totals)


def state() -> dict[str, object]:
    """What a second import must leave exactly as it was."""
    return {
        "users": User.objects.count(),
        "users_updated": list(User.objects.order_by("pk").values_list("pk", "email", "password", "note", "tags")),
        "addresses": Address.objects.count(),
        "orders": Order.objects.count(),
        "orders_updated": Order.objects.aggregate(Max("updated_at"))["updated_at__max"],
        "lines": list(OrderLine.objects.order_by("pk").values_list("pk", "variant_id", "quantity", "line_total")),
        "movements": StockMovement.objects.count(),
    }


def test_both_samples_come_in_completely_and_the_report_finds_nothing_lost():
    migrate_everything()

    customers, orders = read(CUSTOMERS), read(ORDERS)
    first_rows = [row for row in orders if row["Financial Status"]]
    assert User.objects.filter(imported_at__isnull=False).count() == len(customers) == 40
    assert Order.objects.filter(imported_at__isnull=False).count() == len(first_rows) == 62
    assert OrderLine.objects.count() == len(orders) == 109
    # History only: the orders took no stock, issued no invoice and sent no email.
    assert StockMovement.objects.exclude(reason=StockMovement.Reason.IMPORT).count() == 0
    assert Invoice.objects.count() == 0 and EmailLog.objects.count() == 0
    # Every order of a known customer is on that customer's account.
    known = {row["Email"].lower() for row in customers}
    for order in Order.objects.exclude(email=""):
        assert (order.user is not None) == (order.email.lower() in known), order.number

    report = run("migration_report", "--orders", str(ORDERS), "--customers", str(CUSTOMERS))

    assert "No differences: nothing was lost." in report
    totals = file_totals_per_year()
    assert sum(totals.values()) == Decimal("13000.48")
    for year, total in totals.items():
        count = sum(1 for row in first_rows if row["Created at"].startswith(year))
        assert f"  {year}: {count} orders, revenue {total:.2f}, " in report


def test_a_second_run_of_every_import_changes_nothing():
    migrate_everything()
    before = state()

    summaries = migrate_everything()

    assert state() == before
    assert "0 created, 0 updated, 40 unchanged" in summaries[0]
    assert "Customers: 0 created, 0 updated, 40 unchanged" in summaries[1]
    assert "Orders: 0 created, 0 updated, 62 unchanged" in summaries[2]


def test_the_customers_export_gives_back_the_files_spent_and_order_counts(tmp_path):
    migrate_everything()
    exported = tmp_path / "customers.csv"

    call_command("export_customers", str(exported), stderr=io.StringIO())

    source = {row["Email"].lower(): row for row in read(CUSTOMERS)}
    rows = read(exported)
    assert len(rows) == len(source)
    for row in rows:
        original = source[row["Email"].lower()]
        assert (row["Total Spent"], row["Total Orders"]) == (original["Total Spent"], original["Total Orders"])
        assert row["Customer ID"] == original["Customer ID"]


def test_the_orders_export_is_the_file_that_came_in(tmp_path):
    migrate_everything()
    exported = tmp_path / "orders.csv"

    call_command("export_orders", str(exported), stderr=io.StringIO())

    # Shopify writes some empty fields as "": a CSV reader reads both as empty.
    assert read(exported) == read(ORDERS)


def test_a_customer_whose_orders_did_not_all_come_over_is_a_difference():
    migrate_everything()
    Order.objects.filter(number="#1001").delete()  # one of zoe.martin@example.com's 4 orders
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("migration_report", "--customers", str(CUSTOMERS), stdout=out)

    assert failed.value.returncode == 1
    text = out.getvalue()
    assert "zoe.martin@example.com: Total Orders 4 in the file, 3 here" in text
    assert "zoe.martin@example.com: Total Spent 424.13 in the file, 298.92 here" in text
