"""Row locks with a bounded wait, in one place: what pretix keeps in
base/services/locking.py and Saleor in warehouse/lock_objects.py.

- Rows are locked with SELECT … FOR UPDATE in primary-key order. Two transactions that lock
  the same rows therefore queue for the first one and can never deadlock.
- The wait is bounded by PostgreSQL's lock_timeout (SET LOCAL: it ends with the transaction):
  a flash sale piles hundreds of buyers onto one row, and past a couple of seconds a shopper
  is better served by "busy, please try again" than by a page that hangs.
- A lock wait that runs out (SQLSTATE 55P03) or a deadlock PostgreSQL broke (40P01, a
  backstop) becomes the caller's "busy" error: StockBusy, CheckoutBusy (HTTP 409).

SQLite (`make run`) has neither row locks nor lock_timeout: its transactions start IMMEDIATE
and queue for the database's write lock (config/settings/base.py), so there the wait bound is
left out and the ordering costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import QuerySet

# lock_not_available (lock_timeout ran out) and deadlock_detected.
BUSY_SQLSTATES = ("55P03", "40P01")


def lock_timeout_sql(milliseconds: int) -> str:
    """The PostgreSQL statement lock_timeout_set runs, for a caller that sends it in one
    message with the statements it bounds (one round trip instead of two)."""
    return f"SET LOCAL lock_timeout = {int(milliseconds)}"


def lock_timeout_set(milliseconds: int) -> None:
    """Bounds every lock wait of the rest of the current transaction to `milliseconds`
    (PostgreSQL; nothing elsewhere). Must run inside a transaction: SET LOCAL ends with it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(lock_timeout_sql(milliseconds))


def multi_statement_messages() -> bool:
    """True when the connection can send several SQL statements, parameters included, as one
    message (one round trip) and read each one's result with cursor.nextset(): PostgreSQL
    through psycopg 3 with client-side binding (Django's default; not with the database
    OPTIONS' server_side_binding, whose extended protocol takes one statement at a time).
    Each statement of such a message still takes its own snapshot, as if sent alone."""
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get("server_side_binding")


@contextmanager
def busy_on_lock_timeout(busy: Callable[[], Exception]) -> Iterator[None]:
    """Raises busy() (from the database error) when a statement inside the block gave up
    waiting for a lock or was chosen to break a deadlock; any other error passes unchanged.

    Put it around the whole transaction (outside its atomic block): once lock_timeout is set,
    any later statement of the transaction may be the one that waits."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) in BUSY_SQLSTATES:
            raise busy() from exc
        raise


def rows_lock(rows: QuerySet, *, busy: Callable[[], Exception], timeout_ms: int | None = None) -> list:
    """Locks the rows of `rows` (FOR UPDATE of their own table, in primary-key order), waiting
    at most `timeout_ms` milliseconds (default settings.STOCK_LOCK_TIMEOUT_MS), and returns
    them in that order.

    Must run inside a transaction: it holds the locks until it ends, and its later lock waits
    are bounded too (wrap it in busy_on_lock_timeout to map those). Raises busy() when the
    wait runs out or a deadlock is broken."""
    with busy_on_lock_timeout(busy):
        lock_timeout_set(settings.STOCK_LOCK_TIMEOUT_MS if timeout_ms is None else timeout_ms)
        return list(rows.order_by("pk").select_for_update(of=("self",)))


def advisory_lock(name: str) -> None:
    """Takes PostgreSQL's transaction-level advisory lock named `name` (hashed to its key),
    waiting while another transaction holds it; it is released when the current transaction
    ends. The imports take one for their writes, so that the same import run twice at once
    writes once: the second waits for the first to commit, then finds every row there and
    changes nothing (instead of both inserting and the second failing on a unique key).
    Must run inside a transaction. Nothing on SQLite, whose writers queue for the database's
    write lock anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
