#!/usr/bin/env python
"""
Fault drills against a production-configured shop that this script starts for itself: Redis
stopped, a Celery worker killed mid-task, PostgreSQL restarted during a checkout burst.

    .venv/bin/python bench/faults.py                      # all three drills (about 2-3 minutes)
    .venv/bin/python bench/faults.py --only worker        # redis | worker | database
    .venv/bin/python bench/faults.py --shoppers 40 --keep-logs

Run as root on a Debian/Ubuntu host with PostgreSQL 15 (postgresql-common's pg_createcluster)
and redis-server installed. It never touches the shared services on 5432/6379/5672: it
creates its OWN PostgreSQL 15 cluster `shopfaults` on port 5439 and its own redis-server on
port 6389 (no persistence; database 0 is the cache, 1 the Celery broker), and kills and
restarts only those. Everything is torn down on exit, Ctrl-C included (the cluster dropped,
the temporary directory removed unless --keep-logs).

The stack is the Procfile's: gunicorn (3 workers) and a Celery worker, with
config.settings.production and a production-like environment (secret key, allowed hosts,
SSL redirect on, behind a "proxy": every request says X-Forwarded-Proto: https and, from
127.0.0.1 as TRUSTED_PROXIES, X-Forwarded-For with the shopper's own address). Two things
differ from production, both in a settings module written to the temporary directory
(`from config.settings.production import *` plus):
- IS_PRODUCTION = False, so that the dummy gateway may be enabled (production settings refuse
  it at start-up and no real provider is reachable from a drill);
- static files collected into the temporary directory, hashed with a manifest as in
  production but not compressed (whitenoise's gzip/brotli pass takes minutes).
Emails use the console backend (base.py's default for EMAIL_BACKEND), so every sent message
is in the worker's log, where the drill counts them.

Drills (each prints PASS/FAIL lines with figures; exit status 1 if any FAIL):

redis     Redis shut down: home, listing and product page answer 200 (latency reported); a
          guest adds to cart, checks out and pays (JSON API + the dummy gateway's page) and the
          order is paid; the page add-to-cart POST (stock tier) is not limited (fail open);
          log in (page and API) answers 429 with Retry-After (auth tier fails closed,
          kernel/ratelimit.py); /health/ answers 503 naming cache and broker. Then Redis
          frozen (SIGSTOP: connections accepted, never answered): a product page's latency,
          bounded by REDIS_SOCKET_TIMEOUT per cache call. Redis back: /health/ 200.
worker    (a) The whole worker (its process group) SIGKILLed while order_paid_followups is
          inside the invoice render (the Invoice row exists, its PDF not yet): the message
          stays unacknowledged in the broker. With a Redis broker it is redelivered after the
          visibility timeout (CELERY_VISIBILITY_TIMEOUT, 3600 s by default): the drill
          moves the message's timestamp back by that much instead of waiting an hour, starts
          a new worker, and checks that the task ran again (both workers' logs) with its
          effect once: one Invoice with its PDF, one EmailLog row, one email in the logs.
          (b) Only the pool process running the task SIGKILLed (what the kernel's OOM killer
          does): the task must run again, and the effect again happen once.
database  --shoppers (40) threads, each from its own address, buy through the API (cart,
          checkout, place order with an Idempotency-Key, start a dummy payment, pay) while the
          cluster is restarted (pg_ctlcluster restart -m fast) once a quarter of them have
          placed their order. Every request must get an HTTP answer (no reset, no hang past
          the 30 s client timeout), and every 5xx must be a 503 with Retry-After (the API's JSON
          error shape), never a 500. Afterwards: no order without lines or with lines not
          adding up to its subtotal, no paid order without a captured payment and no captured
          payment on an unpaid order, on_hand == Σ ledger for every variant, and
          `manage.py check_stock` exits 0. Prints the outcome counts by step and status code.

Not part of the test suite; the in-suite proofs are in tests/proofs/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_VERSION, PG_CLUSTER, PG_PORT = "15", "shopfaults", 5439
REDIS_PORT = 6389
WEB_PORT = 8139
DB_NAME = "shop"
BASE = f"http://127.0.0.1:{WEB_PORT}"
HTTP_TIMEOUT = 30  # seconds: gunicorn's --timeout, so a hung request shows as a client timeout
VISIBILITY_TIMEOUT = 3600  # kombu's Redis transport default; settings set no transport options
ADDRESS = {
    "email": "drill@example.com",
    "name": "Drill Shopper",
    "line1": "1 Fault Street",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}
SETTINGS_MODULE = '''\
"""config.settings.production for the fault drills (bench/faults.py)."""
from config.settings.production import *  # noqa: F403

IS_PRODUCTION = False  # the dummy gateway: no real provider is reachable from a drill
STATIC_ROOT = {static_root!r}
# Hashed names and the manifest as in production, without whitenoise's gzip/brotli copies
# (which take collectstatic minutes and only save bytes on the wire).
STORAGES = {{**STORAGES, "staticfiles": {{"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}}}
'''


# -- results ---------------------------------------------------------------------------------


@dataclass
class Results:
    rows: list[tuple[str, str, bool | None, str]] = field(default_factory=list)

    def add(self, drill: str, check: str, ok: bool | None, detail: str = "") -> bool:
        """Records and prints one line: PASS/FAIL, or INFO when ok is None."""
        self.rows.append((drill, check, ok, detail))
        outcome = "INFO" if ok is None else "PASS" if ok else "FAIL"
        print(f"  {outcome}  {check}" + (f"  ({detail})" if detail else ""), flush=True)
        return bool(ok)

    @property
    def failed(self) -> int:
        return sum(1 for *_, ok, _ in self.rows if ok is False)

    def summary(self) -> str:
        width = max((len(check) for _, check, _, _ in self.rows), default=10)
        lines = ["", "Summary", "=" * 7]
        for drill, check, ok, detail in self.rows:
            outcome = "INFO" if ok is None else "PASS" if ok else "FAIL"
            lines.append(f"{outcome}  {drill:<8}  {check:<{width}}  {detail}")
        passed = sum(1 for *_, ok, _ in self.rows if ok)
        lines.append(f"\n{passed} passed, {self.failed} failed")
        return "\n".join(lines)


# -- the private stack -----------------------------------------------------------------------


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Calls predicate() until it returns something truthy; raises TimeoutError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - not ready yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(interval)


class Stack:
    """The private PostgreSQL cluster and Redis, gunicorn and Celery workers, all torn down by
    stop() (also after Ctrl-C). Logs go to files in a temporary directory."""

    def __init__(self, *, keep_logs: bool):
        self.keep_logs = keep_logs
        self.tmp = Path(tempfile.mkdtemp(prefix="shop-faults-"))
        self.redis_proc: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.db_url = f"postgres://postgres@127.0.0.1:{PG_PORT}/{DB_NAME}"
        self.dsn = f"postgresql://postgres@127.0.0.1:{PG_PORT}/{DB_NAME}"
        (self.tmp / "faults_settings.py").write_text(SETTINGS_MODULE.format(static_root=str(self.tmp / "static")))
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{self.tmp}{os.pathsep}{ROOT}",
            "DJANGO_SETTINGS_MODULE": "faults_settings",
            "DATABASE_URL": self.db_url,
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{WEB_PORT}",
            "TRUSTED_PROXIES": "127.0.0.1",
            "PAYMENT_GATEWAYS": "dummy",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "MEDIA_ROOT": str(self.tmp / "media"),
            "SHOP_BASE_URL": f"https://127.0.0.1:{WEB_PORT}",
            "LOG_FORMAT": "plain",
            "LOG_LEVEL": "INFO",
        }
        for name in ("DJANGO_SECURE_SSL_REDIRECT", "SENTRY_DSN", "PROMETHEUS_MULTIPROC_DIR"):
            self.env.pop(name, None)

    # PostgreSQL

    def pg_create(self) -> None:
        self.pg_drop()  # a cluster left behind by a killed run
        # fsync off while the schema and the catalog load (see pg_durable()), on for the drills.
        run(
            [
                "pg_createcluster",
                PG_VERSION,
                PG_CLUSTER,
                "--port",
                str(PG_PORT),
                "--start-conf",
                "manual",
                "-o",
                "fsync=off",
                "--",
                "--auth=trust",
            ]
        )
        self.pg_ctl("start")
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DB_NAME}")

    def pg_durable(self) -> None:
        """fsync back on (the production default) and the cluster restarted with it."""
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres", autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET fsync = on")
        self.pg_ctl("restart", "-m", "fast")

    def pg_ctl(self, action: str, *extra: str) -> float:
        """pg_ctlcluster ACTION; returns the seconds it took."""
        started = time.monotonic()
        run(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, action, *extra])
        return time.monotonic() - started

    def pg_drop(self) -> None:
        if run(["pg_lsclusters", "--no-header"]).stdout.split().count(PG_CLUSTER):
            subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, PG_CLUSTER], capture_output=True)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.dsn, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    # Redis

    def redis_start(self) -> None:
        log = open(self.tmp / "redis.log", "a")  # noqa: SIM115 - closed with the process
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.broker().ping(), timeout=10, what="redis")

    def redis_stop(self) -> None:
        if self.redis_proc and self.redis_proc.poll() is None:
            self.redis_proc.send_signal(signal.SIGCONT)
            self.redis_proc.terminate()  # SIGTERM: redis-server shuts down
            self.redis_proc.wait(timeout=10)

    def broker(self) -> redis.Redis:
        return redis.Redis(port=REDIS_PORT, db=1, socket_timeout=2, socket_connect_timeout=2)

    # Django processes

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        # A session of its own: the process group is what gets killed, children included.
        return subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def web_start(self) -> None:
        # The Procfile's web line.
        self.web = self._spawn(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{WEB_PORT}",
                "--workers",
                "3",
                "--timeout",
                str(HTTP_TIMEOUT),
                "--graceful-timeout",
                "30",
                "--preload",
                "--access-logfile",
                "-",
            ],
        )
        wait_for(
            lambda: requests.get(f"{BASE}/health/", headers=PROXY_HEADERS, timeout=5).status_code in (200, 503),
            timeout=60,
            interval=0.5,
            what="gunicorn",
        )

    def worker_start(self, name: str) -> subprocess.Popen:
        """The Procfile's worker line, one pool process (CELERY_CONCURRENCY=1) so that "the
        process running the task" is unambiguous."""
        proc = self._spawn(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}@%h",
            ],
        )
        self.workers[name] = proc
        wait_for(lambda: "ready." in self.log(name), timeout=60, interval=0.3, what=f"celery {name}")
        return proc

    def worker_stop(self, name: str) -> None:
        proc = self.workers.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # whole stack

    def start(self) -> None:
        print(
            f"Stack: PostgreSQL {PG_VERSION} cluster {PG_CLUSTER} on {PG_PORT}, redis on {REDIS_PORT}, "
            f"gunicorn on {WEB_PORT}; logs in {self.tmp}",
            flush=True,
        )
        steps = {
            "cluster": self.pg_create,
            "redis": self.redis_start,
            "migrate": lambda: self.manage("migrate", "--no-input"),
            "collectstatic": lambda: self.manage("collectstatic", "--no-input"),
            "seed_demo": lambda: self.manage("seed_demo", "--products", "4"),
            "fsync on": self.pg_durable,
            "gunicorn": self.web_start,
        }
        for name, step in steps.items():
            started = time.monotonic()
            step()
            print(f"  {name} {time.monotonic() - started:.1f} s", flush=True)

    def stop(self) -> None:
        for name in list(self.workers):
            proc = self.workers.pop(name)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.web and self.web.poll() is None:
            os.killpg(self.web.pid, signal.SIGTERM)
            try:
                self.web.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.web.pid, signal.SIGKILL)
        try:
            self.redis_stop()
        except subprocess.TimeoutExpired:
            self.redis_proc.kill()
        self.pg_drop()
        if self.keep_logs:
            print(f"Logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- HTTP as a shopper behind the TLS proxy ---------------------------------------------------

PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


class Shopper:
    """One client: the proxy's headers (HTTPS, its own X-Forwarded-For), cookies kept by hand
    (the shop's cookies are Secure, which requests would not send back over plain http), and
    every answer recorded as (step, status code or exception name)."""

    def __init__(self, ip: str):
        self.http = requests.Session()
        self.headers = {
            **PROXY_HEADERS,
            "X-Forwarded-For": ip,
            "Origin": f"https://127.0.0.1:{WEB_PORT}",
            "Referer": f"https://127.0.0.1:{WEB_PORT}/",
        }
        self.cookies: dict[str, str] = {}
        self.answers: list[tuple[str, str]] = []
        self.error_bodies: Counter = Counter()  # content types of the 5xx answers

    def request(self, step: str, method: str, path: str, **kwargs) -> requests.Response | None:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            response = self.http.request(
                method,
                BASE + path,
                headers=headers,
                cookies=self.cookies,
                allow_redirects=False,
                timeout=HTTP_TIMEOUT,
                **kwargs,
            )
        except requests.RequestException as exc:
            self.answers.append((step, type(exc).__name__))
            return None
        self.cookies.update({c.name: c.value for c in response.cookies})
        self.answers.append((step, str(response.status_code)))
        if response.status_code >= 500:
            self.error_bodies[response.headers.get("Content-Type", "none").split(";")[0]] += 1
        return response

    def form_token(self, page: requests.Response) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        return match.group(1) if match else ""

    def buy(self, variant_id: int, *, key: str | None = None) -> dict:
        """Cart → checkout → place order → dummy payment, through the API and the dummy page.
        Returns {"order": number or None, "paid": bool, "failed_step": str or None, …}; after a
        failed "place", place_again(result) retries it with the same Idempotency-Key."""
        result: dict = {"order": None, "token": None, "paid": False, "failed_step": None}

        def failed(step: str) -> dict:
            result["failed_step"] = step
            return result

        cart = self.request("cart", "POST", "/api/v1/cart/items/", json={"variant_id": variant_id, "quantity": 1})
        if cart is None or cart.status_code != 201:
            return failed("cart")
        cart_token = {"X-Cart-Token": cart.headers["X-Cart-Token"]}
        checkout = self.request("checkout", "POST", "/api/v1/checkout/", headers=cart_token)
        if checkout is None or checkout.status_code != 201:
            return failed("checkout")
        body = checkout.json()
        details = self.request(
            "details",
            "PATCH",
            f"/api/v1/checkout/{body['id']}/",
            headers=cart_token,
            json={**ADDRESS, "shipping_method": body["shipping_methods"][0]["id"]},
        )
        if details is None or details.status_code != 200:
            return failed("details")
        result["place"] = (
            f"/api/v1/checkout/{body['id']}/place-order/",
            details.json()["fingerprint"],
            {**cart_token, "Idempotency-Key": key or uuid.uuid4().hex},
        )
        return self.place_again(result)

    def place_again(self, result: dict) -> dict:
        path, fingerprint, headers = result["place"]
        result["failed_step"] = None
        placed = self.request("place", "POST", path, json={"fingerprint": fingerprint}, headers=headers)
        if placed is None or placed.status_code not in (200, 201):
            result["failed_step"] = "place"
            return result
        result["order"] = placed.json()["order"]["number"]
        result["token"] = placed.json()["order_token"]
        return self.pay(result)

    def pay(self, result: dict) -> dict:
        order_token = {"X-Order-Token": result["token"]}
        started = self.request(
            "pay start",
            "POST",
            f"/api/v1/orders/{result['order']}/payments/",
            json={"gateway": "dummy"},
            headers=order_token,
        )
        if started is None or started.status_code != 201:
            result["failed_step"] = "pay start"
            return result
        path = "/" + started.json()["redirect_url"].split("/", 3)[3]
        page = self.request("pay page", "GET", path)
        if page is None or page.status_code != 200:
            result["failed_step"] = "pay page"
            return result
        done = self.request(
            "pay", "POST", path + "complete/", data={"outcome": "pay", "csrfmiddlewaretoken": self.form_token(page)}
        )
        if done is None or done.status_code != 302:
            result["failed_step"] = "pay"
            return result
        status = self.request("order", "GET", f"/api/v1/orders/{result['order']}/", headers=order_token)
        result["paid"] = status is not None and status.status_code == 200 and status.json()["status"] == "paid"
        if not result["paid"]:
            result["failed_step"] = "order"
        return result


def timed_get(path: str, *, times: int = 1) -> tuple[list[int], list[float]]:
    """GETs path `times` times; (status codes, seconds each)."""
    codes, seconds = [], []
    for _ in range(times):
        started = time.monotonic()
        try:
            codes.append(requests.get(BASE + path, headers=PROXY_HEADERS, timeout=HTTP_TIMEOUT).status_code)
        except requests.RequestException:
            codes.append(0)
        seconds.append(time.monotonic() - started)
    return codes, seconds


def health() -> tuple[int, dict]:
    response = requests.get(f"{BASE}/health/", headers=PROXY_HEADERS, timeout=HTTP_TIMEOUT)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {}


def demo_variants(stack: Stack, *, synthetic: bool) -> list[tuple[int, str]]:
    """(variant id, product handle) of in-stock variants: the load-test products or the demo's."""
    rows = stack.sql(
        "SELECT v.id, p.handle FROM catalog_productvariant v JOIN catalog_product p ON p.id = v.product_id"
        " JOIN inventory_stockitem s ON s.variant_id = v.id"
        " WHERE s.on_hand > 5 AND (p.handle LIKE 'load-test-%%') = %s ORDER BY v.id",
        (synthetic,),
    )
    return [(int(v), h) for v, h in rows]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- drill 1: Redis --------------------------------------------------------------------------


def drill_redis(stack: Stack, results: Results) -> None:
    print("\n[redis] Redis stopped (SIGTERM → shutdown)", flush=True)
    add = lambda check, ok, detail="": results.add("redis", check, ok, detail)  # noqa: E731
    variant_id, handle = demo_variants(stack, synthetic=False)[0]
    pages = {"home": "/", "listing": "/products/", "product page": f"/products/{handle}/"}
    _, before = timed_get(pages["product page"], times=5)
    status, _ = health()
    add("health before", status == 200, f"HTTP {status}")

    stack.redis_stop()
    for name, path in pages.items():
        codes, seconds = timed_get(path, times=5)
        add(
            f"{name} 200 without redis",
            set(codes) == {200},
            f"codes {sorted(set(codes))}, median {ms(statistics.median(seconds))}, max {ms(max(seconds))}",
        )
    add("product page latency, redis up", None, f"median {ms(statistics.median(before))}")

    shopper = Shopper("203.0.113.10")
    started = time.monotonic()
    bought = shopper.buy(variant_id)
    status = (
        stack.sql("SELECT status FROM orders_order WHERE number = %s", (bought["order"],)) if bought["order"] else []
    )
    add(
        "guest buys and pays without redis",
        bought["paid"],
        f"order {bought['order']} {status[0][0] if status else 'not placed'} in the database, "
        f"failed step {bought['failed_step']}, {time.monotonic() - started:.1f} s, "
        f"answers {' '.join(f'{s}={c}' for s, c in shopper.answers)}",
    )

    page = shopper.request("product page", "GET", pages["product page"])
    added = shopper.request(
        "add to cart (page)",
        "POST",
        pages["product page"],
        data={"csrfmiddlewaretoken": shopper.form_token(page), "variant": variant_id, "quantity": 1},
    )
    add(
        "page add-to-cart POST not limited (fail open)",
        added is not None and added.status_code == 302,
        f"HTTP {added.status_code if added is not None else 'no answer'}",
    )

    login_page = shopper.request("login page", "GET", "/accounts/login/")
    login = shopper.request(
        "login",
        "POST",
        "/accounts/login/",
        data={
            "csrfmiddlewaretoken": shopper.form_token(login_page),
            "username": "nobody@example.com",
            "password": "wrong password 123",
        },
    )
    add(
        "page log-in refused 429 (auth fails closed)",
        login is not None and login.status_code == 429,
        f"HTTP {login.status_code if login is not None else 'no answer'}, "
        f"Retry-After {login.headers.get('Retry-After') if login is not None else None}",
    )
    token = shopper.request(
        "api token",
        "POST",
        "/api/v1/auth/token/",
        json={"email": "nobody@example.com", "password": "wrong password 123"},
    )
    add(
        "API token refused 429 (auth fails closed)",
        token is not None and token.status_code == 429,
        f"HTTP {token.status_code if token is not None else 'no answer'}, "
        f"Retry-After {token.headers.get('Retry-After') if token is not None else None}",
    )

    status, body = health()
    add(
        "health 503 naming the cache",
        status == 503 and "cache" in body.get("failing", []),
        f"HTTP {status}, failing {body.get('failing')}, "
        f"cache error {body.get('checks', {}).get('cache', {}).get('error')!r}",
    )

    # A Redis that accepts connections but never answers: every cache call waits out the
    # socket timeout (REDIS_SOCKET_TIMEOUT, 0.25 s) before it is read as a miss.
    stack.redis_start()
    timed_get(pages["product page"])  # the pools connect to the new server
    os.kill(stack.redis_proc.pid, signal.SIGSTOP)
    try:
        codes, seconds = timed_get(pages["product page"], times=3)
        status, body = health()
    finally:
        os.kill(stack.redis_proc.pid, signal.SIGCONT)
    add(
        "product page 200 with redis frozen, under the 30 s timeout",
        set(codes) == {200} and max(seconds) < HTTP_TIMEOUT,
        f"codes {sorted(set(codes))}, median {ms(statistics.median(seconds))}, max {ms(max(seconds))}",
    )
    add(
        "health 503 with redis frozen",
        status == 503 and "cache" in body.get("failing", []),
        f"HTTP {status}, failing {body.get('failing')}, "
        f"cache check {body.get('checks', {}).get('cache', {}).get('ms')} ms",
    )

    status = wait_for(lambda: health()[0] == 200 and 200, timeout=15, interval=0.5, what="health 200")
    add("health 200 once redis is back", status == 200, f"HTTP {status}")
    invoiced = (
        stack.sql(
            "SELECT count(*) FROM orders_invoice i JOIN orders_order o ON o.id = i.order_id WHERE o.number = %s",
            (bought["order"],),
        )[0][0]
        if bought["order"]
        else 0
    )
    add(
        "order paid during the outage has an invoice",
        None,
        f"{invoiced} (the follow-up task could not be queued: RUNBOOK 'Redis is down' step 3)",
    )


# -- drill 2: a worker killed mid-task ---------------------------------------------------------


def paid_order(results: Results, drill: str, variant_id: int) -> str | None:
    bought = Shopper(f"203.0.113.{20 + len(results.rows) % 200}").buy(variant_id)
    if not bought["paid"]:
        results.add(drill, "order paid", False, f"failed step {bought['failed_step']}")
        return None
    return bought["order"]


def invoice_state(stack: Stack, number: str) -> tuple[int, int, int, int]:
    """(Invoice rows, of them with a PDF, EmailLog confirmation rows, of them sent)."""
    return stack.sql(
        "SELECT (SELECT count(*) FROM orders_invoice i WHERE i.order_id = o.id),"
        " (SELECT count(*) FROM orders_invoice i WHERE i.order_id = o.id AND i.pdf <> ''),"
        " (SELECT count(*) FROM orders_emaillog e WHERE e.kind = 'order_confirmation' AND e.key = o.number),"
        " (SELECT count(*) FROM orders_emaillog e WHERE e.kind = 'order_confirmation' AND e.key = o.number"
        "  AND e.sent_at IS NOT NULL) FROM orders_order o WHERE o.number = %s",
        (number,),
    )[0]


def kill_mid_render(stack: Stack, number: str, pid_to_kill) -> tuple[int, int, int, int]:
    """Waits until the order's Invoice row exists without its PDF (the task is inside the
    WeasyPrint render), SIGKILLs what pid_to_kill() names, returns the state at the kill."""
    wait_for(lambda: invoice_state(stack, number)[0] == 1, timeout=30, interval=0.01, what="the Invoice row")
    pid_to_kill()
    return invoice_state(stack, number)


def task_lines(log: str, task: str) -> dict[str, list[str]]:
    """task id → the log's words about it ("received", "succeeded", "raised", …)."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] (\w+)", log):
        found.setdefault(match.group(1), []).append(match.group(2))
    return found


def emails_logged(stack: Stack, number: str) -> int:
    subject = f"Subject: Order {number} confirmed"
    return sum(stack.log(name).count(subject) for name in ("worker1", "worker2", "worker3", "worker4"))


def pool_children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def drill_worker(stack: Stack, results: Results) -> None:
    task = "orders.tasks.order_paid_followups"
    add = lambda check, ok, detail="": results.add("worker", check, ok, detail)  # noqa: E731
    print("\n[worker] (a) the whole worker SIGKILLed mid-task", flush=True)
    names = (
        "CELERY_TASK_ACKS_LATE",
        "CELERY_TASK_REJECT_ON_WORKER_LOST",
        "CELERY_WORKER_PREFETCH_MULTIPLIER",
        "CELERY_BROKER_TRANSPORT_OPTIONS",
    )
    shown = stack.manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; "
        f"print(', '.join(f'{{n}}={{getattr(settings, n, None)}}' for n in {names!r}))",
    )
    add("late ack configured", None, shown.stdout.strip())
    variants = demo_variants(stack, synthetic=True)
    worker1 = stack.worker_start("worker1")
    number = paid_order(results, "worker", variants[0][0])
    if number is None:
        return
    at_kill = kill_mid_render(stack, number, lambda: os.killpg(worker1.pid, signal.SIGKILL))
    worker1.wait()
    stack.workers.pop("worker1")
    add(
        "killed inside the render",
        at_kill[:3] == (1, 0, 0),
        f"at the kill: invoice rows {at_kill[0]}, with PDF {at_kill[1]}, email claims {at_kill[2]}",
    )
    broker = stack.broker()
    unacked = broker.zrange("unacked_index", 0, -1, withscores=True)
    add(
        "message held unacknowledged in the broker",
        len(unacked) == 1,
        f"{len(unacked)} in 'unacked'; redelivered by a worker's sweep once older than the visibility "
        f"timeout ({VISIBILITY_TIMEOUT} s)",
    )
    # The hour passes: the message's delivery time moves back by the visibility timeout.
    for tag, score in unacked:
        broker.zadd("unacked_index", {tag: score - VISIBILITY_TIMEOUT - 1})
    restarted = time.monotonic()
    stack.worker_start("worker2")
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: invoice_state(stack, number) == (1, 1, 1, 1), timeout=60, interval=0.2, what="the rerun")
    rerun_seconds = time.monotonic() - restarted
    first, second = task_lines(stack.log("worker1"), task), task_lines(stack.log("worker2"), task)
    ran_twice = [tid for tid in first if "received" in first[tid] and "succeeded" in second.get(tid, [])]
    add(
        "task ran again on the new worker",
        len(ran_twice) == 1,
        f"task {ran_twice[0] if ran_twice else '?'}: worker1 {first}, worker2 {second}, "
        f"{rerun_seconds:.1f} s after the new worker started",
    )
    state, mails = invoice_state(stack, number), emails_logged(stack, number)
    add(
        "effect once: 1 invoice with PDF, 1 email",
        state == (1, 1, 1, 1) and mails == 1,
        f"invoice rows {state[0]}, with PDF {state[1]}, EmailLog {state[2]} (sent {state[3]}), emails in logs {mails}",
    )

    print("\n[worker] (b) only the pool process running the task SIGKILLed (OOM killer)", flush=True)
    stack.worker_stop("worker2")
    worker3 = stack.worker_start("worker3")
    number = paid_order(results, "worker", variants[1][0])
    if number is None:
        return
    children = pool_children(worker3.pid)
    at_kill = kill_mid_render(stack, number, lambda: [os.kill(pid, signal.SIGKILL) for pid in children])
    add(
        "pool process killed inside the render",
        at_kill[:3] == (1, 0, 0),
        f"pid {children}; at the kill: invoice rows {at_kill[0]}, with PDF {at_kill[1]}, email claims {at_kill[2]}",
    )
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: invoice_state(stack, number) == (1, 1, 1, 1), timeout=20, interval=0.2, what="the rerun")
    log = stack.log("worker3")
    runs = task_lines(log, task)
    state, mails = invoice_state(stack, number), emails_logged(stack, number)
    lost = "WorkerLostError" in log
    add(
        "task ran again after its pool process died",
        state == (1, 1, 1, 1) and mails == 1,
        f"worker3 {runs}, WorkerLostError logged: {lost}; invoice rows {state[0]}, with PDF {state[1]}, "
        f"EmailLog {state[2]} (sent {state[3]}), emails in logs {mails}"
        + (
            ""
            if state == (1, 1, 1, 1)
            else "; with acks_late but without reject_on_worker_lost Celery "
            "acknowledges the message of a lost pool process: fix CELERY_TASK_REJECT_ON_WORKER_LOST = True "
            "in config/settings/base.py"
        ),
    )
    unacked = broker.zcard("unacked_index")
    add("broker holds nothing unacknowledged", None, f"{unacked} in 'unacked'")


# -- drill 3: PostgreSQL restarted during a burst ----------------------------------------------


def drill_database(stack: Stack, results: Results, *, shoppers: int) -> None:
    print(f"\n[database] {shoppers} shoppers buying while PostgreSQL restarts (-m fast)", flush=True)
    add = lambda check, ok, detail="": results.add("database", check, ok, detail)  # noqa: E731
    if not any(p.poll() is None for p in stack.workers.values()):
        stack.worker_start("worker4")
    variants = demo_variants(stack, synthetic=True)
    placed = threading.Semaphore(0)
    restart: dict = {}

    def restart_when_a_quarter_placed() -> None:
        for _ in range(max(1, shoppers // 4)):
            if not placed.acquire(timeout=20):
                break
        restart["at"] = time.monotonic()
        try:
            restart["seconds"] = stack.pg_ctl("restart", "-m", "fast")
        except subprocess.CalledProcessError as exc:
            restart["error"] = exc.stderr.strip()

    def shop(n: int) -> tuple[Shopper, dict]:
        shopper = Shopper(f"198.51.100.{n + 1}")
        original = shopper.request

        def request(step, method, path, **kwargs):
            response = original(step, method, path, **kwargs)
            if step == "place":
                placed.release()
            return response

        shopper.request = request
        return shopper, shopper.buy(variants[n % len(variants)][0])

    restarter = threading.Thread(target=restart_when_a_quarter_placed)
    started = time.monotonic()
    restarter.start()
    with ThreadPoolExecutor(max_workers=shoppers) as pool:
        outcomes = list(pool.map(shop, range(shoppers)))
    restarter.join()
    elapsed = time.monotonic() - started
    add(
        "database restarted mid-burst",
        "seconds" in restart,
        f"pg_ctlcluster restart -m fast took {restart.get('seconds', 0):.1f} s, "
        f"{restart.get('at', started) - started:.1f} s into the burst {restart.get('error', '')}".strip(),
    )

    answers = Counter(f"{step} {code}" for shopper, _ in outcomes for step, code in shopper.answers)
    no_answer = {k: v for k, v in answers.items() if not k.split()[-1].isdigit()}
    errors = {k: v for k, v in answers.items() if k.split()[-1].isdigit() and int(k.split()[-1]) >= 400}
    paid = sum(1 for _, outcome in outcomes if outcome["paid"])
    failed_steps = Counter(outcome["failed_step"] for _, outcome in outcomes if outcome["failed_step"])
    add("shoppers paid", None, f"{paid} of {shoppers} in {elapsed:.1f} s; stopped at: {dict(failed_steps) or 'none'}")
    add(
        "every request got an HTTP answer",
        not no_answer,
        f"{sum(answers.values())} requests; without answer: {no_answer or 'none'}",
    )
    bodies = sum((shopper.error_bodies for shopper, _ in outcomes), Counter())
    server_errors = {k: v for k, v in errors.items() if int(k.split()[-1]) >= 500}
    add(
        "every 5xx is a 503, none a 500",
        all(k.endswith(" 503") for k in server_errors),
        f"{json.dumps(server_errors, sort_keys=True) if server_errors else 'no 5xx'}",
    )
    add(
        "error answers by step and status",
        None,
        (json.dumps(errors, sort_keys=True) if errors else "none") + f"; 5xx bodies by type {dict(bodies) or 'none'}",
    )

    status = wait_for(lambda: health()[0] == 200 and 200, timeout=20, interval=0.5, what="health 200")
    add("health 200 after the restart", status == 200, f"HTTP {status}")
    # What a client does with a 5xx on place order: the same request, same Idempotency-Key.
    retried = [(shopper, o) for shopper, o in outcomes if o["failed_step"] == "place"]
    again = [shopper.place_again(o) for shopper, o in retried]
    add(
        "place order retried with the same Idempotency-Key",
        all(o["paid"] for o in again),
        f"{sum(o['paid'] for o in again)} of {len(again)} placed and paid on the retry; "
        f"still failing at {dict(Counter(o['failed_step'] for o in again if not o['paid'])) or 'none'}",
    )
    time.sleep(1)  # payments still being processed by gunicorn have finished
    ((orders, no_lines, bad_subtotal, paid_no_payment, captured_unpaid, pending),) = stack.sql(
        """
        WITH totals AS (SELECT order_id, count(*) AS n, sum(line_total) AS s FROM orders_orderline GROUP BY order_id),
             captured AS (SELECT DISTINCT order_id FROM payments_payment WHERE status = 'captured')
        SELECT count(*),
               count(*) FILTER (WHERE t.n IS NULL),
               count(*) FILTER (WHERE t.s IS DISTINCT FROM o.subtotal),
               count(*) FILTER (WHERE o.status = 'paid' AND c.order_id IS NULL),
               count(*) FILTER (WHERE c.order_id IS NOT NULL AND o.status NOT IN ('paid', 'refunded',
                   'partially_refunded', 'partially_fulfilled', 'fulfilled', 'delivered')),
               count(*) FILTER (WHERE o.status = 'pending_payment')
        FROM orders_order o LEFT JOIN totals t ON t.order_id = o.id LEFT JOIN captured c ON c.order_id = o.id
        """
    )
    add(
        "no half-written order",
        no_lines == 0 and bad_subtotal == 0,
        f"{orders} orders: without lines {no_lines}, lines not adding up to the subtotal {bad_subtotal}",
    )
    add(
        "payments consistent with order status",
        paid_no_payment == 0 and captured_unpaid == 0,
        f"paid without captured payment {paid_no_payment}, captured on an unpaid order {captured_unpaid}; "
        f"pending_payment {pending}",
    )
    client_orders = {o["order"] for _, o in outcomes if o["order"]}
    db_orders = {n for (n,) in stack.sql("SELECT number FROM orders_order")}
    add(
        "orders the clients were told of exist",
        client_orders <= db_orders,
        f"{len(client_orders)} told, {len(client_orders - db_orders)} missing",
    )
    ((variants_n, mismatched, negative),) = stack.sql(
        """
        WITH ledger AS (SELECT variant_id, sum(quantity) AS total FROM inventory_stockmovement GROUP BY variant_id)
        SELECT count(*),
               count(*) FILTER (WHERE s.on_hand <> COALESCE(l.total, 0)),
               count(*) FILTER (WHERE s.on_hand < 0)
        FROM inventory_stockitem s LEFT JOIN ledger l USING (variant_id)
        """
    )
    add(
        "on_hand == Σ ledger",
        mismatched == 0 and negative == 0,
        f"{variants_n} variants: mismatched {mismatched}, negative {negative}",
    )
    check = stack.manage("check_stock", check=False)
    add(
        "manage.py check_stock exits 0",
        check.returncode == 0,
        f"exit {check.returncode}: {(check.stdout + check.stderr).strip().splitlines()[-1:]}",
    )


# -- main ------------------------------------------------------------------------------------

DRILLS = ("redis", "worker", "database")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=DRILLS, action="append", help="run this drill only (repeatable)")
    parser.add_argument("--shoppers", type=int, default=40, help="concurrent shoppers in the database drill")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory with the logs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: pg_createcluster and pg_ctlcluster need it")

    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so that the finally below tears the stack down.
    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    results = Results()
    stack = Stack(keep_logs=args.keep_logs)
    started = time.monotonic()
    try:
        stack.start()
        print(f"Stack ready in {time.monotonic() - started:.0f} s", flush=True)
        for drill in args.only or DRILLS:
            try:
                if drill == "redis":
                    drill_redis(stack, results)
                elif drill == "worker":
                    drill_worker(stack, results)
                else:
                    drill_database(stack, results, shoppers=args.shoppers)
            except (TimeoutError, requests.RequestException, psycopg.Error, redis.RedisError, OSError) as exc:
                results.add(drill, "drill completed", False, f"{type(exc).__name__}: {exc}")
    except subprocess.CalledProcessError as exc:
        results.add("-", "stack started", False, f"{' '.join(exc.cmd[:4])}: {(exc.stderr or '').strip()[-500:]}")
    except KeyboardInterrupt:
        print("\nInterrupted: tearing the stack down", flush=True)
        results.add("-", "run completed", False, "interrupted")
    finally:
        stack.stop()
    print(results.summary())
    print(f"Total {time.monotonic() - started:.0f} s")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
