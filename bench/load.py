#!/usr/bin/env python
"""
Page speed under load: requests per second and p50/p95/p99 latency of the storefront's main
pages at 1, 16 and 64 concurrent clients, served by gunicorn with the production settings and
Redis (bench/stack.py), driven by wrk from another process; each page's throughput divided by
that of a trivial view measured in the same run (the ratio is what to compare between
machines), with the catalog page cache on (warm) and off (cold).

    .venv/bin/python bench/load.py                         # 10,000 products, ~10 minutes
    .venv/bin/python bench/load.py --duration 3 --clients 1,16 --products 1000 --only listing
    .venv/bin/python bench/load.py --cache off --clients 16 --reuse   # keep a seeded database

Needs wrk (https://github.com/wg/wrk): `apt-get install -y wrk` on Debian/Ubuntu.

Pages: a trivial view (bench/urls_trivial.py: an HttpResponse through the same middleware, at
a bench-only URL the stack's settings add; never a URL of the shop; measured again right
before every page, which is divided by that neighbour: on a shared machine the load moves
during a run), home, the listing (page 1, page 50, a category, filtered by in_stock +
min_price, a search, most expensive first), a product page, the cart page with a cart of 3
lines (made first over HTTP with the add-to-cart form; its session cookie is then sent by
wrk), and the API's product list. Before the measured runs each page gets a short warm-up.
wrk is a closed loop: each of the N connections sends its next request when the last one is
answered.

--cache both (default) runs every page twice, each time on a fresh gunicorn: with the page
cache on (CATALOG_CACHE_SECONDS as production has it; the warm-up fills it) and with it off
(CATALOG_CACHE_SECONDS=0: every request builds its page from the database, as after a price
or stock change, for a filter nobody asked for lately, or at a cold start).

Drops and recreates the database `bench_load` (--database; --reuse keeps it when it exists:
seed_demo only adds missing products); the Redis databases (--redis-db, default 11 and 12)
are flushed. The rate limits are raised for the run (stack.py says which). Targets on the
2-core reference machine (docs/PERFORMANCE.md): at 16 clients, listing and product pages p95
under 50 ms; warm listing and product page ≥ 0.6× the trivial view; cold listing, category,
search, product page and cart ≥ 0.25×, the filtered listing ≥ 0.15×. Exits 1 when a page
answered anything but 2xx or a connection failed (the figures would be meaningless).

--sql-floor adds, with the page cache off, a row after each page with a ratio target: the same
page answered after running its SQL statements alone, with no ORM and no templates
(bench/urls_trivial.py). Its ratio is the most any rendering of that page could reach with the
queries it makes today; the target lines print it beside the page's.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
TARGET_P95_MS = 50
TARGET_CLIENTS = 16
TARGET_PAGES = ("listing", "product")  # page names starting with these have the p95 target

TRIVIAL = "trivial view"
TRIVIAL_PATH = "/__bench/trivial/"  # bench/urls_trivial.py
TRIVIAL_URLCONF = "bench.urls_trivial"
SQL_PATH = "/__bench/sql/"  # bench/urls_trivial.py: a page's SQL statements alone
SQL_PREFIX = "its SQL alone: "  # the name of a --sql-floor row, before the page's
# Ratios to the trivial view at TARGET_CLIENTS, by cache mode and page name prefix.
RATIO_TARGETS = {
    "on": {"listing p1": 0.6, "product": 0.6},
    "off": {
        "listing p1": 0.25,
        "category": 0.25,
        "listing search": 0.25,
        "product": 0.25,
        "listing filter": 0.15,
        "cart": 0.25,
    },
}

PAGES = [
    (TRIVIAL, TRIVIAL_PATH),
    ("home", "/"),
    ("listing p1", "/products/"),
    ("listing p50", "/products/?page=50"),
    ("category", "/products/?category=apparel"),
    ("listing filter", "/products/?in_stock=on&min_price=20"),
    ("listing search", "/products/?q=product+004"),
    ("listing by price", "/products/?sort=-price"),
    ("product", "/products/load-test-00042/"),
    ("cart (3 lines)", "/cart/"),
    ("API products", "/api/v1/products/"),
]
CART_PRODUCTS = ("load-test-00001", "load-test-00002", "load-test-00003")


@dataclass
class Cell:
    cache: str
    page: str
    clients: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    baseline: float | None = None  # the trivial view's req/s measured just before this cell


def wrk(url: str, *, clients: int, seconds: int, headers: dict[str, str]) -> dict:
    """One wrk run; answers wrk_report.lua's totals (latencies in microseconds)."""
    command = [
        "wrk",
        "--threads",
        str(min(clients, 2)),
        "--connections",
        str(clients),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(WRK_SCRIPT),
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    result = subprocess.run(command + [url], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    output = result.stdout
    line = next((line for line in output.splitlines() if line.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    return json.loads(line.removeprefix("WRK_RESULT "))


def cart_cookie(base_url: str) -> str:
    """Fills a guest cart with one unit of each CART_PRODUCTS product through the product
    pages' add-to-cart form; answers the Cookie header that names it."""
    client = stack.Client(base_url)
    for handle in CART_PRODUCTS:
        page = client.get(f"/products/{handle}/")
        page.raise_for_status()
        # The form names the variant, or (a product with options) its checked option values.
        choice = dict(re.findall(r'name="(variant|option[123])" value="([^"]*)"(?: checked)?', page.text)[:1])
        choice.update(re.findall(r'name="(option[123])" value="([^"]*)" checked', page.text))
        added = client.post(
            f"/products/{handle}/",
            data={"csrfmiddlewaretoken": stack.form_token(page.text), **choice, "quantity": 1},
        )
        if added.status_code != 302:
            raise RuntimeError(f"add to cart of {handle} answered {added.status_code}: {added.text[:500]}")
    cart = client.get("/cart/")
    missing = [handle for handle in CART_PRODUCTS if f"/products/{handle}/" not in cart.text]
    if cart.status_code != 200 or missing:
        raise RuntimeError(f"the cart page answered {cart.status_code} without {missing}")
    return client.cookie_header()


def _cell(cache: str, name: str, count: int, result: dict) -> Cell:
    return Cell(
        cache=cache,
        page=name,
        clients=count,
        requests_per_second=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p95_ms=result["p95_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non_2xx=result["non2xx"],
        socket_errors=result["socket_errors"],
    )


def _with_sql_floor(pages: list[tuple[str, str]], cache: str) -> list[tuple[str, str]]:
    """`pages`, each page with a ratio target for `cache` followed by its SQL alone
    (bench/urls_trivial.py), named SQL_PREFIX + its name."""
    out = []
    for name, path in pages:
        out.append((name, path))
        if _target(cache, name) is not None:
            out.append((SQL_PREFIX + name, f"{SQL_PATH}?{urlencode({'path': path})}"))
    return out


def measure(
    base_url: str, *, cache: str, clients: list[int], seconds: int, warmup: int, only: str, sql_floor: bool = False
) -> list[Cell]:
    """Every page at every concurrency, each run right after a run of the trivial view at the
    same concurrency: the page's ratio is to that neighbour (Cell.baseline), so that a change
    of the machine's load during the run (a shared machine) moves both alike. `sql_floor`
    (page cache off): each page with a ratio target is followed by its SQL alone."""
    cookie = cart_cookie(base_url)
    trivial_url = base_url + TRIVIAL_PATH
    cells = []
    for name, path in _with_sql_floor(PAGES, cache) if sql_floor and cache == "off" else PAGES:
        if only and only not in name and name != TRIVIAL:
            continue
        headers = dict(stack.HTTPS_HEADERS)
        if dict(PAGES).get(name.removeprefix(SQL_PREFIX)) == "/cart/":
            headers["Cookie"] = cookie
        url = base_url + path
        if warmup:
            wrk(url, clients=4, seconds=warmup, headers=headers)
        for count in clients:
            baseline = None
            if name != TRIVIAL:
                base = _cell(cache, TRIVIAL, count, wrk(trivial_url, clients=count, seconds=seconds, headers=headers))
                baseline = base.requests_per_second
            cell = _cell(cache, name, count, wrk(url, clients=count, seconds=seconds, headers=headers))
            cell.baseline = baseline or cell.requests_per_second
            print(
                f"  cache {cache}: {name} × {count}: {cell.requests_per_second:.1f} req/s, p95 {cell.p95_ms:.1f} ms; "
                f"trivial view just before {cell.baseline:.1f} req/s: {cell.requests_per_second / cell.baseline:.2f}×",
                flush=True,
            )
            cells.append(cell)
    return cells


def _target(cache: str, page: str) -> float | None:
    """The ratio target of `page` (a name of PAGES) with the page cache `cache`, if any."""
    if page.startswith(SQL_PREFIX):
        return None
    return RATIO_TARGETS[cache].get(page) or next(
        (v for k, v in RATIO_TARGETS[cache].items() if page.startswith(k)), None
    )


def ratio(cells: list[Cell], cell: Cell) -> float | None:
    """`cell`'s req/s divided by the trivial view's measured just before it (same cache mode
    and concurrency)."""
    return cell.requests_per_second / cell.baseline if cell.baseline else None


def table(cells: list[Cell]) -> str:
    lines = [
        "| page cache | page | clients | req/s | trivial req/s | × trivial | p50 ms | p95 ms | p99 ms | non-2xx "
        "| socket errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        r = ratio(cells, c)
        lines.append(
            f"| {c.cache} | {c.page} | {c.clients} | {c.requests_per_second:.1f} | {c.baseline or 0:.1f} | "
            f"{'-' if r is None else f'{r:.2f}'} | {c.p50_ms:.1f} | {c.p95_ms:.1f} | "
            f"{c.p99_ms:.1f} | {c.non_2xx} | {c.socket_errors} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000, help="synthetic products to seed (default 10000)")
    parser.add_argument("--duration", type=int, default=8, help="whole seconds per measured run (default 8)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="whole seconds of warm-up per page, 0 for none (default 2)"
    )
    parser.add_argument("--clients", default="1,16,64", help="comma-separated concurrencies (default 1,16,64)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"gunicorn workers (default WEB_CONCURRENCY or 2 × cores + 1 = {stack.default_web_workers()})",
    )
    parser.add_argument("--only", default="", help="only the pages whose name contains this, e.g. listing")
    parser.add_argument("--database", default="bench_load", help="database to (re)create (default bench_load)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database if it exists (seed_demo adds what is missing)"
    )
    parser.add_argument(
        "--cache", choices=("both", "on", "off"), default="both", help="the page cache on, off or both (default)"
    )
    parser.add_argument(
        "--redis-db", type=int, default=None, help="one Redis database for cache and broker (default 11 and 12)"
    )
    parser.add_argument(
        "--sql-floor",
        action="store_true",
        help="also measure each page with a ratio target by its SQL statements alone (bench/urls_trivial.py)",
    )
    parser.add_argument("--ports", default="", help="the range gunicorn may bind, e.g. 18600-18699 (default any)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (https://github.com/wg/wrk)", file=sys.stderr)
        return 2
    clients = [int(n) for n in args.clients.split(",")]
    redis = {} if args.redis_db is None else {"redis_db": args.redis_db, "broker_db": args.redis_db}
    ports = None
    if args.ports:
        first, last = (int(n) for n in args.ports.split("-"))
        ports = range(first, last + 1)

    print(f"machine: {stack.machine_summary()}; load average {stack.load_average()} at start")
    cells: list[Cell] = []
    modes = ["on", "off"] if args.cache == "both" else [args.cache]
    for n, mode in enumerate(modes):
        with stack.Stack(
            database=args.database,
            products=args.products,
            web=1,
            web_workers=args.workers,
            settings_extra=f'ROOT_URLCONF = "{TRIVIAL_URLCONF}"  # the shop\'s URLs + {TRIVIAL_PATH}\n',
            env_extra={} if mode == "on" else {"CATALOG_CACHE_SECONDS": "0"},
            reuse_database=args.reuse or n > 0,
            ports=ports,
            **redis,
        ) as running:
            print(
                f"page cache {mode}: wrk, {args.duration} s per cell after a {args.warmup} s warm-up per page; "
                f"{args.products} synthetic products; load average {stack.load_average()}",
                flush=True,
            )
            cells += measure(
                running.urls[0],
                cache=mode,
                clients=clients,
                seconds=args.duration,
                warmup=args.warmup,
                only=args.only,
                sql_floor=args.sql_floor,
            )
    print(f"load average at the end: {stack.load_average()}")
    print()
    print(table(cells))
    print()
    for c in cells:
        if c.cache == "on" and c.clients == TARGET_CLIENTS and c.page.startswith(TARGET_PAGES):
            verdict = "met" if c.p95_ms < TARGET_P95_MS else "MISSED"
            print(
                f"target p95 < {TARGET_P95_MS} ms at {TARGET_CLIENTS} clients, {c.page}: {c.p95_ms:.1f} ms, {verdict}"
            )
    floors = {(c.cache, c.clients, c.page.removeprefix(SQL_PREFIX)): c for c in cells if c.page.startswith(SQL_PREFIX)}
    for c in cells:
        wanted = _target(c.cache, c.page)
        r = ratio(cells, c)
        if c.clients == TARGET_CLIENTS and wanted is not None and r is not None:
            verdict = "met" if r >= wanted else "MISSED"
            floor = floors.get((c.cache, c.clients, c.page))
            alone = "" if floor is None else f" (its SQL alone: {ratio(cells, floor):.2f}×)"
            print(f"target ≥ {wanted}× trivial, page cache {c.cache}, {c.page}: {r:.2f}×, {verdict}{alone}")
    failed = [c for c in cells if c.non_2xx or c.socket_errors]
    for c in failed:
        print(
            f"FAILED: cache {c.cache}, {c.page} × {c.clients}: {c.non_2xx} non-2xx responses, "
            f"{c.socket_errors} socket errors"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
