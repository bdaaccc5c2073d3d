"""
Work that runs in child OS processes (multiprocessing, "spawn" context) against the test
database of the parent test. Kept out of the test modules on purpose: a spawned child imports
the module that holds its target function before Django is set up, so nothing here may import
Django (or our apps) at module level.

Every child points Django at the parent's test database through DATABASE_URL and
DJANGO_SETTINGS_MODULE=config.settings.test, set before django.setup().
"""

from __future__ import annotations

import os
import threading
import time


def database_url(settings_dict: dict) -> str:
    """postgres://USER@HOST:PORT/NAME for the database the parent test runs against."""
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{password}" if password else user
    return f"postgres://{credentials}@{host}:{port}/{settings_dict['NAME']}"


def setup_django(db_url: str) -> None:
    """Configures this (child) process's Django against `db_url`. Must run first."""
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()


def _place_and_pay(variant_id: int, token: str, busy_retries: int = 50):
    """One buyer: place an order for one unit (reserve + draft order), start the payment and
    have the provider report it paid. A StockBusy ("busy, try again") is retried, as the
    shopper would."""
    from catalog.models import ProductVariant
    from inventory.exceptions import StockBusy
    from tests.orders.helpers import place_order
    from tests.proofs.helpers import provider_reports_success, start_payment

    variant = ProductVariant.objects.select_related("product").get(pk=variant_id)
    for attempt in range(busy_retries):
        try:
            order = place_order((variant, 1), token=token)
            return provider_reports_success(start_payment(order)), attempt
        except StockBusy:
            time.sleep(0.01)
    raise StockBusy()


def buyers_process(db_url: str, variant_id: int, buyer_ids: list[int], barrier, results) -> None:
    """Runs one thread per buyer in `buyer_ids`; every buyer of every process waits on the
    shared `barrier`, then places, pays and reports (buyer_id, outcome, detail) to `results`.
    outcome is "paid", the exception's class name, or "crash"."""
    try:
        setup_django(db_url)
    except BaseException as exc:  # noqa: BLE001 - the parent must hear about it, not hang
        for buyer_id in buyer_ids:
            results.put((buyer_id, "crash", f"setup: {exc!r}"))
        barrier.abort()
        return
    from django.db import connection

    def buyer(buyer_id: int) -> None:
        try:
            connection.ensure_connection()  # connect before the barrier: start together
            barrier.wait(timeout=60)
            payment, busy = _place_and_pay(variant_id, f"mp-buyer-{buyer_id}")
            results.put((buyer_id, "paid", f"{payment.order.number} status={payment.status} busy={busy}"))
        except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
            results.put((buyer_id, type(exc).__name__, str(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=buyer, args=(b,)) for b in buyer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def order_create_then_hang(db_url: str, variant_id: int, quantity: int, at_stock_reserved, messages) -> None:
    """Calls orders.services.order_create and freezes for good the moment the transaction
    has reserved the stock (the last statement before its COMMIT): by then the order, its
    lines and the reservation are written but not committed, and the stock row is locked.
    The parent is told through `at_stock_reserved` and then kills this process.

    The freeze is a database execute wrapper: it instruments the DB boundary (every SQL
    statement passes through it), not our services."""
    setup_django(db_url)
    from django.db import connection

    from catalog.models import ProductVariant
    from tests.orders.helpers import place_order

    def freeze_after_the_stock_lock(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "FOR UPDATE" in sql and '"inventory_stockitem"' in sql:
            messages.put(("in_transaction", connection.in_atomic_block, os.getpid()))
            at_stock_reserved.set()
            while True:  # until SIGKILL
                time.sleep(3600)
        return result

    variant = ProductVariant.objects.select_related("product").get(pk=variant_id)
    with connection.execute_wrapper(freeze_after_the_stock_lock):
        try:
            place_order((variant, quantity), token="killed-mid-transaction")
        except BaseException as exc:  # should never get here
            messages.put(("error", repr(exc), os.getpid()))
            raise
    messages.put(("finished", "order_create returned without freezing", os.getpid()))
