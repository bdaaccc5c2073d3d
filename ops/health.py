"""
Health and metrics endpoints for load balancers, uptime monitors, Prometheus and operators.

- GET /health/           public: is this process able to serve? database, cache, broker (when
                         configured), sweeper. 200 {"status": "ok"} or 503 naming the failure.
- GET /health/detailed/  staff: the numbers an operator looks at first (docs/RUNBOOK.md), the
                         read replica's lag among them. A replica that is down or behind is
                         not a failed check: the catalog then reads the primary.
- GET /metrics           Prometheus text format, for staff or `Authorization: Bearer METRICS_TOKEN`.

Every check is bounded in time (1 s socket timeouts for Redis and the broker) and never
raises: an error is a failed check, reported, not a 500.
"""

from __future__ import annotations

import hmac
import os
import platform
import resource
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django
import redis
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from inventory.selectors import reservation_counts
from kernel.replica import replica_alias, replica_usable, replication_lag_seconds
from orders.selectors import order_counts_by_status, sweep_run_last
from payments.selectors import reconcile_last

CHECK_TIMEOUT_SECONDS = 1.0
SWEEP_STALE_FACTOR = 3  # the sweeper is "stopped" after missing this many intervals


def _timed(check: Callable[[], dict]) -> dict:
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 — a failing dependency is a failed check, not a 500
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_cache() -> dict:
    # Written and read back: a Redis cache set to ignore connection errors (so that the shop
    # keeps selling without it) answers None instead of raising, which is a failure here.
    key, value = "health:probe", uuid.uuid4().hex
    cache.set(key, value, timeout=30)
    if cache.get(key) != value:
        return {"ok": False, "error": "value written to the cache could not be read back"}
    return {"ok": True, "backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def broker_configured() -> bool:
    return bool(settings.CELERY_BROKER_URL) and not settings.CELERY_TASK_ALWAYS_EAGER


def check_broker() -> dict:
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=CHECK_TIMEOUT_SECONDS,
        transport_options={"socket_timeout": CHECK_TIMEOUT_SECONDS, "socket_connect_timeout": CHECK_TIMEOUT_SECONDS},
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT_SECONDS)
        transport = conn.transport_cls
    return {"ok": True, "transport": transport}


def sweep_interval() -> timedelta:
    return settings.CELERY_BEAT_SCHEDULE["release-expired-reservations"]["schedule"]


def check_sweeper() -> dict:
    run = sweep_run_last()
    result: dict = {"ok": True, "last_run": None, "age_seconds": None}
    if run is not None:
        result["last_run"] = run.started_at.isoformat()
        result["age_seconds"] = int((timezone.now() - run.started_at).total_seconds())
        if run.error:
            result["last_error"] = run.error[:300]
    if not broker_configured():
        # Eager / development: nothing runs the sweep on a schedule, and availability never
        # depends on it, so there is nothing to fail.
        result["scheduled"] = False
        result["note"] = "not scheduled (no broker): run manage.py release_expired_reservations"
        return result
    result["scheduled"] = True
    limit = sweep_interval() * SWEEP_STALE_FACTOR
    result["max_age_seconds"] = int(limit.total_seconds())
    # No run recorded at all is not a failure: a fresh installation's beat has not fired yet.
    if run is not None and timezone.now() - run.started_at > limit:
        result["ok"] = False
        result["error"] = "the sweeper has not run for more than 3 intervals: is celery beat running?"
    return result


def health_checks() -> dict[str, dict]:
    checks = {"database": _timed(check_database), "cache": _timed(check_cache)}
    if broker_configured():
        checks["broker"] = _timed(check_broker)
    checks["sweeper"] = _timed(check_sweeper)
    return checks


@never_cache
@require_GET
def health(request):
    checks = health_checks()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "fail" if failing else "ok", "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


# -- detailed -------------------------------------------------------------------------------


def _database_stats() -> dict:
    stats: dict = {"vendor": connection.vendor, "size_bytes": None, "connections": None}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_database_size(current_database()),"
                " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())"
            )
            stats["size_bytes"], stats["connections"] = cursor.fetchone()
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            stats["size_bytes"] = pages * cursor.fetchone()[0]
    return stats


def _reservations() -> dict:
    # Every reservation ever made: from the epoch to a day ahead (clock skew between hosts).
    counts = reservation_counts(
        created_from=datetime(1970, 1, 1, tzinfo=UTC), created_to=timezone.now() + timedelta(days=1)
    )
    return {
        "active": counts.live,
        "active_units": counts.live_units,
        "lapsed_not_swept": counts.lapsed,
        "expired": counts.expired,
        "committed": counts.committed,
        "released": counts.released,
    }


def celery_queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each queue of CELERY_TASK_QUEUES ("urgent" growing: worker_urgent
    is down or too few), as celery_queue_length counts them."""
    return {queue.name: celery_queue_length(queue.name) for queue in settings.CELERY_TASK_QUEUES}


def celery_queue_length(queue: str | None = None) -> int | None:
    """Messages waiting in `queue` (default: the default queue): for a Redis broker (LLEN), or
    kombu's filesystem transport (`make run` without one: its message files); None otherwise."""
    url = settings.CELERY_BROKER_URL
    queue = queue or getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery") or "celery"
    if broker_configured() and url.startswith("filesystem:"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        return sum(1 for name in os.listdir(folder) if name.partition(".")[2] == f"{queue}.msg")
    if not broker_configured() or not url.startswith(("redis://", "rediss://")):
        return None
    client = redis.Redis.from_url(
        url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        return client.llen(queue)
    finally:
        client.close()


def _memory() -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    factor = 1 if platform.system() == "Darwin" else 1024
    return {"max_rss_bytes": usage.ru_maxrss * factor, "pid": os.getpid()}


def _section(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 — one broken figure must not hide the others
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _replica() -> dict | None:
    """The catalog's read replica (DATABASE_REPLICA_URL): its lag, and whether this process
    reads the catalog from it (kernel.replica.replica_usable); None without one."""
    if not replica_alias():
        return None
    return {"lag_seconds": replication_lag_seconds(), "catalog_reads_from_it": replica_usable()}


def _last_sweep() -> dict | None:
    run = sweep_run_last()
    if run is None:
        return None
    return {
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "trigger": run.trigger,
        "reservations_expired": run.reservations_expired,
        "orders_expired": run.orders_expired,
        "error": run.error or None,
    }


@never_cache
@require_GET
@staff_member_required
def health_detailed(request):
    checks = health_checks()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {
        "status": "fail" if failing else "ok",
        "checks": checks,
        "database": _section(_database_stats),
        "replica": _section(_replica),
        "reservations": _section(_reservations),
        "orders_by_status": _section(order_counts_by_status),
        "last_sweep": _section(_last_sweep),
        "last_reconciliation": _section(reconcile_last),
        "celery_queue_length": _section(celery_queue_length),
        "celery_queue_lengths": _section(celery_queue_lengths),
        "memory": _section(_memory),
        "versions": {
            "python": platform.python_version(),
            "django": django.get_version(),
            "app": os.environ.get("APP_VERSION") or None,
        },
    }
    return JsonResponse(body, status=503 if failing else 200)


# -- Prometheus -----------------------------------------------------------------------------


def _metrics_allowed(request) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        # Constant-time: the token must not be guessable a character at a time.
        return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())
    return False


@never_cache
@require_GET
def metrics(request):
    if not _metrics_allowed(request):
        response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: add up what every worker process wrote.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
