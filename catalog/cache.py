"""
The catalog page cache: rendered listings, the home page's product grid, API product lists
and product details, kept in the default cache (Redis in production), never showing a price
or an availability older than the last committed change.

Entries are never deleted one by one. Each entry holds the version tokens (kept in the cache
itself) it was built under, and a change replaces a token, so every entry built before the
change no longer matches and is built again on its next read (unread, it expires after
CATALOG_CACHE_SECONDS):

- "catalog:version:edit": anything staff edit (products, variants and their prices,
  categories, images, review moderation, imports). Every entry carries it.
- "catalog:version:stock": a variant went from sellable to sold out or back (or may have:
  a release, the sweep, a receipt, a backorder-policy change). Listings carry it: they show
  "Sold out" and, at LOW_STOCK_BADGE_UNITS units or fewer, "Only N left" (inventory.selectors),
  so a sale that leaves more units than that keeps them cached.
- "catalog:version:product:<handle>": the availability of that product's variants. Its
  detail entry carries it, so a sale of one product leaves the others' pages cached.

Why a stale entry can never match: a reader takes the tokens before it reads the database,
and writers replace tokens only after their transaction commits
(catalog.signals.availability_changed is sent on commit; model signals go through
after_commit). A reader that read the database before a commit stored its entry with the old
token, which no longer matches.

What this cache never decides: whether stock can be sold. Adding to the cart, reserving and
placing an order read the stock rows under their lock (inventory.services); a cached page can
at worst show a unit that has just gone, and the shopper is told at that step.

With a streaming replica (DATABASE_REPLICA_URL, kernel/replica.py) the catalog's views read
from it, which may not have replayed a commit yet when its token changes: each new token then
names the primary's WAL position after the change, and an entry is built from the primary
until the replica has replayed past the positions of its tokens (kernel.replica.reads_at_least).

No stampede: a retired (or missing) entry is rebuilt by one request at a time, which holds a
short lock (cache.add); the other requests in flight meanwhile are served the retired entry,
or, when there is none, wait for the rebuilt one (_rebuild). So for as long as one rebuild
takes, a popular page may still show what it showed just before the change; the next
request after the rebuild gets the new entry. catalog:stats:rebuilds:<kind> counts rebuilds.

One known lag: a reservation that lapses by the clock, without any write, makes its units
available again before any token changes; pages show the lower figure until the sweep marks
it expired (orders.tasks.release_expired_reservations, every minute) or the entry expires.

Cache errors never fail a page: django-redis ignores them (DJANGO_REDIS_IGNORE_EXCEPTIONS)
and a failed read is a miss.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from kernel.replica import primary_position, reads_at_least
from kernel.transactions import after_commit

_T = TypeVar("_T")

EDIT = "catalog:version:edit"
STOCK = "catalog:version:stock"


def _product_key(handle: str) -> str:
    return f"catalog:version:product:{handle}"


def _token(key: str) -> str:
    """A fresh token for the version `key`, which was missing (never set, evicted, cache
    wiped): no entry carries it yet. If another process set one meanwhile, theirs stands."""
    fresh = uuid.uuid4().hex
    added = cache.add(key, fresh, timeout=None)
    if added is None:  # the cache is down (django-redis answers None): no point asking again
        return fresh
    return fresh if added else (cache.get(key) or fresh)


def _bump(keys: Iterable[str]) -> None:
    # With a replica, each new token names the primary's WAL position after the change (it runs
    # after the commit): an entry built under it reads the primary until the replica has
    # replayed that far (kernel.replica.reads_at_least, in _cached).
    position = primary_position()
    cache.set_many({key: uuid.uuid4().hex + (f"@{position}" if position else "") for key in keys}, timeout=None)


def _cached(kind: str, versions: list[str], parts: Iterable[Any], build: Callable[[], _T]) -> _T:
    """The entry of `kind` for `parts` in the active language, if it was built under the
    current tokens of `versions`; else built now and stored with them. Always built when
    CATALOG_CACHE_SECONDS is 0 (off).

    One cache round trip on a hit: the entry and the tokens come in one get_many, and the entry
    holds the tokens it was built under. Those are read before `build` reads the database, so
    an entry built from data older than a token's last change never matches again.

    A retired entry is rebuilt by one request at a time (single flight, see _rebuild)."""
    if settings.CATALOG_CACHE_SECONDS <= 0:
        return build()
    digest = hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()[:32]
    # One entry per language: the HTML holds translated words and prices written for the
    # active locale ("$38.00", "38,00 $"), which one language's shoppers must never get from
    # another's entry.
    key = f"catalog:{kind}:{translation.get_language() or '-'}:{digest}"
    found = cache.get_many([key, *versions])
    tokens = [found.get(version) or _token(version) for version in versions]
    entry = found.get(key)
    if entry is not None and entry[0] == tokens:
        return entry[1]
    return _rebuild(kind, key, tokens, entry, build)


# How long one request may hold the right to rebuild an entry (a crashed rebuilder's lock
# lapses after this), and how long the others wait for its entry when there is no previous
# one to serve, checking every REBUILD_POLL_SECONDS, before they build it themselves.
REBUILD_LOCK_SECONDS = 10
REBUILD_WAIT_SECONDS = 2.0
REBUILD_POLL_SECONDS = 0.01
# Counters of rebuilds by kind ("catalog:stats:rebuilds:list"), for the operator and
# bench/stampede.py: how many requests read the database to build an entry.
REBUILDS = "catalog:stats:rebuilds"


def _rebuild(
    kind: str, key: str, tokens: list[str], previous: tuple[list[str], _T] | None, build: Callable[[], _T]
) -> _T:
    """The entry `key` was missing or retired: one request builds it (it takes the lock
    `key`:rebuild with cache.add, which one caller alone wins), while the others are served
    the `previous` entry, retired by a commit so recent that its rebuild has not finished yet
    (at most REBUILD_LOCK_SECONDS), or, with none, wait up to REBUILD_WAIT_SECONDS for the
    rebuilt one and build it themselves only if it does not come. So a popular page whose
    entry is retired reaches the database once, not once per request in flight."""
    lock = f"{key}:rebuild"
    won = cache.add(lock, 1, timeout=REBUILD_LOCK_SECONDS)
    if won is None:  # the cache is down (django-redis answers None): build, as on a miss
        return _build(tokens, build)
    if won:
        try:
            # Rebuilt by another request between our read and our lock: served as it is.
            current = cache.get(key)
            if current is not None and current[0] == tokens:
                return current[1]
            value = _build(tokens, build)
            cache.set(key, (tokens, value), timeout=settings.CATALOG_CACHE_SECONDS)
            _count_rebuild(kind)
        finally:
            cache.delete(lock)
        return value
    if previous is not None:
        return previous[1]
    deadline = time.monotonic() + REBUILD_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(REBUILD_POLL_SECONDS)
        entry, held = _entry_and_lock(key, lock)
        if entry is not None and entry[0] == tokens:
            return entry[1]
        if not held:  # the rebuilder gave up (an error) or stored under newer tokens: our turn
            return _rebuild(kind, key, tokens, None, build)
    return _build(tokens, build)


def _build(tokens: list[str], build: Callable[[], _T]) -> _T:
    """`build()` reading from a database that has seen the changes `tokens` name: with a
    replica, from the primary until the replica has replayed their positions (_bump)."""
    with reads_at_least(token.partition("@")[2] for token in tokens):
        return build()


def _entry_and_lock(key: str, lock: str) -> tuple[Any, bool]:
    found = cache.get_many([key, lock])
    return found.get(key), lock in found


def _count_rebuild(kind: str) -> None:
    try:
        cache.incr(f"{REBUILDS}:{kind}")
    except ValueError:  # not there yet (or evicted): start counting
        cache.add(f"{REBUILDS}:{kind}", 1, timeout=None)


def rebuild_count(kind: str) -> int:
    """Entries of `kind` ("list", "home", "product-page", …) built since the cache was
    emptied (bench/stampede.py reads it)."""
    return int(cache.get(f"{REBUILDS}:{kind}") or 0)


def listing_cached(kind: str, parts: Iterable[Any], build: Callable[[], _T], *, also: Iterable[str] = ()) -> _T:
    """A listing entry (HTML fragment or API data, never None): valid until any catalog edit
    or any availability change, or a change of the versions named in `also` (cache keys
    of other tokens kept the same way, e.g. the content pages' for a whole page)."""
    return _cached(kind, [EDIT, STOCK, *also], parts, build)


def edit_cached(kind: str, parts: Iterable[Any], build: Callable[[], _T]) -> _T:
    """An entry that shows no availability (the categories in the shop's navigation): valid
    until any catalog edit."""
    return _cached(kind, [EDIT], parts, build)


def product_cached(
    handle: str, build: Callable[[], _T], *, kind: str = "product", parts: Iterable[Any] = (), also: Iterable[str] = ()
) -> _T:
    """An entry of `kind` (the API's product, the page's product and HTML, the whole page) for
    the product with `handle` (and `parts`, what else the entry depends on): valid until a
    catalog edit or an availability change of its variants, or a change of `also`'s versions
    (as for listing_cached)."""
    return _cached(kind, [EDIT, _product_key(handle), *also], [handle, *parts], build)


def catalog_edited() -> None:
    """Retires every catalog entry once the current transaction commits (at once outside one).
    Called by the model signals (catalog.signals) and by bulk writers that bypass them."""
    after_commit(_bump, [EDIT])


def availability_changed(handles: Iterable[str], *, listings: bool = True) -> None:
    """Retires the detail entries of the products with `handles` now (call it after the
    commit that changed their stock), and the listings too when `listings` (a variant may
    have gone from sellable to sold out or back, or changed a low "Only N left" count)."""
    _bump([*([STOCK] if listings else []), *(_product_key(handle) for handle in set(handles))])
