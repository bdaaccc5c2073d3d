#!/usr/bin/env python
"""
The hot path of an order under contention: reserve one unit, then commit it (payment
captured), each in its own transaction, through the real service layer
(inventory.services.stock_reserve, then stock_commit) versus the same locking pattern in raw
SQL with psycopg. Two scenarios: every worker on one hot SKU (a flash sale: all of them queue
on one row lock), and 10,000 SKUs with each order on a random one (little contention).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop .venv/bin/python bench/hot_sku.py
    .venv/bin/python bench/hot_sku.py --workers 1,4,8,16 --duration 10

Drops and recreates the database `shop_bench` (--database) on DATABASE_URL's server and
migrates it. Not part of the test suite.

Workers are OS processes (multiprocessing, spawn), not threads: the service layer spends
most of its time in Python (building ORM queries), so threads would mostly measure the GIL
rather than the database lock; and production runs one process per gunicorn worker too. The
pool is started once, each worker with its own Django and its own connection, and every run
starts all its workers at the same wall-clock instant.

After each run it verifies: no oversell (min on_hand >= 0 and min available >= 0), and units
sold as counted by the workers == the fall of Σ on_hand == the SALE rows in the ledger, with
on_hand == Σ ledger for every variant.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # sets sys.path for the project

HOT_STOCK = 10_000_000
SPREAD_SKUS = 10_000
SPREAD_STOCK = 10_000  # per SKU
LOCK_TIMEOUT_MS = 2000  # the same as settings.STOCK_LOCK_TIMEOUT_MS' default


# -- the two ways of taking an order ---------------------------------------------------------


def _service_order(variant_id: int, owner: str) -> None:
    """One order through the service layer: two transactions, as checkout then payment."""
    from datetime import timedelta

    from inventory.services import StockLine, stock_commit, stock_reserve

    stock_reserve(lines=[StockLine(variant_id, 1)], owner=owner, ttl=timedelta(minutes=15))
    stock_commit(owner=owner, reference=owner)


RAW_RESERVE = (
    # The same steps as stock_reserve: lock the stock row, sum the live holds, insert one.
    f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}",
    "SELECT id, on_hand FROM inventory_stockitem WHERE variant_id = %s FOR UPDATE",
    "SELECT COALESCE(SUM(quantity), 0) FROM inventory_reservation "
    "WHERE variant_id = %s AND status = 'active' AND expires_at > now()",
    "INSERT INTO inventory_reservation (variant_id, quantity, owner, status, expires_at, created_at, updated_at) "
    "VALUES (%s, 1, %s, 'active', now() + interval '15 minutes', now(), now()) RETURNING id",
)
RAW_COMMIT = (
    # The same steps as stock_commit: lock, compare-and-swap the hold to committed,
    # on_hand − 1, one ledger row.
    f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}",
    "SELECT id, on_hand FROM inventory_stockitem WHERE variant_id = %s FOR UPDATE",
    "UPDATE inventory_reservation SET status = 'committed', updated_at = now() "
    "WHERE id = %s AND status = 'active' AND expires_at > now()",
    "UPDATE inventory_stockitem SET on_hand = on_hand - 1 WHERE id = %s RETURNING on_hand",
    "INSERT INTO inventory_stockmovement (variant_id, quantity, reason, reference, note, on_hand_after, created_at) "
    "VALUES (%s, -1, 'sale', %s, '', %s, now())",
)


class RawShort(Exception):
    pass


def _raw_order(conn, variant_id: int, owner: str) -> None:
    """One order in raw SQL, the same two transactions."""
    lock, locked_sql, held_sql, insert_sql = RAW_RESERVE
    with conn.transaction():
        conn.execute(lock)
        stock_id, on_hand = conn.execute(locked_sql, (variant_id,)).fetchone()
        (held,) = conn.execute(held_sql, (variant_id,)).fetchone()
        if on_hand - held < 1:
            raise RawShort()
        (reservation_id,) = conn.execute(insert_sql, (variant_id, owner)).fetchone()
    lock, locked_sql, cas_sql, update_sql, ledger_sql = RAW_COMMIT
    with conn.transaction():
        conn.execute(lock)
        conn.execute(locked_sql, (variant_id,))
        if conn.execute(cas_sql, (reservation_id,)).rowcount != 1:
            raise RawShort()  # the hold lapsed: not ours to sell
        (on_hand_after,) = conn.execute(update_sql, (stock_id,)).fetchone()
        conn.execute(ledger_sql, (variant_id, owner, on_hand_after))


# -- the worker pool --------------------------------------------------------------------------


def worker_main(index: int, url: str, commands, results) -> None:
    common.setup_django(url)
    import psycopg
    from django.db import connection

    from inventory.exceptions import InsufficientStock, StockBusy

    connection.ensure_connection()
    raw = psycopg.connect(common.psycopg_dsn(url), autocommit=True)
    while True:
        command = commands.get()
        if command is None:
            break
        run_id, mode, variant_ids, start_at, duration = command
        rng = random.Random(f"{run_id}-{index}")
        latencies: list[float] = []
        busy = short = 0
        sold: Counter = Counter()
        time.sleep(max(start_at - time.time(), 0))
        end = time.monotonic() + duration
        n = 0
        while time.monotonic() < end:
            variant_id = variant_ids[0] if len(variant_ids) == 1 else rng.choice(variant_ids)
            owner = f"bench:{run_id}:{index}:{n}"
            n += 1
            began = time.perf_counter()
            try:
                if mode == "service":
                    _service_order(variant_id, owner)
                else:
                    _raw_order(raw, variant_id, owner)
            except (StockBusy, psycopg.errors.LockNotAvailable):
                busy += 1
                continue
            except (InsufficientStock, RawShort):
                short += 1
                continue
            latencies.append(time.perf_counter() - began)
            sold[variant_id] += 1
        results.put((index, latencies, busy, short, sum(sold.values())))
    raw.close()
    connection.close()


@dataclass
class Result:
    scenario: str
    mode: str
    workers: int
    duration: float
    orders: int
    busy: int
    short: int
    latencies: list[float] = field(repr=False)
    verified: str = ""

    @property
    def rate(self) -> float:
        return self.orders / self.duration

    def percentile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


class Pool:
    def __init__(self, size: int, url: str):
        ctx = multiprocessing.get_context("spawn")
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(size)]
        self.processes = [
            ctx.Process(target=worker_main, args=(i, url, self.commands[i], self.results), daemon=True)
            for i in range(size)
        ]
        for process in self.processes:
            process.start()

    def run(self, run_id: int, mode: str, workers: int, variant_ids: list[int], duration: float):
        start_at = time.time() + 0.5
        for i in range(workers):
            self.commands[i].put((run_id, mode, variant_ids, start_at, duration))
        reports = [self.results.get(timeout=duration + 120) for _ in range(workers)]
        latencies = [x for r in reports for x in r[1]]
        return latencies, sum(r[2] for r in reports), sum(r[3] for r in reports), sum(r[4] for r in reports)

    def close(self):
        for queue in self.commands:
            queue.put(None)
        for process in self.processes:
            process.join(10)


# -- set-up, verification, report ---------------------------------------------------------------


SCENARIOS = {"hot": "hot SKU", "spread": f"{SPREAD_SKUS // 1000}k SKUs"}
# service: through inventory.services; raw: the same locking in raw SQL.
MODES = ("service", "raw")


def create_stock() -> dict[str, list[int]]:
    """Variant ids by scenario: one hot SKU with HOT_STOCK units and SPREAD_SKUS SKUs with SPREAD_STOCK units each,
    every unit received through the ledger (one RECEIPT row per variant)."""
    from decimal import Decimal

    from django.db import transaction

    from catalog.models import Product, ProductVariant
    from inventory.models import StockItem, StockMovement
    from inventory.services import stock_adjust

    product = Product.objects.create(handle="bench-hot", title="Hot item")
    hot = ProductVariant.objects.create(product=product, sku="BENCH-HOT", price=Decimal("10.00"))
    stock_adjust(variant=hot, quantity=HOT_STOCK, reason=StockMovement.Reason.RECEIPT, reference="bench")
    # 10,000 SKUs in bulk: the same rows stock_adjust would write, a receipt per variant.
    with transaction.atomic():
        product = Product.objects.create(handle="bench-spread", title="Many items")
        variants = ProductVariant.objects.bulk_create(
            [ProductVariant(product=product, sku=f"BENCH-{i:05d}", price=Decimal("10.00")) for i in range(SPREAD_SKUS)],
            batch_size=2000,
        )
        StockItem.objects.bulk_create([StockItem(variant=v, on_hand=SPREAD_STOCK) for v in variants], batch_size=2000)
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    variant=v,
                    quantity=SPREAD_STOCK,
                    reason=StockMovement.Reason.RECEIPT,
                    reference="bench",
                    on_hand_after=SPREAD_STOCK,
                )
                for v in variants
            ],
            batch_size=2000,
        )
    return {"hot": [hot.pk], "spread": [v.pk for v in variants]}


def vacuum(url: str) -> None:
    """Clears the dead row versions one run left on the hot row, so runs start alike."""
    import psycopg

    with psycopg.connect(common.psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE inventory_stockitem, inventory_reservation, inventory_stockmovement")


def verify(before: dict, sold: int) -> str:
    after = common.stock_figures()
    checks = {
        "on_hand >= 0": after["min_on_hand"] >= 0,
        "available >= 0": after["min_available"] >= 0,
        "sold == on_hand decrease": sold == before["on_hand"] - after["on_hand"],
        "sold == ledger sales": sold == after["sales"] - before["sales"],
        "on_hand == Σ ledger per variant": after["mismatched"] == 0,
    }
    failed = [name for name, ok in checks.items() if not ok]
    line = (
        f"sold={sold} on_hand_decrease={before['on_hand'] - after['on_hand']} "
        f"ledger_sales={after['sales'] - before['sales']} mismatched_variants={after['mismatched']} "
        f"min_on_hand={after['min_on_hand']} min_available={after['min_available']}"
    )
    return ("OK " if not failed else "OVERSELL/MISMATCH: " + ", ".join(failed) + " ") + line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="8", help="comma-separated worker counts, e.g. 1,4,8,16 (default 8)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    parser.add_argument("--database", default="shop_bench", help="database to (re)create (default shop_bench)")
    parser.add_argument(
        "--scenarios", default="hot,spread", help="hot (one SKU), spread (10,000 SKUs) or both (default)"
    )
    args = parser.parse_args(argv)
    counts = sorted({int(w) for w in args.workers.split(",")})
    wanted = [s.strip() for s in args.scenarios.split(",")]
    unknown = set(wanted) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from hot, spread")

    url = common.recreate_database(args.database)
    common.setup_django(url)
    common.migrate()
    stock = create_stock()
    scenarios = {SCENARIOS[name]: stock[name] for name in wanted}
    print(
        f"database {args.database}: migrated, stock created; scenarios {', '.join(scenarios)}; "
        f"workers {counts}; {args.duration:g} s per run; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    pool = Pool(max(counts), url)
    results: list[Result] = []
    run_id = 0
    try:
        for scenario, ids in scenarios.items():
            for workers in counts:
                for mode in MODES:
                    run_id += 1
                    vacuum(url)
                    before = common.stock_figures()
                    latencies, busy, short, sold = pool.run(run_id, mode, workers, ids, args.duration)
                    result = Result(scenario, mode, workers, args.duration, len(latencies), busy, short, latencies)
                    assert sold == result.orders
                    result.verified = verify(before, sold)
                    results.append(result)
                    print(
                        f"  {scenario:>11} {mode:>7} workers={workers:<2} {result.rate:8.1f} orders/s "
                        f"p50={result.percentile(50):6.1f} ms p95={result.percentile(95):6.1f} ms "
                        f"busy={busy} short={short}  verify: {result.verified}",
                        flush=True,
                    )
    finally:
        pool.close()

    print()
    print(
        f"{'scenario':>11} | {'mode':>7} | {'workers':>7} | {'orders/s':>9} | "
        f"{'p50 ms':>7} | {'p95 ms':>7} | {'busy':>4} | service/raw"
    )
    print("-" * 84)
    raw_rate = {(r.scenario, r.workers): r.rate for r in results if r.mode == "raw"}
    for r in results:
        ratio = (
            f"{r.rate / raw_rate[(r.scenario, r.workers)]:.2f}"
            if r.mode != "raw" and raw_rate.get((r.scenario, r.workers))
            else ""
        )
        print(
            f"{r.scenario:>11} | {r.mode:>7} | {r.workers:>7} | {r.rate:9.1f} | {r.percentile(50):7.1f} | "
            f"{r.percentile(95):7.1f} | {r.busy:>4} | {ratio}"
        )
    oversold = [r for r in results if not r.verified.startswith("OK")]
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"check_stock: {common.run_check_stock()}")
    print("zero oversell in every run" if not oversold else f"{len(oversold)} run(s) FAILED verification")
    return 1 if oversold else 0


if __name__ == "__main__":
    sys.exit(main())
