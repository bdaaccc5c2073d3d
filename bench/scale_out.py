#!/usr/bin/env python
"""
Scale-out run: two gunicorn instances and two Celery workers on one PostgreSQL and one Redis
(bench/stack.py, production settings, each instance on its own port, no proxy in front),
driven at the same time by N virtual shoppers (default 200) split between the two ports. Half
of them buy the hot SKU (--hot-stock units, default 50), the other half a random one of 1,000
SKUs, each half split evenly between the two instances; every journey is flash_sale.py's
(cart, checkout, place order, dummy payment).

After the shoppers, it waits (up to --drain-timeout seconds) for the Celery queue to drain and
every paid order's follow-ups (orders.tasks.order_paid_followups: invoice, then confirmation
email) to be done, then checks:
  - no oversell, and units sold == fall of on_hand == SALE ledger rows == units of paid
    orders, check_stock passes (as flash_sale.py);
  - every paid order has exactly one Invoice, exactly one sent EmailLog "order_confirmation",
    and exactly one confirmation message recorded by the mail backend (stack.py's
    RecordingEmailBackend, which sees what Django actually handed over for sending: a
    duplicate send would show there even though EmailLog is unique per order);
  - no order that is not paid has an invoice or a confirmation.
Exits 1 if any check fails.

    .venv/bin/python bench/scale_out.py                  # about 3 minutes here
    .venv/bin/python bench/scale_out.py --shoppers 40 --hot-stock 10

Drops and recreates the database `bench_scale` (--database). The rate limits are raised for
the run (stack.py says which).

With --replica, catalog reads come from a real PostgreSQL streaming replica
(DATABASE_REPLICA_URL, kernel/replica.py). Before the stack starts, the run makes a second
PostgreSQL 15 cluster with `pg_basebackup -R -X stream` from the primary (DATABASE_URL's
server, 127.0.0.1:5432 here) in a temporary directory, as the postgres user, and starts it on
--replica-port (default 18201) with hot_standby_feedback on; both gunicorn instances get
DATABASE_REPLICA_URL pointing at it. Then:
  1. catalog traffic (listing pages, searches, filters, product pages, the API's list and
     detail; each a different page so that the page cache misses) across both instances:
     scans of catalog_product and catalog_productvariant counted on each server
     (pg_stat_user_tables) show which one served them;
  2. replay on the replica is paused (pg_wal_replay_pause(): unbounded replication lag) and
     the shoppers run as above: the purchase journey (cart, checkout, place order, pay, order
     page) reads and locks the primary, so it behaves as without a replica; the replica's
     stale stock figures are printed beside the primary's, and the hot product's API page shows
     the primary's figure (its page-cache entry was retired by the sales under a token naming
     the primary's WAL position, which the paused replica has not replayed: rebuilt from the
     primary; past DATABASE_REPLICA_MAX_LAG_SECONDS of lag every catalog read moves there);
  3. replay resumes, the replica catches up (the same figures from both servers), and the
     checks above run as always.
The replica is stopped and its directory removed at the end. The primary must accept
replication connections from 127.0.0.1: if its pg_hba.conf has no such line, the run adds
`host replication all 127.0.0.1/32 trust` (and reloads), and takes it out again at the end;
wal_level must be replica or logical (the default) — the run says so and stops otherwise.

    .venv/bin/python bench/scale_out.py --replica --database bench_replica --redis-db 6
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import flash_sale
import stack

SCENARIO = "scale"
CONFIRMATION_SUBJECT = "Order {number} confirmed: thank you"  # orders/emails.py


def followups_pending(running: stack.Stack) -> int:
    """Paid orders still missing their invoice or their sent confirmation, plus messages
    waiting in the broker queue."""
    from orders.models import EmailLog, Order

    paid = Order.objects.filter(email__startswith=f"{SCENARIO}-", status="paid")
    sent = EmailLog.objects.filter(kind="order_confirmation", sent_at__isnull=False).values("key")
    missing = paid.filter(invoice__isnull=True).count() + paid.exclude(number__in=sent).count()
    return missing + running.broker_queue_length()


def drain(running: stack.Stack, timeout: float) -> float:
    """Waits until followups_pending is 0; answers the seconds waited. Raises TimeoutError."""
    began = time.monotonic()
    while (pending := followups_pending(running)) > 0:
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{pending} follow-ups still pending after {timeout:.0f} s")
        if stopped := running.exited():
            raise RuntimeError(f"stack processes exited: {stopped}")
        time.sleep(1)
    return time.monotonic() - began


def followup_problems(mail_dir: Path) -> list[str]:
    """Invoices and confirmations per order against what each order's status calls for."""
    from orders.models import EmailLog, Invoice, Order

    orders = list(Order.objects.filter(email__startswith=f"{SCENARIO}-").values_list("number", "email", "status"))
    invoiced = Invoice.objects.filter(order__email__startswith=f"{SCENARIO}-")
    invoices = Counter(invoiced.values_list("order__number", flat=True))
    logged = Counter(
        EmailLog.objects.filter(kind="order_confirmation", sent_at__isnull=False).values_list("key", flat=True)
    )
    recorded = Counter(stack.recorded_emails(mail_dir))
    problems = []
    for number, email, status in orders:
        want = 1 if status == "paid" else 0
        have = (invoices[number], logged[number], recorded[(email, CONFIRMATION_SUBJECT.format(number=number))])
        if have != (want, want, want):
            problems.append(
                f"order {number} ({status}): invoices {have[0]}, confirmations logged {have[1]}, "
                f"mailed {have[2]}; expected {want} of each"
            )
    return problems


# -- the streaming replica (--replica) --------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SLOT = "bench_scale_out_replica"
HBA_LINE = "host replication all 127.0.0.1/32 trust  # added by bench/scale_out.py --replica"
# A hot standby needs at least the primary's value of each.
STANDBY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


def _primary(query: str, params=()) -> list[tuple]:
    import psycopg

    with psycopg.connect(common.psycopg_dsn(common.database_url("postgres")), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _as_postgres(*command: str) -> None:
    result = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _drop_slot() -> None:
    _primary("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", [SLOT])


class Replica:
    """A PostgreSQL 15 hot standby of the primary, made with pg_basebackup and streaming from
    it, in a temporary directory; stopped and removed on exit. `url(database)` is a URL for
    DATABASE_REPLICA_URL."""

    def __init__(self, port: int):
        self.port = port
        self.added_hba = ""

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> Replica:
        if not PG_BIN.joinpath("pg_basebackup").exists():
            raise RuntimeError(f"{PG_BIN}/pg_basebackup is missing: PostgreSQL 15's server package is needed")
        wal_level = _primary("SHOW wal_level")[0][0]
        if wal_level not in ("replica", "logical"):
            raise RuntimeError(
                f"the primary's wal_level is {wal_level}: a streaming replica needs 'replica' "
                "(ALTER SYSTEM SET wal_level = replica, then restart PostgreSQL)"
            )
        self.workdir = Path(tempfile.mkdtemp(prefix="bench_replica-"))
        self.datadir = self.workdir / "data"
        shutil.chown(self.workdir, "postgres", "postgres")
        self.workdir.chmod(0o700)
        try:
            self._allow_replication()
            self._make()
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _allow_replication(self) -> None:
        """A `host replication` line for 127.0.0.1 in the primary's pg_hba.conf, unless one is
        there (pg_hba_file_rules answers only when it lets us: the file itself is read)."""
        hba = Path(_primary("SHOW hba_file")[0][0])
        rules = [line.split("#", 1)[0].split() for line in hba.read_text().splitlines()]
        if any(len(r) >= 4 and r[0] == "host" and "replication" in r[1].split(",") for r in rules):
            return
        hba.write_text(hba.read_text().rstrip("\n") + "\n" + HBA_LINE + "\n")
        self.added_hba = str(hba)
        _primary("SELECT pg_reload_conf()")
        print(f"replica: added '{HBA_LINE.split('  #')[0]}' to {hba} and reloaded (taken out at the end)")

    def _make(self) -> None:
        started = time.monotonic()
        _drop_slot()  # left by a run that was killed
        _as_postgres(
            str(PG_BIN / "pg_basebackup"),
            "--host=127.0.0.1",
            "--port=5432",
            "--username=postgres",
            f"--pgdata={self.datadir}",
            "--write-recovery-conf",  # standby.signal + primary_conninfo
            "--wal-method=stream",
            "--checkpoint=fast",
            # A slot keeps the primary's WAL from the backup's start until the replica has it:
            # with other work writing, the segments could be recycled before it connects.
            "--create-slot",
            f"--slot={SLOT}",
        )
        minimums = {name: _primary(f"SHOW {name}")[0][0] for name in STANDBY_MINIMUMS}
        # Debian keeps the configuration in /etc: the copy has none, so it gets its own.
        settings = {
            **minimums,
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.workdir}'",
            "hot_standby": "on",
            # The primary keeps the rows a replica query still reads (no "canceling statement
            # due to conflict with recovery" for a listing that meets a vacuum).
            "hot_standby_feedback": "on",
            "shared_buffers": "128MB",
            "logging_collector": "off",
        }
        conf = "\n".join(f"{name} = {value}" for name, value in settings.items()) + "\n"
        for name, text in (
            ("postgresql.conf", conf),
            ("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"),
            ("pg_ident.conf", ""),
        ):
            path = self.datadir / name
            path.write_text(text)
            shutil.chown(path, "postgres", "postgres")
        size = sum(p.stat().st_size for p in self.datadir.rglob("*") if p.is_file())
        print(
            f"replica: pg_basebackup of the primary into {self.datadir} "
            f"({size / 1024 / 1024:.0f} MiB, {time.monotonic() - started:.0f} s)"
        )

    def _start(self) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "--pgdata", str(self.datadir), "--log", str(self.workdir / "log"), "--wait", "start"
        )
        self.started = True
        deadline = time.monotonic() + 60
        while True:  # the WAL receiver connects to the primary a moment after the start
            state = self.query("postgres", "SELECT pg_is_in_recovery(), status FROM pg_stat_wal_receiver")
            if (state and state[0][1] == "streaming") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        senders = _primary("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0]
        print(
            f"replica: PostgreSQL {self.query('postgres', 'SHOW server_version')[0][0]} on 127.0.0.1:{self.port}, "
            f"in recovery {state[0][0] if state else '?'}, WAL receiver {state[0][1] if state else 'not yet'}, "
            f"streaming replicas seen by the primary {senders}"
        )

    def query(self, database: str, query: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(common.psycopg_dsn(self.url(database)), autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def wait_caught_up(self, timeout: float = 120) -> float:
        """Waits until the replica has replayed all WAL the primary had written when called;
        answers the seconds waited."""
        began = time.monotonic()
        target = _primary("SELECT pg_current_wal_lsn()")[0][0]
        while True:
            behind = self.query("postgres", "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn())", [target])[0][0]
            if behind is not None and behind <= 0:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"replica still {behind} bytes behind after {timeout:.0f} s")
            time.sleep(0.2)

    def __exit__(self, *exc_info) -> None:
        if getattr(self, "started", False):
            try:
                _as_postgres(str(PG_BIN / "pg_ctl"), "--pgdata", str(self.datadir), "--mode", "fast", "--wait", "stop")
            except RuntimeError as exc:
                print(f"replica: {exc}")
        _drop_slot()  # else the primary would keep its WAL for the replica forever
        if self.added_hba:
            hba = Path(self.added_hba)
            hba.write_text("".join(line for line in hba.read_text().splitlines(True) if line.strip() != HBA_LINE))
            _primary("SELECT pg_reload_conf()")
        if getattr(self, "workdir", None):
            if exc_info[0] is not None and (self.workdir / "log").exists():
                kept = Path(tempfile.gettempdir()) / "bench_replica-failed.log"
                shutil.copy(self.workdir / "log", kept)
                print(f"replica: its log kept in {kept}")
            shutil.rmtree(self.workdir, ignore_errors=True)
        hba_note = ", pg_hba.conf line taken out" if self.added_hba else ""
        print(f"replica: stopped and removed, its slot dropped{hba_note}")


CATALOG_TABLES = ("catalog_product", "catalog_productvariant")
STATS_DELAY = 11  # seconds


def table_scans(run_query, database: str) -> int:
    """Sequential + index scans of CATALOG_TABLES counted by one server (its own statistics: a
    standby counts the scans its queries do)."""
    rows = run_query(
        database,
        "SELECT COALESCE(sum(seq_scan + COALESCE(idx_scan, 0)), 0) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        [list(CATALOG_TABLES)],
    )
    return int(rows[0][0])


def primary_query(database: str, query: str, params=()) -> list[tuple]:
    import psycopg

    with psycopg.connect(common.psycopg_dsn(common.database_url(database)), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def catalog_paths(rng: random.Random, count: int) -> list[str]:
    """`count` different catalog URLs (storefront and API), so that the page cache misses."""
    from catalog.models import Category, Product

    handles = list(Product.objects.filter(published=True).values_list("handle", flat=True)[:2000])
    categories = list(Category.objects.values_list("slug", flat=True))
    words = ["shirt", "blue", "cotton", "linen", "tee", "sock", "jacket", "dress"]
    makers = [
        lambda n: f"/products/?page={n}",
        lambda n: f"/products/?in_stock=1&min_price={n % 40}&page={1 + n % 3}",
        lambda n: f"/products/?q={words[n % len(words)]}&page={1 + n // len(words)}",
        lambda n: (
            f"/products/?category={categories[n % len(categories)]}&page={1 + n // len(categories)}"
            if categories
            else f"/products/?sort=price&page={n}"
        ),
        lambda n: f"/products/{rng.choice(handles)}/",
        lambda n: f"/api/v1/products/?page={1 + n % 5}&min_price={n}",
        lambda n: f"/api/v1/products/{rng.choice(handles)}/",
    ]
    return [makers[n % len(makers)](1 + n // len(makers)) for n in range(count)]


def catalog_reads(running: stack.Stack, replica: Replica, database: str, count: int) -> list[str]:
    """Step 1 of --replica: catalog requests, and where their catalog scans ran. Answers problems."""
    import requests
    from django.db import connections

    paths = catalog_paths(random.Random(17), count)
    # This process's own reads count on the primary once its backend reports them: closing
    # the connection reports them now, before the count starts. An idle backend reports its
    # table statistics within 10 s (PostgreSQL 15's PGSTAT_IDLE_INTERVAL).
    connections.close_all()
    time.sleep(STATS_DELAY)
    before = (table_scans(primary_query, database), table_scans(replica.query, database))
    statuses: Counter = Counter()
    began = time.perf_counter()
    for n, path in enumerate(paths):
        url = running.urls[n % len(running.urls)] + path
        statuses[requests.get(url, headers=stack.HTTPS_HEADERS, timeout=60).status_code] += 1
    seconds = time.perf_counter() - began
    time.sleep(STATS_DELAY)
    after = (table_scans(primary_query, database), table_scans(replica.query, database))
    on_primary, on_replica = after[0] - before[0], after[1] - before[1]
    print(
        f"\ncatalog reads: {count} different listing, search, filter, product and API pages "
        f"({dict(statuses)}) in {seconds:.1f} s over both instances; scans of {' and '.join(CATALOG_TABLES)}: "
        f"replica +{on_replica}, primary +{on_primary}"
    )
    problems = []
    if set(statuses) != {200}:
        problems.append(f"catalog reads answered {dict(statuses)}, not all 200")
    if on_replica < count:
        problems.append(f"only {on_replica} catalog scans on the replica for {count} catalog pages")
    if on_primary:
        problems.append(f"{on_primary} catalog scans on the primary during catalog-only traffic")
    return problems


def stock_on_both(replica: Replica, database: str, variant_id: int) -> tuple[tuple, tuple]:
    """(on_hand, active reservations) of one variant on the primary and on the replica."""
    query = (
        "SELECT s.on_hand, (SELECT COALESCE(sum(quantity), 0) FROM inventory_reservation r "
        "WHERE r.variant_id = s.variant_id AND r.status = 'active') FROM inventory_stockitem s WHERE s.variant_id = %s"
    )
    return tuple(primary_query(database, query, [variant_id])[0]), tuple(
        replica.query(database, query, [variant_id])[0]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=200, help="virtual shoppers in all (default 200)")
    parser.add_argument("--hot-stock", type=int, default=50, help="units of the hot SKU (default 50)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers per instance (default WEB_CONCURRENCY or 2 × cores + 1)",
    )
    parser.add_argument("--retries", type=int, default=2, help="place-order retries after stock_busy (default 2)")
    parser.add_argument(
        "--drain-timeout", type=float, default=240, help="seconds to wait for the follow-ups (default 240)"
    )
    parser.add_argument("--database", default="bench_scale", help="database to (re)create (default bench_scale)")
    parser.add_argument(
        "--redis-db", type=int, default=None, help="one Redis database for both cache and broker (default: stack's)"
    )
    parser.add_argument("--replica", action="store_true", help="catalog reads from a streaming replica (see above)")
    parser.add_argument("--replica-port", type=int, default=18201, help="the replica's port (default 18201)")
    parser.add_argument(
        "--catalog-requests", type=int, default=140, help="catalog pages read in step 1 of --replica (default 140)"
    )
    args = parser.parse_args()

    print(f"machine: {stack.machine_summary()}; load average {stack.load_average()} at start")
    with contextlib.ExitStack() as resources:
        replica = None
        if args.replica:
            replica = resources.enter_context(Replica(args.replica_port))
            # Read by the stack's processes (stack.Stack.env passes os.environ on).
            os.environ["DATABASE_REPLICA_URL"] = replica.url(args.database)
        problems = run(args, replica)
    print(f"load average at the end: {stack.load_average()}")
    for problem in problems[:20]:
        print(f"FAILED: {problem}")
    if len(problems) > 20:
        print(f"... and {len(problems) - 20} more")
    print("\nresult: " + ("all invariants hold" if not problems else "INVARIANT FAILED"))
    return 1 if problems else 0


def run(args, replica: Replica | None) -> list[str]:
    rng = random.Random(8)
    redis = {} if args.redis_db is None else {"redis_db": args.redis_db, "broker_db": args.redis_db}
    problems: list[str] = []
    with stack.Stack(
        database=args.database,
        products=flash_sale.SPREAD_SKUS // 3 + 2,
        web=2,
        web_workers=args.workers,
        celery=2,
        **redis,
    ) as running:
        running.django()
        hot = flash_sale.set_on_hand(flash_sale.HOT_SKU, args.hot_stock)
        if replica is not None:
            waited = replica.wait_caught_up()
            print(f"replica: caught up with the seeded database {waited:.1f} s after seeding")
            problems += catalog_reads(running, replica, args.database, args.catalog_requests)
            replica.query("postgres", "SELECT pg_wal_replay_pause()")
            print("replica: replay paused (pg_wal_replay_pause): from now on it falls further behind with every write")
        spread = flash_sale.spread_variant_ids(flash_sale.SPREAD_SKUS)
        # Shopper i goes to instance i % 2: pairs alternate between the hot SKU and the
        # spread, so that both instances sell the hot SKU at the same time.
        variant_ids = [hot if (i // 2) % 2 == 0 else rng.choice(spread) for i in range(args.shoppers)]
        print(
            f"\n{args.shoppers} shoppers over {' and '.join(running.urls)} at once, half of them "
            f"on {flash_sale.HOT_SKU} ({args.hot_stock} in stock), "
            f"half on a random one of {flash_sale.SPREAD_SKUS} SKUs"
        )
        before = common.stock_figures()
        journeys, seconds = flash_sale.run_shoppers(running.urls, variant_ids, SCENARIO, retries=args.retries)
        orders = flash_sale.scenario_orders(SCENARIO)
        stock = flash_sale.stock_problems(before, common.stock_figures(), orders)
        flash_sale.report(SCENARIO, journeys, seconds, orders, stock)
        problems += stock
        if replica is not None:
            problems += lagging(running, replica, args.database, hot)
        for n, url in enumerate(running.urls):
            mine = journeys[n :: len(running.urls)]
            print(f"  {url}: {sum(j.outcome == 'paid' for j in mine)} paid of {len(mine)} shoppers")
        try:
            waited = drain(running, args.drain_timeout)
            print(
                f"follow-ups done {waited:.0f} s after the last shopper "
                f"(2 Celery workers × {running.celery_concurrency})"
            )
        except (TimeoutError, RuntimeError) as exc:
            problems.append(str(exc))
        problems += followup_problems(running.mail_dir)
        paid = orders.get("paid", 0)
        print(f"paid orders {paid}: invoices, confirmations logged and confirmations mailed checked one per order")
    return problems


def lagging(running: stack.Stack, replica: Replica, database: str, hot: int) -> list[str]:
    """Steps 2 and 3 of --replica, after the shoppers ran with replay paused: the replica's
    stale figures, a catalog page still served, then replay resumed and caught up."""
    import requests

    problems = []
    lag = replica.query(
        "postgres",
        "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), "
        "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())",
    )[0]
    primary, stale = stock_on_both(replica, database, hot)
    listing = requests.get(f"{running.urls[0]}/products/?page=2&sort=price", headers=stack.HTTPS_HEADERS, timeout=60)
    print(
        f"replica while paused: {int(lag[0]) / 1024:.0f} KiB of WAL received but not replayed, last replayed "
        f"transaction {float(lag[1]):.1f} s old; {flash_sale.HOT_SKU} (on_hand, active reservations): "
        f"primary {primary}, replica {stale}; a listing page answered {listing.status_code}"
    )
    if listing.status_code != 200:
        problems.append(f"a listing page answered {listing.status_code} with replay paused")
    # The hot product's API page: its cache entry was retired by the sales under a token naming
    # the primary's WAL position, which the paused replica has not replayed, so it is rebuilt
    # from the primary (kernel.replica.reads_at_least): the figure shown is the primary's.
    from catalog.models import ProductVariant

    handle = ProductVariant.objects.get(pk=hot).product.handle
    detail = requests.get(f"{running.urls[1]}/api/v1/products/{handle}/", headers=stack.HTTPS_HEADERS, timeout=60)
    shown = next((v["available"] for v in detail.json()["variants"] if v["sku"] == flash_sale.HOT_SKU), None)
    print(
        f"API product page of {flash_sale.HOT_SKU} while paused ({detail.status_code}): available {shown} "
        f"(primary {max(primary[0] - primary[1], 0)}, replica {max(stale[0] - stale[1], 0)})"
    )
    if shown != max(primary[0] - primary[1], 0):
        problems.append(f"the API product page showed {shown} available, the primary has {primary}")
    replica.query("postgres", "SELECT pg_wal_replay_resume()")
    waited = replica.wait_caught_up()
    primary, caught_up = stock_on_both(replica, database, hot)
    print(
        f"replica: replay resumed, caught up in {waited:.1f} s; {flash_sale.HOT_SKU}: "
        f"primary {primary}, replica {caught_up}"
    )
    if primary != caught_up:
        problems.append(f"replica's {flash_sale.HOT_SKU} {caught_up} differs from the primary's {primary}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
