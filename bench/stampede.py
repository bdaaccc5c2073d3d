#!/usr/bin/env python
"""
No stampede: while 16 clients (threads of this script, each sending its next request when the
last one is answered) keep asking for the product listing (a popular page, served
from the catalog page cache), a variant's price is changed through the model as staff's
admin does (its post-save signal retires every catalog entry on commit) several times; after
each retirement the script counts how many requests rebuilt the listing's entry, that is read
the database for it (catalog/cache.py's per-kind counter catalog:stats:rebuilds:list). One
request rebuilds it while the others are served the previous entry or wait for it: the
target is 1 rebuild per retirement, never one per request in flight.

    .venv/bin/python bench/stampede.py                         # 10,000 products, ~1 minute
    .venv/bin/python bench/stampede.py --products 1000 --retirements 5 --workers 8

gunicorn runs --workers sync workers (default 8, so that up to 8 requests are in Django at
once: with 2, at most 2 could ever rebuild together). Drops and recreates the database
(--database, default bench_stampede; --reuse keeps it); flushes its Redis database(s).
Exits 1 when a retirement cost more than one rebuild, none, or a request failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

LISTING = "/products/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000, help="synthetic products to seed (default 10000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", type=int, default=8, help="gunicorn sync workers (default 8)")
    parser.add_argument("--retirements", type=int, default=8, help="price changes (default 8)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between them (default 2)")
    parser.add_argument("--database", default="bench_stampede", help="database to (re)create")
    parser.add_argument("--reuse", action="store_true", help="keep the database if it exists")
    parser.add_argument("--redis-db", type=int, default=None, help="one Redis database for cache and broker")
    parser.add_argument("--ports", default="", help="the range gunicorn may bind, e.g. 18600-18699")
    args = parser.parse_args()
    redis = {} if args.redis_db is None else {"redis_db": args.redis_db, "broker_db": args.redis_db}
    ports = None
    if args.ports:
        first, last = (int(n) for n in args.ports.split("-"))
        ports = range(first, last + 1)

    print(f"machine: {stack.machine_summary()}; load average {stack.load_average()} at start")
    with stack.Stack(
        database=args.database,
        products=args.products,
        web=1,
        web_workers=args.workers,
        reuse_database=args.reuse,
        ports=ports,
        **redis,
    ) as running:
        # This process retires the entries in the stack's own cache.
        os.environ["REDIS_URL"] = running.redis_url
        running.django()
        from django.db import transaction

        from catalog.cache import rebuild_count
        from catalog.models import ProductVariant

        base_url = running.urls[0]
        headers = dict(stack.HTTPS_HEADERS)
        client = stack.Client(base_url)
        assert client.get(LISTING).status_code == 200  # the entry exists before the load starts
        variant = ProductVariant.objects.order_by("pk").first()
        stop = threading.Event()
        served: list[int] = []  # status codes, appended by the shoppers

        def shopper() -> None:
            import requests

            session = requests.Session()
            while not stop.is_set():
                try:
                    served.append(session.get(base_url + LISTING, headers=headers, timeout=60).status_code)
                except requests.RequestException:
                    served.append(0)

        shoppers = [threading.Thread(target=shopper) for _ in range(args.clients)]
        print(
            f"{args.clients} clients (a closed loop each) on {LISTING}, gunicorn × {args.workers} workers; "
            f"{args.retirements} price changes",
            flush=True,
        )
        started = time.monotonic()
        for thread in shoppers:
            thread.start()
        time.sleep(1.5)
        per_retirement = []
        for n in range(args.retirements):
            before = rebuild_count("list")
            with transaction.atomic():
                variant.price = variant.price + (Decimal("1.00") if n % 2 == 0 else Decimal("-1.00"))
                variant.save()  # the post-save signal retires every catalog entry on commit
            # Until the entry is rebuilt (a loaded machine may take seconds), then the interval:
            # every rebuild counted belongs to this retirement.
            deadline = time.monotonic() + 60
            while rebuild_count("list") == before and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(args.interval)
            rebuilt = rebuild_count("list") - before
            per_retirement.append(rebuilt)
            print(f"  retirement {n + 1}: the listing rebuilt {rebuilt}×", flush=True)
        stop.set()
        for thread in shoppers:
            thread.join()
        elapsed = time.monotonic() - started
        # django-redis logs the cache errors it ignores (a timeout on a loaded machine reads as
        # a miss, which may cost a rebuild of its own).
        log = (running.workdir / "web1.log").read_text(errors="replace")
        cache_errors = sum(1 for line in log.splitlines() if "redis" in line.lower() and "error" in line.lower())
    print(f"load average at the end: {stack.load_average()}")
    failures = sum(1 for status in served if status != 200)
    print()
    print(f"requests served: {len(served)} in {elapsed:.0f} s ({len(served) / elapsed:.0f} req/s), not 200: {failures}")
    print(f"cache errors the web processes logged (ignored, read as misses): {cache_errors}")
    print(
        f"rebuilds of the listing's entry per retirement: {per_retirement} "
        f"(target 1 each, under {args.clients} clients)"
    )
    failed = any(n != 1 for n in per_retirement) or failures
    print("FAILED" if failed else "met: one request reached the database per retirement")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
