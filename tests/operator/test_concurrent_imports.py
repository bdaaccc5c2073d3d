"""The same import run twice at once (a cron job and an operator, two terminals) writes once:
the second waits for the first to commit, then finds every row there and changes nothing
(kernel.locking.advisory_lock). Real threads, real PostgreSQL connections, committed.

Each test makes the race certain: the first import stops inside its transaction after its
first writes (its progress callback waits), and only then the second starts, validates (it
sees nothing committed yet) and writes."""

from __future__ import annotations

import threading
import time

import pytest

from accounts.importer import customers_import
from accounts.models import User
from inventory.importer import catalog_import
from inventory.models import StockMovement
from orders.importer import orders_import
from orders.models import Order, OrderLine
from tests.catalog.conftest import product_row, write_csv
from tests.conftest import csv_rows_write
from tests.inventory.helpers import run_together
from tests.orders.shopify import order_rows, write_orders

pytestmark = pytest.mark.django_db(transaction=True)

# How long the first import holds its transaction open once the second is on its way.
HOLD_SECONDS = 1.0


def race(first_import, second_import, stage: str):
    """Runs first_import(progress) and, once it has written inside its transaction (its
    progress reached `stage`), second_import(); both in threads. Returns their outcomes."""
    first_wrote = threading.Event()

    def progress(current: str, done: int, total: int) -> None:
        if current == stage and not first_wrote.is_set():
            first_wrote.set()
            time.sleep(HOLD_SECONDS)  # the second runs now, against uncommitted rows

    def work(index: int):
        if index == 0:
            return first_import(progress)
        assert first_wrote.wait(timeout=20), "the first import never wrote"
        return second_import()

    return run_together(2, work)


def test_two_order_imports_at_once_create_each_order_once(tmp_path):
    rows = [row for n in range(1001, 1021) for row in order_rows(f"#{n}")]
    path = write_orders(tmp_path / "orders.csv", rows)

    first, second = race(
        lambda progress: orders_import(paths=[path], progress=progress),
        lambda: orders_import(paths=[path]),
        stage="orders",
    )

    assert (first.error, second.error) == (None, None)
    assert (first.value.created, second.value.created, second.value.unchanged) == (20, 0, 20)
    assert Order.objects.count() == 20
    assert OrderLine.objects.count() == 40


def test_two_customer_imports_at_once_create_each_account_once(tmp_path):
    path = csv_rows_write(
        tmp_path / "customers.csv",
        ["email", "first_name", "last_name"],
        [{"email": f"shopper{n}@example.com", "first_name": "Ann", "last_name": f"Lee {n}"} for n in range(30)],
    )

    first, second = race(
        lambda progress: customers_import(paths=[path], progress=progress),
        lambda: customers_import(paths=[path]),
        stage="customers",
    )

    assert (first.error, second.error) == (None, None)
    assert (first.value.created, second.value.created, second.value.unchanged) == (30, 0, 30)
    assert User.objects.count() == 30


def test_two_product_imports_at_once_create_each_product_and_its_stock_once(tmp_path):
    rows = [product_row(f"lamp-{n}", f"Lamp {n}", **{"Variant Inventory Qty": "5"}) for n in range(10)]
    path = write_csv(tmp_path / "products.csv", rows)

    first, second = race(
        lambda progress: catalog_import(paths=[path], progress=progress),
        lambda: catalog_import(paths=[path]),
        stage="products",
    )

    assert (first.error, second.error) == (None, None)
    assert (first.value.products_created, second.value.products_created) == (10, 0)
    assert second.value.products_unchanged == 10
    assert StockMovement.objects.count() == 10
