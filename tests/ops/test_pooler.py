"""Behind PgBouncer in transaction pooling mode (DATABASE_POOLER=pgbouncer): the settings that
make Django and psycopg work there, the system checks that flag a pooled setup without them,
and the shop's own SQL keeping its state per transaction. The run through a real PgBouncer is
bench/flash_sale.py --pgbouncer."""

from __future__ import annotations

import ast
import re
import runpy
import warnings

import pytest
from django.conf import settings
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, connections, transaction
from django.test import override_settings

from config.settings.base import BASE_DIR
from kernel.locking import advisory_lock
from ops.checks import pooler_problems

SOURCE_DIRS = [
    "kernel",
    "accounts",
    "pages",
    "catalog",
    "inventory",
    "cart",
    "orders",
    "payments",
    "checkout",
    "storefront",
    "api",
    "backoffice",
    "ops",
    "config",
]


def settings_with(monkeypatch, **environ: str) -> dict:
    """config/settings/base.py evaluated afresh with these environment variables."""
    for name in ("DATABASE_POOLER", "DATABASE_REPLICA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://shop@pgbouncer.internal:6432/shop")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_DIR / "config" / "settings" / "base.py"), run_name="pooler_settings")


def test_pgbouncer_setting_turns_off_server_side_cursors_and_prepared_statements(monkeypatch):
    pooled = settings_with(monkeypatch, DATABASE_POOLER="pgbouncer", DATABASE_CONNECT_TIMEOUT="7")

    default = pooled["DATABASES"]["default"]
    assert pooled["DATABASE_POOLER"] == "pgbouncer"
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert "prepare_threshold" in default["OPTIONS"] and default["OPTIONS"]["prepare_threshold"] is None
    assert default["OPTIONS"]["connect_timeout"] == 7  # the other options kept
    assert (default["HOST"], default["PORT"]) == ("pgbouncer.internal", 6432)
    assert pooler_problems(pooled["DATABASES"], pooled["DATABASE_POOLER"]) == []


def test_pgbouncer_setting_applies_to_every_postgresql_alias(monkeypatch):
    pooled = settings_with(
        monkeypatch,
        DATABASE_POOLER="pgbouncer",
        DATABASE_REPLICA_URL="postgres://shop@pgbouncer-replica.internal:6432/shop",
    )
    if "replica" not in pooled["DATABASES"]:
        pytest.skip("no replica alias in this checkout's settings")
    replica = pooled["DATABASES"]["replica"]
    assert replica["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert replica["OPTIONS"]["prepare_threshold"] is None
    # The primary's dict is not shared with the replica's.
    assert replica["OPTIONS"] is not pooled["DATABASES"]["default"]["OPTIONS"]


def test_without_a_pooler_the_database_settings_are_as_before(monkeypatch):
    direct = settings_with(monkeypatch)

    default = direct["DATABASES"]["default"]
    assert direct["DATABASE_POOLER"] == ""
    assert "DISABLE_SERVER_SIDE_CURSORS" not in default
    assert "prepare_threshold" not in default["OPTIONS"]


def test_an_unknown_pooler_is_refused(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLER"):
        settings_with(monkeypatch, DATABASE_POOLER="pgpool")


POSTGRES = {"ENGINE": "django.db.backends.postgresql", "HOST": "db", "PORT": "5432", "OPTIONS": {}}


def test_check_flags_a_pooled_database_with_server_side_cursors_or_prepared_statements():
    databases = {
        "default": {**POSTGRES, "OPTIONS": {"prepare_threshold": 5}},
        "replica": {**POSTGRES, "DISABLE_SERVER_SIDE_CURSORS": True, "OPTIONS": {"options": "-c jit=off"}},
        "sqlite": {"ENGINE": "django.db.backends.sqlite3"},
    }

    problems = pooler_problems(databases, "pgbouncer")

    assert [(type(p), p.id) for p in problems] == [(Error, "ops.E001"), (Error, "ops.E002"), (Warning, "ops.W002")]
    assert "'default'" in problems[0].msg and "'default'" in problems[1].msg and "'replica'" in problems[2].msg


def test_check_warns_when_the_database_looks_like_pgbouncer_without_the_setting():
    problems = pooler_problems({"default": {**POSTGRES, "PORT": 6432}}, "")

    assert [p.id for p in problems] == ["ops.W001"]
    assert "DATABASE_POOLER=pgbouncer" in problems[0].hint
    assert pooler_problems({"default": POSTGRES}, "") == []  # a direct connection: nothing to say


def test_manage_py_check_fails_when_the_pooler_is_declared_but_the_settings_lack_it():
    # A settings module that declares the pooler but turns server-side cursors back on: what
    # the registered check is there to catch (whether these tests connect directly or not).
    cursors_on = {alias: {**db, "DISABLE_SERVER_SIDE_CURSORS": False} for alias, db in settings.DATABASES.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding setting DATABASES can lead to unexpected behavior."
        with (
            override_settings(DATABASE_POOLER="pgbouncer", DATABASES=cursors_on),
            pytest.raises(SystemCheckError, match="ops.E001"),
        ):
            call_command("check")
    call_command("check")  # and the settings as they are pass


@pytest.mark.django_db(transaction=True)
def test_advisory_lock_of_the_imports_ends_with_the_transaction():
    """A transaction-level lock: released at commit, so PgBouncer can hand the server
    connection to the next client without a lock left on it."""

    def advisory_locks_held() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
            return cursor.fetchone()[0]

    def other_connection_can_take_it() -> bool:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", ["import:test"])
                return cursor.fetchone()[0]
        finally:
            other.close()

    with transaction.atomic():
        advisory_lock("import:test")
        assert advisory_locks_held() == 1
        assert not other_connection_can_take_it()
    assert advisory_locks_held() == 0
    assert other_connection_can_take_it()


def sql_strings() -> list[tuple[str, str]]:
    """(file, text) of every string literal in the shop's code (f-strings by their literal
    parts), migrations included."""
    found = []
    for directory in SOURCE_DIRS:
        for path in sorted((BASE_DIR / directory).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            # An f-string's literal parts are nodes of their own too: read them as one string.
            parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
            for node in ast.walk(tree):
                if isinstance(node, ast.JoinedStr):
                    text = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
                    found.append((str(path.relative_to(BASE_DIR)), text))
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
                    found.append((str(path.relative_to(BASE_DIR)), node.value))
    return found


# Session-level state a transaction-pooled server connection would carry to the next client.
SESSION_STATE = {
    # SQL keyword in capitals (the code's convention; prose "Set …" is not SQL), then a setting.
    "plain SET (use SET LOCAL inside a transaction)": re.compile(
        r"^\s*SET\s+(?i:(SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)\w+(\s*=|\s+TO\b))"
    ),
    "RESET / DISCARD": re.compile(r"^\s*(RESET|DISCARD)\s", re.I),
    "set_config(..., false)": re.compile(r"set_config\s*\([^)]*,\s*false\s*\)", re.I),
    "session advisory lock": re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.I),
    "LISTEN / NOTIFY": re.compile(r"^\s*(LISTEN|UNLISTEN|NOTIFY)\s|pg_notify\s*\(", re.I),
    "temporary table": re.compile(r"CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE", re.I),
    "cursor WITH HOLD": re.compile(r"DECLARE\s+\S+.*\bWITH\s+HOLD\b", re.I | re.S),
    "PREPARE": re.compile(r"^\s*PREPARE\s+\w+", re.I),
}


def test_the_shops_sql_keeps_no_session_state():
    strings = sql_strings()
    # The scan sees the real statements: the lock bound and the imports' advisory lock.
    assert ("kernel/locking.py", "SET LOCAL lock_timeout = {}") in strings
    assert ("kernel/locking.py", "SELECT pg_advisory_xact_lock(hashtext(%s))") in strings

    offending = [
        f"{path}: {kind}: {text!r}"
        for path, text in strings
        for kind, pattern in SESSION_STATE.items()
        if pattern.search(text)
    ]

    assert offending == []


def test_the_scan_catches_session_state():
    caught = {
        kind
        for text in (
            "SET lock_timeout = 100",
            "SET SESSION statement_timeout TO 0",
            "SET search_path = public",
            "SELECT pg_advisory_lock(1)",
            "LISTEN orders",
            "CREATE TEMP TABLE t (id int)",
            "SELECT set_config('TimeZone', 'UTC', false)",
        )
        for kind, pattern in SESSION_STATE.items()
        if pattern.search(text)
    }
    assert len(caught) == 5
    for allowed in (
        "SET LOCAL lock_timeout = 5",
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "UPDATE t SET a = 1",
        "Set a line's quantity",
    ):
        assert not any(pattern.search(allowed) for pattern in SESSION_STATE.values())
