"""
Catalog reads from a PostgreSQL streaming replica (DATABASE_REPLICA_URL).

Nothing reads from the replica unless both hold:
- a replica is configured: settings.REPLICA_DATABASE names its alias ("replica" when
  DATABASE_REPLICA_URL is set, else "" and the router below decides nothing at all);
- the code runs inside `replica_reads()`, which only the catalog's read-only views enter
  (the storefront's home, listing, search and product page on GET, the API's product list,
  product detail and categories, the sitemap).

Even then, a read goes to the primary ("default") when:
- its model's app is not one of settings.REPLICA_APPS (the catalog and the availability
  shown beside it): the session, the signed-in user, the cart, orders, payments and
  everything a shopper just wrote are read from the primary wherever they are read;
- a transaction is open on the primary: whatever runs in `transaction.atomic` (reserving
  stock, placing an order, paying) reads what it locks and writes;
- something in the same `replica_reads()` block has written (the rest of that block reads
  the primary, so it never misses its own write);
- inside `primary_reads()`, which a catalog view uses for the shopper's own data;
- while the replica is unreachable or more than REPLICA_MAX_LAG_SECONDS behind, as this
  process last found it (`replica_usable`, a look every REPLICA_CHECK_SECONDS).

Writes always go to the primary; nothing is migrated on the replica (it is a copy of the
primary, made and kept by PostgreSQL). What the replica serves may lag the primary by its
replication delay: pages and API answers that only show the catalog. Whether stock can be
sold is always decided on the primary, under the stock row's lock (inventory.services).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

_F = TypeVar("_F", bound=Callable[..., Any])
logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What primary_position() answers when it cannot ask: no replica ever replays that far, so
# whatever waits for it reads the primary.
UNREACHABLE_POSITION = "FFFFFFFF/FFFFFFFF"


@dataclass
class _Scope:
    replica: bool  # reads of REPLICA_APPS may go to the replica
    wrote: bool = False  # a write happened in this scope: the rest reads the primary


_scope: ContextVar[_Scope | None] = ContextVar("kernel_replica_scope", default=None)


def replica_alias() -> str:
    """The replica's alias in DATABASES, or "" when none is configured."""
    alias = getattr(settings, "REPLICA_DATABASE", "")
    return alias if alias and alias in settings.DATABASES else ""


@contextmanager
def replica_reads() -> Iterator[None]:
    """Catalog reads inside the block may come from the replica (see the module docstring)."""
    token = _scope.set(_Scope(replica=True))
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """Every read inside the block comes from the primary, even within `replica_reads()`."""
    token = _scope.set(_Scope(replica=False))
    try:
        yield
    finally:
        _scope.reset(token)


def replica_view(view: _F) -> _F:
    """Decorates a view (a function taking the request first, or a class-based view's method
    taking self, request): a GET or HEAD request runs inside `replica_reads()`; any other
    method (a POST may write and must read what it wrote) runs on the primary."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        request = next(a for a in args if hasattr(a, "method"))
        if request.method not in SAFE_METHODS:
            return view(*args, **kwargs)
        with replica_reads():
            return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def reading_from_replica(model: type | None = None) -> bool:
    """Whether a read of `model` (any catalog model when None) here would go to the replica."""
    scope = _scope.get()
    if scope is None or not scope.replica or scope.wrote or not replica_alias():
        return False
    if model is not None and model._meta.app_label not in settings.REPLICA_APPS:  # type: ignore[attr-defined]
        return False
    return not connections[DEFAULT_DB_ALIAS].in_atomic_block and replica_usable()


@dataclass
class _Probe:
    checked: float = float("-inf")  # time.monotonic() of the last look
    usable: bool = True


_probe = _Probe()


def replica_usable() -> bool:
    """Whether the replica answers and lags at most settings.REPLICA_MAX_LAG_SECONDS behind the
    primary, as this process last found it: it looks again (one query on the replica) at most
    every REPLICA_CHECK_SECONDS. Meanwhile a replica found unreachable or lagging is not read
    from: the catalog reads the primary, pages keep working and show the primary's figures.
    Always True with REPLICA_MAX_LAG_SECONDS = 0 (never checked)."""
    limit = getattr(settings, "REPLICA_MAX_LAG_SECONDS", 0)
    if not limit:
        return True
    now = time.monotonic()
    if now - _probe.checked < getattr(settings, "REPLICA_CHECK_SECONDS", 5):
        return _probe.usable
    _probe.checked = now
    try:
        lag = replication_lag_seconds() or 0.0
    except DatabaseError as exc:
        usable, why = False, f"unreachable: {type(exc).__name__}: {exc}"[:300]
    else:
        usable, why = lag <= limit, f"{lag:.1f} s behind the primary (REPLICA_MAX_LAG_SECONDS={limit})"
    if usable != _probe.usable:
        logger.warning(
            "catalog reads %s the replica: %s",
            "back on" if usable else "moved from",
            why,
            extra={"event": "replica.usable" if usable else "replica.unusable"},
        )
    _probe.usable = usable
    return usable


def _unknown_hint(hints: dict) -> str | None:
    """The primary for an object loaded from a database that is no longer configured (a
    cached catalog entry read from the replica before DATABASE_REPLICA_URL was removed), which
    Django would otherwise route back to that alias; else None (Django decides as usual)."""
    instance = hints.get("instance")
    db = getattr(getattr(instance, "_state", None), "db", None)
    return DEFAULT_DB_ALIAS if db and db not in settings.DATABASES else None


class ReplicaRouter:
    """settings.DATABASE_ROUTERS. Without a replica configured it decides nothing, so Django
    routes as if it were not there."""

    def db_for_read(self, model, **hints) -> str | None:
        alias = replica_alias()
        if not alias:
            return _unknown_hint(hints)
        # Explicitly the primary otherwise: an object loaded from the replica (a cached product)
        # would otherwise take its related reads there outside any replica_reads() block.
        return alias if reading_from_replica(model) else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str | None:
        scope = _scope.get()
        if scope is not None:
            scope.wrote = True
        return DEFAULT_DB_ALIAS if replica_alias() else _unknown_hint(hints)

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        alias = replica_alias()
        if not alias:
            return None
        return {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, alias, None}

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        alias = replica_alias()
        if alias and db == alias:
            return False
        return None


def primary_position() -> str:
    """The primary's current WAL position ("0/16B3748"), "" without a replica. Taken after a
    commit, it says what a replica must have replayed to show that commit."""
    if not replica_alias():
        return ""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            return str(cursor.fetchone()[0])
    except DatabaseError:
        return UNREACHABLE_POSITION


@contextmanager
def reads_at_least(positions: Iterable[str]) -> Iterator[None]:
    """Inside a `replica_reads()` block, the block's reads come from the primary unless the
    replica has replayed every one of `positions` (primary_position() answers; blanks are
    ignored). The catalog page cache builds its entries in it, so that an entry stored under
    a version taken after a change is never built from a replica that has not seen it yet.
    One query on the replica when it would be read from; none otherwise."""
    wanted = [position for position in positions if position]
    alias = replica_alias()
    if not wanted or not alias or not reading_from_replica():
        yield
        return
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT COALESCE(pg_last_wal_replay_lsn() >= ALL(%s::pg_lsn[]), false)", [wanted])
        caught_up = bool(cursor.fetchone()[0])
    if caught_up:
        yield
    else:
        with primary_reads():
            yield


def replication_lag_seconds() -> float | None:
    """Seconds since the replica last replayed a transaction while the primary has newer WAL
    (0.0 when it has replayed everything it received), None when no replica is configured.
    Raises the database's error when the replica cannot be reached."""
    alias = replica_alias()
    if not alias:
        return None
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
        )
        return float(cursor.fetchone()[0])
