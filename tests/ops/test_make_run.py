"""`make run` (bin/run) as a developer runs it, with no broker and no Redis configured: a real
Celery worker and beat on kombu's filesystem transport run the periodic jobs (the sweep, the
page-view flush) and the tasks the web process enqueues on commit (the welcome email), and
the emails link to the address the shop serves on, not to http://localhost:8000/.

Slow (migrate, the demo catalog, three processes: about a minute on a 2-core machine), and
the one test of the script as a whole."""

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 240
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _session_processes(sid: int) -> list[int]:
    """Processes still alive in the session `sid` (bin/run and everything it started)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields[3]: session id; Z: a zombie
            alive.append(int(entry.name))
    return alive


@pytest.fixture
def shop(tmp_path):
    """bin/run on a free port, SQLite and the runtime files in tmp_path; yields (url, log)."""
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SHOP_BASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        PYTHON=sys.executable,
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        RUN_DIR=str(tmp_path / "run"),
        MEDIA_ROOT=str(tmp_path / "media"),
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        SWEEP_INTERVAL_SECONDS="2",
        PRODUCT_VIEWS_FLUSH_SECONDS="2",
        PRODUCT_VIEWS_BUFFER_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "bin/run"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"bin/run stopped:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the shop did not answer in time:\n{log.read_text()[-3000:]}"
            try:
                urllib.request.urlopen(url + "/health/", timeout=5)
                break
            except OSError:
                time.sleep(1)
        yield url, log, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
        for pid in _session_processes(process.pid):  # whatever a failed test left behind
            os.kill(pid, signal.SIGKILL)


def _wait_for(condition, what: str, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not seen in {seconds} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    return result


def _views_recorded(database: Path, handle: str) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        row = db.execute(
            "SELECT COALESCE(SUM(s.views), 0) FROM catalog_productviewstat s"
            " JOIN catalog_product p ON p.id = s.product_id WHERE p.handle = ?",
            (handle,),
        ).fetchone()
    return row[0]


def _health(url: str) -> dict:
    with urllib.request.urlopen(url + "/health/", timeout=5) as response:
        return json.load(response)


def test_make_run_without_a_broker_runs_worker_and_beat_and_links_to_its_own_address(shop):
    url, log, process = shop
    assert "Celery: workers and beat on filesystem://" in log.read_text()

    # Beat sends the sweep every 2 s (SWEEP_INTERVAL_SECONDS), the worker runs and records it.
    sweeper = _wait_for(lambda: _health(url)["checks"]["sweeper"], "the health check", log)
    assert sweeper["scheduled"] is True
    sweeper = _wait_for(
        lambda: (s := _health(url)["checks"]["sweeper"])["last_run"] and s, "a recorded sweep run", log, 90
    )
    assert sweeper["ok"] is True

    # A product page view counted by the web process reaches the database through beat's
    # flush in the worker: the two processes share a cache (files under RUN_DIR).
    with urllib.request.urlopen(url + "/products/", timeout=30) as response:
        handle = re.search(r'href="/products/([\w-]+)/"', response.read().decode()).group(1)
    urllib.request.urlopen(f"{url}/products/{handle}/", timeout=30).close()
    database = log.parent / "db.sqlite3"
    _wait_for(lambda: _views_recorded(database, handle) >= 1, "the page view in the database", log)

    # Signing up enqueues the welcome email on commit; the worker sends it (console backend).
    request = urllib.request.Request(
        url + "/api/v1/auth/register/",
        data=json.dumps({"email": "grace@example.com", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
    _wait_for(lambda: "Subject: Welcome to" in log.read_text(), "the welcome email", log)
    text = log.read_text()
    assert "Task accounts.tasks.send_welcome_email[" in text  # run by the worker, not eagerly
    assert f"{url}/accounts/" in text  # the links: verify the address, orders, password reset
    assert "http://localhost:8000" not in text

    # A TERM to bin/run stops the web server, the worker and beat.
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    _wait_for(lambda: not _session_processes(process.pid), "every process stopped", log, 30)
