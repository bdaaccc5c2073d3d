"""
Never deadlock, never oversell, with overlapping multi-SKU carts: 24 threads (each its own
PostgreSQL connection, released together) keep reserving random carts of 3–5 of 8 SKUs, the
lines in random order with 1–3 units each, and then either commit (paid) or release
(abandoned) them, through inventory.services only. Meanwhile a watcher reads availability
over and over; it must never see on_hand or availability below zero.

A deadlock would surface as PostgreSQL's "deadlock detected" (after deadlock_timeout, 1 s,
before our 2 s lock_timeout could turn the wait into StockBusy), so any such error fails the
test, and the database's own deadlock counter must not move. StockBusy is the designed "busy,
try again" answer to a long queue (24 threads share one GIL here, so a thread holding a row
lock can wait its turn to run for a while on a loaded machine): like a shopper, the thread
tries again, a bounded number of times.
"""

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection

from catalog.models import ProductVariant
from inventory.exceptions import InsufficientStock, StockBusy
from inventory.models import Reservation, StockItem, StockMovement
from inventory.selectors import with_availability
from inventory.services import StockLine, stock_commit, stock_release, stock_reserve
from tests.factories import stocked_variant
from tests.inventory.helpers import run_together
from tests.proofs.helpers import assert_check_stock_passes

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 24
ROUNDS = 10
SKUS = 8
STOCK = 70  # per SKU: sells out about two thirds of the way, so refusals at the edge are exercised too
SEED = 20240603
BUSY_RETRIES = 20


def _deadlocks_so_far() -> int:
    """PostgreSQL's count of deadlocks detected in this database (pg_stat_database)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _retrying_busy(busy: Counter, i: int, action):
    for _ in range(BUSY_RETRIES):
        try:
            return action()
        except StockBusy:
            busy[i] += 1
            time.sleep(0.01)
    return action()  # the last try: a StockBusy now fails the test


def test_24_threads_reserving_overlapping_random_carts_never_deadlock_and_never_oversell():
    variants = [stocked_variant(on_hand=STOCK) for _ in range(SKUS)]
    ids = [v.pk for v in variants]
    committed_by_threads: list[Counter] = [Counter() for _ in range(THREADS)]
    refusals = Counter()
    busy = Counter()
    deadlocks_before = _deadlocks_so_far()
    lowest_seen = {"on_hand": STOCK, "available": STOCK}
    stop = threading.Event()

    def watch():
        # One statement per read, so on_hand and the reservations come from one snapshot.
        try:
            while not stop.is_set():
                for v in with_availability(ProductVariant.objects.filter(pk__in=ids)).values(
                    "stock__on_hand", "available"
                ):
                    lowest_seen["on_hand"] = min(lowest_seen["on_hand"], v["stock__on_hand"])
                    lowest_seen["available"] = min(lowest_seen["available"], v["available"])
                time.sleep(0.005)
        finally:
            connection.close()

    def shopper(i):
        rng = random.Random(SEED + i)
        for n in range(ROUNDS):
            chosen = rng.sample(ids, rng.randint(3, 5))  # random subset, random order
            lines = [StockLine(vid, rng.randint(1, 3)) for vid in chosen]
            owner = f"cart:{i}-{n}"
            try:
                _retrying_busy(busy, i, partial(stock_reserve, lines=lines, owner=owner, ttl=timedelta(minutes=30)))
            except InsufficientStock:
                refusals[i] += 1
                continue
            if rng.random() < 0.5:
                _retrying_busy(busy, i, partial(stock_commit, owner=owner, reference=owner))
                for line in lines:
                    committed_by_threads[i][line.variant_id] += line.quantity
            else:
                stock_release(owner=owner)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        outcomes = run_together(THREADS, shopper, timeout=60)
    finally:
        stop.set()
        watcher.join(10)

    # No deadlock, nothing but the occasional "not enough stock" (and retried "busy").
    assert [repr(o.error) for o in outcomes if o.error is not None] == [], f"busy retries: {sum(busy.values())}"
    assert _deadlocks_so_far() == deadlocks_before
    assert sum(refusals.values()) > 0, "stock never ran short: the edge was not exercised"
    assert lowest_seen["on_hand"] >= 0
    assert lowest_seen["available"] >= 0
    assert not Reservation.objects.filter(status=Reservation.Status.ACTIVE).exists()

    committed = Counter()
    for counts in committed_by_threads:
        committed.update(counts)
    assert sum(committed.values()) > 0
    sold_in_ledger = defaultdict(int)
    for vid, qty in StockMovement.objects.filter(reason=StockMovement.Reason.SALE).values_list(
        "variant_id", "quantity"
    ):
        sold_in_ledger[vid] -= qty
    for vid in ids:
        figure = StockItem.objects.get(variant_id=vid).on_hand
        assert committed[vid] <= STOCK
        assert figure == STOCK - committed[vid] >= 0
        assert sold_in_ledger[vid] == committed[vid]
    assert_check_stock_passes()
