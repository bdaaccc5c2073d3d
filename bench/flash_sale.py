#!/usr/bin/env python
"""
Checkout under a flash sale: N virtual shoppers (default 200) start at the same instant and go
through the JSON API as a mobile client does, each buying one unit:

    POST /api/v1/cart/items/                     a guest cart (X-Cart-Token)
    POST /api/v1/checkout/                       open the checkout
    PATCH /api/v1/checkout/<id>/ (twice)         address, then a shipping method
    POST /api/v1/checkout/<id>/place-order/      Idempotency-Key + the reviewed fingerprint
    POST /api/v1/orders/<number>/payments/       gateway "dummy" (X-Order-Token)
    GET + POST /payments/dummy/<ref>/complete/   the dummy gateway's page: "Pay"
    GET /api/v1/orders/<number>/                 the order is "paid"

A shopper told `stock_busy` (409, Retry-After) tries place-order again, up to --retries times,
with the same Idempotency-Key. Two scenarios, one after the other on the same stack:
  hot     every shopper on one SKU with --hot-stock units (default 50 for 200 shoppers)
  spread  each shopper on a random one of 1,000 SKUs with plenty of stock

Printed per scenario: paid orders per second and shoppers done per second (paid or refused),
both over the wall time from the start to the last shopper's end, place-order answers per
second while shoppers were placing (the figure closest to hot_sku.py's), p50/p95 of
place-order and of the whole journey, the outcome of every shopper, errors by kind (step,
HTTP status, error code), and the stock invariants: no oversell (lowest on_hand and lowest
available >= 0), units sold == the fall of on_hand == the SALE rows of the ledger == the
units of the paid orders, and `manage.py check_stock` passes. Exits 1 if any of these fails.

    .venv/bin/python bench/flash_sale.py                      # about 2 minutes here
    .venv/bin/python bench/flash_sale.py --shoppers 50 --scenarios hot --baseline

--sale-opens: every shopper first gets the checkout ready (cart, checkout, address, shipping)
and waits; when all are ready the sale opens and they place their orders at once, then pay. The
place-order answers/s is then the rush on the stock alone, as a sale that opens at a set time
sees it, instead of place-orders mixed with the others' carts and addresses.

The hot-SKU figure is printed next to the command that measures the raw-SQL baseline of the
same stock locking (bench/hot_sku.py); --baseline runs it (~30 s more) and shows its output.

Runs on bench/stack.py (one gunicorn instance, production settings, Redis; no Celery worker
unless --celery: the follow-ups of a paid order, invoice and email, wait in the queue). Drops
and recreates the database `bench_flash` (--database). The rate limits are raised for the run.

--pgbouncer puts PgBouncer (Debian's, transaction pooling, --pgbouncer-pool-size server
connections, fewer than the gunicorn workers) between the web processes and PostgreSQL, with
DATABASE_POOLER=pgbouncer (docs/DEPLOY.md); every check above must hold through it, and a
shopper's error of any kind fails the run. --compare runs the same scenarios directly first, on
a stack of their own, and prints the pooled figures as a ratio of the direct ones.

    .venv/bin/python bench/flash_sale.py --pgbouncer --compare --database bench_pgbouncer --redis-db 7
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import stack

HOT_SKU = "LT-00001-S"
SPREAD_SKUS = 1_000
ADDRESS = {
    "name": "Flash Shopper",
    "line1": "1 Sale Street",
    "city": "Springfield",
    "country_area": "IL",  # a US address needs its state (kernel.addresses)
    "postal_code": "62701",
    "country": "US",
}
BASELINE_COMMAND = [
    sys.executable,
    str(Path(__file__).resolve().parent / "hot_sku.py"),
    "--scenarios",
    "hot",
    "--workers",
    "8",
    "--duration",
    "5",
    "--database",
    "bench_hot_sku",
]


class Refused(Exception):
    """A step did not answer what a successful journey needs; str() is the error's kind."""


@dataclass
class Journey:
    outcome: str = "paid"  # or the kind of the error that stopped it
    seconds: float = 0.0
    place_order_seconds: list[float] = field(default_factory=list)
    place_order_span: tuple[float, float] | None = None  # perf_counter at the first send, last answer
    retried: int = 0


def error_kind(step: str, response) -> str:
    """'<step> <status> <error code>' (the API's {"error": {"code"}}), e.g. 'place-order 409 insufficient_stock'."""
    code = ""
    # Any failure to read it counts as no code: an HTML page or an empty body has none.
    with contextlib.suppress(Exception):
        code = response.json()["error"]["code"]
    return f"{step} {response.status_code} {code}".strip()


def expect(step: str, response, *statuses: int):
    if response.status_code not in statuses:
        raise Refused(error_kind(step, response))
    return response


def shop(
    base_url: str,
    variant_id: int,
    email: str,
    key: str,
    *,
    retries: int,
    start: threading.Event,
    sale_opens: threading.Barrier | None = None,
) -> Journey:
    """One shopper's journey (module docstring); never raises. With `sale_opens`, the shopper
    waits there with the checkout ready (or having failed before) until every shopper is."""
    client = stack.Client(base_url)
    journey = Journey()
    start.wait()
    began = time.perf_counter()
    waited = False

    def wait_for_the_sale() -> None:
        nonlocal waited
        if sale_opens is not None and not waited:
            waited = True
            sale_opens.wait(timeout=300)

    try:
        cart = expect("cart", client.post("/api/v1/cart/items/", json={"variant_id": variant_id, "quantity": 1}), 201)
        as_owner = {"X-Cart-Token": cart.headers["X-Cart-Token"]}
        checkout = expect("checkout", client.post("/api/v1/checkout/", headers=as_owner), 201).json()
        url = f"/api/v1/checkout/{checkout['id']}/"
        details = {**ADDRESS, "email": email}
        checkout = expect("address", client.request("PATCH", url, json=details, headers=as_owner), 200).json()
        if not checkout["shipping_methods"]:
            raise Refused("address: no shipping method")
        method = checkout["shipping_methods"][0]["id"]
        chosen = {"shipping_method": method}
        checkout = expect("shipping", client.request("PATCH", url, json=chosen, headers=as_owner), 200).json()
        wait_for_the_sale()
        while True:
            started = time.perf_counter()
            placed = client.post(
                f"{url}place-order/",
                json={"fingerprint": checkout["fingerprint"]},
                headers={**as_owner, "Idempotency-Key": key},
            )
            answered = time.perf_counter()
            journey.place_order_seconds.append(answered - started)
            first = journey.place_order_span[0] if journey.place_order_span else started
            journey.place_order_span = (first, answered)
            if (
                placed.status_code == 409
                and error_kind("", placed).endswith("stock_busy")
                and journey.retried < retries
            ):
                journey.retried += 1
                time.sleep(min(float(placed.headers.get("Retry-After", 1)), 1.0))
                continue
            break
        placed = expect("place-order", placed, 201).json()
        number, as_buyer = placed["order"]["number"], {"X-Order-Token": placed["order_token"]}
        payment = expect(
            "pay", client.post(f"/api/v1/orders/{number}/payments/", json={"gateway": "dummy"}, headers=as_buyer), 201
        )
        gateway_page = "/" + payment.json()["redirect_url"].split("://", 1)[1].split("/", 1)[1]
        page = expect("gateway page", client.get(gateway_page), 200)
        form = {"csrfmiddlewaretoken": stack.form_token(page.text), "outcome": "pay"}
        expect("gateway pay", client.post(f"{gateway_page}complete/", data=form), 302)
        order = expect("order", client.get(f"/api/v1/orders/{number}/", headers=as_buyer), 200).json()
        if order["status"] != "paid":
            raise Refused(f"order {order['status']}")
    except Refused as exc:
        journey.outcome = str(exc)
    except Exception as exc:  # noqa: BLE001 — a timeout or a reset connection is a result too
        journey.outcome = f"{type(exc).__name__}"
    finally:
        with contextlib.suppress(threading.BrokenBarrierError):
            wait_for_the_sale()  # a shopper who failed before the sale still lets it open
    journey.seconds = time.perf_counter() - began
    return journey


def run_shoppers(
    base_urls: list[str], variant_ids: list[int], scenario: str, *, retries: int, sale_opens: bool = False
) -> tuple[list[Journey], float]:
    """One thread per shopper, all released at once; shopper i uses base_urls[i % len] and
    variant_ids[i]. With `sale_opens`, every shopper gets the checkout ready and only then do
    they all place their orders. Answers the journeys and the wall time in seconds."""
    start = threading.Event()
    barrier = threading.Barrier(len(variant_ids)) if sale_opens else None
    with ThreadPoolExecutor(max_workers=len(variant_ids)) as pool:
        futures = [
            pool.submit(
                shop,
                base_urls[i % len(base_urls)],
                variant_id,
                f"{scenario}-{i}@example.com",
                f"{scenario}-{i}",
                retries=retries,
                start=start,
                sale_opens=barrier,
            )
            for i, variant_id in enumerate(variant_ids)
        ]
        time.sleep(0.5)  # every thread is waiting at the start line
        began = time.perf_counter()
        start.set()
        journeys = [future.result() for future in futures]
    return journeys, time.perf_counter() - began


# -- stock and orders, read from the database ---------------------------------------------------


def set_on_hand(sku: str, units: int) -> int:
    """Brings the variant's stock to `units` through the ledger; answers its id."""
    from catalog.models import ProductVariant
    from inventory.models import StockItem, StockMovement
    from inventory.services import stock_adjust

    variant = ProductVariant.objects.get(sku=sku)
    change = units - StockItem.objects.get(variant=variant).on_hand
    if change:
        stock_adjust(variant=variant, quantity=change, reason=StockMovement.Reason.ADJUSTMENT, note="flash sale bench")
    return variant.pk


def spread_variant_ids(count: int) -> list[int]:
    from catalog.models import ProductVariant

    synthetic = ProductVariant.objects.filter(sku__startswith="LT-").exclude(sku=HOT_SKU).order_by("pk")
    ids = list(synthetic.values_list("pk", flat=True)[:count])
    if len(ids) < count:
        raise SystemExit(f"only {len(ids)} synthetic SKUs: seed more products (--products)")
    return ids


def scenario_orders(scenario: str) -> dict[str, int]:
    """Orders of this scenario (by their shoppers' emails) by status, and 'paid_units'."""
    from django.db.models import Count, Sum

    from orders.models import Order, OrderLine

    orders = Order.objects.filter(email__startswith=f"{scenario}-")
    counts = {row["status"]: row["n"] for row in orders.values("status").annotate(n=Count("pk"))}
    paid_lines = OrderLine.objects.filter(order__in=orders.filter(status="paid"))
    counts["paid_units"] = paid_lines.aggregate(n=Sum("quantity"))["n"] or 0
    return counts


def stock_problems(before: dict[str, int], after: dict[str, int], orders: dict[str, int]) -> list[str]:
    """The invariants of the module docstring; empty when all hold."""
    problems = []
    if after["min_on_hand"] < 0 or after["min_available"] < 0:
        problems.append(f"OVERSELL: min on_hand {after['min_on_hand']}, min available {after['min_available']}")
    if after["mismatched"]:
        problems.append(f"{after['mismatched']} variants whose on_hand differs from their ledger")
    sold, fall = after["sales"] - before["sales"], before["on_hand"] - after["on_hand"]
    if not sold == fall == orders["paid_units"]:
        problems.append(
            f"units sold by the ledger {sold}, fall of on_hand {fall}, units of paid orders {orders['paid_units']}"
        )
    check = common.run_check_stock()
    if check != "ok":
        problems.append(f"check_stock: {check}")
    return problems


# -- report -------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile (0.95: p95) of `values` in milliseconds; 0 for none."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1] * 1000


def report(
    scenario: str, journeys: list[Journey], seconds: float, orders: dict[str, int], problems: list[str]
) -> tuple[float, float]:
    """Prints the scenario's figures; answers (paid orders/s, place-order answers/s)."""
    paid = [j for j in journeys if j.outcome == "paid"]
    place_times = [s for j in journeys for s in j.place_order_seconds]
    spans = [j.place_order_span for j in journeys if j.place_order_span]
    # Place-order answers (placed or refused) per second while any shopper was placing: the
    # figure to hold against hot_sku.py's, which times the stock locking alone.
    window = max(end for _, end in spans) - min(start for start, _ in spans) if spans else 0
    placed_rate = len(place_times) / window if window else 0.0
    rate = len(paid) / seconds
    print(f"\n### {scenario}: {len(journeys)} shoppers, {seconds:.1f} s from start to the last shopper's end")
    print(
        "| paid orders/s | shoppers done/s | place-order answers/s | paid | place-order p50 / p95 ms "
        "| journey p50 / p95 ms (paid) | stock_busy retries |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {rate:.1f} | {len(journeys) / seconds:.1f} | {placed_rate:.1f} | {len(paid)} | "
        f"{percentile(place_times, 0.5):.0f} / {percentile(place_times, 0.95):.0f} | "
        f"{percentile([j.seconds for j in paid], 0.5):.0f} / {percentile([j.seconds for j in paid], 0.95):.0f} | "
        f"{sum(j.retried for j in journeys)} |"
    )
    print("outcomes: " + ", ".join(f"{kind}: {n}" for kind, n in Counter(j.outcome for j in journeys).most_common()))
    print("orders in the database: " + ", ".join(f"{k} {v}" for k, v in sorted(orders.items())))
    if orders.get("paid", 0) != len(paid):
        problems.append(f"shoppers saw {len(paid)} paid orders, the database has {orders.get('paid', 0)}")
    verdict = "ok (no oversell, ledger == on_hand == paid units, check_stock ok)" if not problems else "FAILED"
    print(f"stock invariants: {verdict}")
    for problem in problems:
        print(f"  FAILED: {problem}")
    return rate, placed_rate


# What a shopper may be told in a flash sale: sold out, or still busy after the retries.
REFUSALS = ("place-order 409 insufficient_stock", "place-order 409 stock_busy")


def run_scenario(
    running: stack.Stack,
    scenario: str,
    variant_ids: list[int],
    *,
    retries: int,
    strict: bool = False,
    sale_opens: bool = False,
) -> tuple[tuple[float, float], bool]:
    """Runs and reports one scenario: ((paid orders/s, place-order answers/s), invariants hold).
    `strict`: any outcome but paid or one of REFUSALS (a 5xx, a timeout, a reset connection)
    fails it too."""
    before = common.stock_figures()
    journeys, seconds = run_shoppers(running.urls, variant_ids, scenario, retries=retries, sale_opens=sale_opens)
    orders = scenario_orders(scenario)
    problems = stock_problems(before, common.stock_figures(), orders)
    if strict:
        errors = Counter(j.outcome for j in journeys if j.outcome != "paid" and j.outcome not in REFUSALS)
        problems += [f"shoppers' errors: {kind} × {n}" for kind, n in errors.items()]
    return report(scenario, journeys, seconds, orders, problems), not problems


def pgbouncer_summary(pgbouncer: stack.PgBouncer, database: str) -> str:
    """What PgBouncer did for `database`: client and server connections, transactions and
    queries it passed, and the time clients waited for a server connection."""
    pool = next((row for row in pgbouncer.show("POOLS") if row["database"] == database), {})
    stats = next((row for row in pgbouncer.show("STATS") if row["database"] == database), {})
    clients = sum(1 for row in pgbouncer.show("CLIENTS") if row["database"] == database)
    servers = sum(1 for row in pgbouncer.show("SERVERS") if row["database"] == database)
    waited = int(stats.get("total_wait_time", 0)) / 1e6  # microseconds
    return (
        f"PgBouncer ({database}): {clients} client connections shared {servers} server connections "
        f"(pool size {pgbouncer.pool_size}; now {pool.get('sv_active', 0)} active, {pool.get('sv_idle', 0)} idle, "
        f"{pool.get('cl_waiting', 0)} clients waiting); {stats.get('total_xact_count', 0)} transactions, "
        f"{stats.get('total_query_count', 0)} queries; clients waited {waited:.1f} s in all for a server connection"
    )


def run_stack(
    args, pgbouncer: stack.PgBouncer | None, rng: random.Random
) -> tuple[dict[str, tuple[float, float]], bool]:
    """The chosen scenarios on a stack of their own (through `pgbouncer` if given): their
    (paid orders/s, place-order answers/s) by name, and whether every check held."""
    results: dict[str, tuple[float, float]] = {}
    ok = True
    redis = {"redis_db": args.redis_db, "broker_db": args.redis_db} if args.redis_db is not None else {}
    # 1,000 SKUs need 334 synthetic products (3 variants each); a few more for the hot one.
    with stack.Stack(
        database=args.database,
        products=SPREAD_SKUS // 3 + 2,
        web=1,
        web_workers=args.workers,
        celery=args.celery,
        pgbouncer=pgbouncer,
        **redis,
    ) as running:
        running.django()
        strict = pgbouncer is not None
        if args.scenarios in ("hot", "both"):
            hot = set_on_hand(HOT_SKU, args.hot_stock)
            print(f"\nhot: {args.shoppers} shoppers, one unit each of {HOT_SKU} ({args.hot_stock} in stock)")
            results["hot"], passed = run_scenario(
                running, "hot", [hot] * args.shoppers, retries=args.retries, strict=strict, sale_opens=args.sale_opens
            )
            ok &= passed
        if args.scenarios in ("spread", "both"):
            skus = spread_variant_ids(SPREAD_SKUS)
            print(f"\nspread: {args.shoppers} shoppers, one unit each of a random one of {SPREAD_SKUS} SKUs")
            picks = [rng.choice(skus) for _ in range(args.shoppers)]
            results["spread"], passed = run_scenario(
                running, "spread", picks, retries=args.retries, strict=strict, sale_opens=args.sale_opens
            )
            ok &= passed
        if pgbouncer is not None:
            print("\n" + pgbouncer_summary(pgbouncer, args.database))
        if running.exited():
            print(f"FAILED: processes exited during the run: {', '.join(running.exited())}")
            ok = False
    # The database is closed before the next stack drops it.
    from django.db import connections

    connections.close_all()
    return results, ok


def baseline_raw_rate(output: str) -> float | None:
    """The raw-SQL orders/s of the hot SKU in hot_sku.py's summary table, if it has one."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and cells[0] == "hot SKU" and cells[1] == "raw":
            return float(cells[3])
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=200, help="virtual shoppers per scenario (default 200)")
    parser.add_argument("--hot-stock", type=int, default=50, help="units of the hot SKU (default 50)")
    parser.add_argument("--scenarios", choices=["hot", "spread", "both"], default="both")
    parser.add_argument("--retries", type=int, default=2, help="place-order retries after stock_busy (default 2)")
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default WEB_CONCURRENCY or 2 × cores + 1)"
    )
    parser.add_argument("--celery", type=int, default=0, help="Celery workers for the follow-ups (default 0)")
    parser.add_argument(
        "--baseline", action="store_true", help="also run bench/hot_sku.py's hot scenario (the raw-SQL baseline, ~30 s)"
    )
    parser.add_argument(
        "--sale-opens",
        action="store_true",
        help="every shopper gets the checkout ready first, then all place their orders at once "
        "(place-order answers/s is then the rush alone, not mixed with carts and addresses)",
    )
    parser.add_argument("--database", default="bench_flash", help="database to (re)create (default bench_flash)")
    parser.add_argument(
        "--baseline-database",
        default=BASELINE_COMMAND[-1],
        help=f"database --baseline (re)creates (default {BASELINE_COMMAND[-1]})",
    )
    parser.add_argument(
        "--redis-db", type=int, default=None, help="Redis database for the cache and broker (default 11 and 12)"
    )
    parser.add_argument(
        "--pgbouncer", action="store_true", help="web processes through PgBouncer in transaction pooling mode"
    )
    parser.add_argument("--pgbouncer-pool-size", type=int, default=3, help="PgBouncer's server connections (default 3)")
    parser.add_argument(
        "--pgbouncer-ports", default="18300-18399", help="ports PgBouncer may listen on (default 18300-18399)"
    )
    parser.add_argument(
        "--compare", action="store_true", help="with --pgbouncer: first the same scenarios without it, for the ratio"
    )
    args = parser.parse_args()

    print(f"machine: {stack.machine_summary()}; load average {stack.load_average()} at start")
    ok = True
    direct: dict[str, tuple[float, float]] = {}
    if args.pgbouncer and args.compare:
        print("\n## without PgBouncer (web processes straight to PostgreSQL)")
        direct, ok = run_stack(args, None, random.Random(8))
    pgbouncer = None
    if args.pgbouncer:
        low, high = (int(port) for port in args.pgbouncer_ports.split("-"))
        pgbouncer = stack.PgBouncer(ports=range(low, high + 1), pool_size=args.pgbouncer_pool_size)
        print("\n## through PgBouncer (transaction pooling, DATABASE_POOLER=pgbouncer)")
    results, passed = run_stack(args, pgbouncer, random.Random(8))
    ok &= passed
    for scenario, (rate, placing) in results.items():
        if scenario not in direct:
            continue
        direct_rate, direct_placing = direct[scenario]
        print(
            f"\n{scenario} through PgBouncer: {rate:.1f} paid orders/s ({rate / direct_rate:.2f}× direct "
            f"{direct_rate:.1f}), {placing:.1f} place-order answers/s ({placing / direct_placing:.2f}× direct "
            f"{direct_placing:.1f})"
        )
    if "hot" in results:
        hot_rate, hot_placing = results["hot"]
        print(
            f"\nhot SKU over HTTP: {hot_rate:.1f} paid orders/s, {hot_placing:.1f} place-order answers/s "
            "(one gunicorn instance; every step of the journey over HTTP)."
        )
        print(
            "Raw-SQL baseline of the same stock locking (reserve + commit, no HTTP): "
            + " ".join(
                Path(part).name if part.endswith(".py") else part
                for part in [*BASELINE_COMMAND[1:-1], args.baseline_database]
            )
        )
        if args.baseline:
            command = [*BASELINE_COMMAND[:-1], args.baseline_database]
            result = subprocess.run(command, capture_output=True, text=True)
            table = [line for line in result.stdout.splitlines() if "|" in line or line.startswith("---")]
            print("\n".join(table) if table else result.stdout + result.stderr)
            raw = baseline_raw_rate(result.stdout)
            if raw:
                print(
                    f"ratio to raw SQL (same run): place-order answers/s {hot_placing / raw:.2f}×, "
                    f"paid orders/s {hot_rate / raw:.2f}× (raw SQL {raw:.1f} orders/s)"
                )
    print(f"load average at the end: {stack.load_average()}")
    print("\nresult: " + ("all invariants hold" if ok else "INVARIANT FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
