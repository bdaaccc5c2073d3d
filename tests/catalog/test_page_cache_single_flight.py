"""
No stampede (catalog/cache.py, _rebuild): when a listing's entry is retired, or is missing,
one request rebuilds it while the others in flight are served the previous entry or wait for
the rebuilt one. Real threads against the test cache (locmem) and, when it runs, Redis.
"""

import socket
import threading
import time
import uuid

import pytest
from django.core.cache import caches

from catalog import cache as page_cache
from catalog.cache import availability_changed, listing_cached, rebuild_count

REQUESTS = 16


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 300
    caches["default"].clear()
    yield
    caches["default"].clear()


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["locmem", "redis"])
def backend(request, settings):
    if request.param == "redis":
        if not _redis_reachable():
            pytest.skip("no Redis on 127.0.0.1:6379")
        # A key prefix of our own: only this test's keys are touched (never FLUSHDB).
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/10",
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
            }
        }
        yield request.param
        caches["default"].delete_pattern("*")
    else:
        yield request.param


class Builder:
    """A listing build that takes a while (as reading the database does) and counts its calls;
    each call answers the next version, "v1", "v2", …"""

    def __init__(self, seconds: float = 0.3, fail: bool = False):
        self.seconds = seconds
        self.fail = fail
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            version = f"v{self.calls}"
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("the database went away")
        return version


def _concurrently(build, n: int = REQUESTS) -> list:
    """`n` threads read the same listing entry at the same moment; answers what each got (or
    the exception it raised)."""
    start = threading.Barrier(n)
    results: list = [None] * n

    def request(i: int) -> None:
        start.wait()
        try:
            results[i] = listing_cached("list", ["popular"], build)
        except Exception as exc:  # noqa: BLE001 — reported to the test
            results[i] = exc

    threads = [threading.Thread(target=request, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_a_retired_entry_is_rebuilt_once_and_the_others_get_the_previous_one(backend):
    build = Builder()
    assert listing_cached("list", ["popular"], build) == "v1"
    before = rebuild_count("list")
    availability_changed([])  # a variant sold out somewhere: every listing is retired

    results = _concurrently(build)

    assert build.calls == 2, "one rebuild for the retirement, not one per request"
    assert rebuild_count("list") - before == 1
    assert set(results) <= {"v1", "v2"} and "v2" in results
    # Once rebuilt, the entry is served as it is.
    assert listing_cached("list", ["popular"], build) == "v2"
    assert build.calls == 2


def test_a_missing_entry_is_built_once_and_the_others_wait_for_it(backend):
    build = Builder()

    results = _concurrently(build)

    assert build.calls == 1
    assert results == ["v1"] * REQUESTS, "with no previous entry, everyone waits for the new one"


def test_each_retirement_under_load_costs_one_rebuild(backend):
    build = Builder(seconds=0.05)
    listing_cached("list", ["popular"], build)
    stop = threading.Event()
    served: list[str] = []

    def shopper() -> None:
        while not stop.is_set():
            served.append(listing_cached("list", ["popular"], build))

    shoppers = [threading.Thread(target=shopper) for _ in range(8)]
    for thread in shoppers:
        thread.start()
    try:
        for _ in range(5):
            time.sleep(0.15)
            availability_changed([])
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in shoppers:
            thread.join(timeout=10)
    assert build.calls == 1 + 5
    assert served[-1] == "v6"


def test_a_failed_rebuild_lets_a_waiting_request_build_it(backend):
    failing = Builder(seconds=0.2, fail=True)
    results: dict[str, object] = {}

    def first() -> None:
        try:
            listing_cached("list", ["popular"], failing)
        except RuntimeError as exc:
            results["first"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.05)  # the first holds the rebuild lock now
    started = time.monotonic()
    results["second"] = listing_cached("list", ["popular"], Builder(seconds=0))
    thread.join()

    assert isinstance(results["first"], RuntimeError)
    assert results["second"] == "v1"
    assert time.monotonic() - started < page_cache.REBUILD_WAIT_SECONDS, "it did not wait for the lock to lapse"


def test_with_the_cache_off_every_request_builds(settings):
    settings.CATALOG_CACHE_SECONDS = 0
    build = Builder(seconds=0)
    listing_cached("list", ["popular"], build)
    listing_cached("list", ["popular"], build)
    assert build.calls == 2
