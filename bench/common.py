"""
What both benchmarks share: a throwaway PostgreSQL database of their own (dropped and created
again on every run, never the shop's or the tests'), Django configured against it, and the
stock invariants checked after every run.

The server is the one DATABASE_URL points at (default postgres://postgres@127.0.0.1:5432);
only the database name is replaced.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def database_url(name: str) -> str:
    """DATABASE_URL's server (user, password, host, port) with database `name`."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def psycopg_dsn(url: str) -> str:
    """A libpq URI psycopg accepts ("postgres://" → "postgresql://")."""
    return "postgresql://" + url.split("://", 1)[1]


def recreate_database(name: str) -> str:
    """Drops database `name` (closing its connections) and creates it empty; returns its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(psycopg_dsn(database_url("postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(psycopg_dsn(database_url("postgres")), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def setup_django(url: str) -> None:
    """Configures Django in this process against `url`: the development settings with DEBUG
    off (DEBUG keeps every query in memory and would slow the measured path down)."""
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def stock_figures() -> dict[str, int]:
    """Totals and the per-variant invariants, each in one statement:
    on_hand: Σ on_hand; ledger: Σ StockMovement.quantity; sales: units sold by SALE rows;
    mismatched: variants whose on_hand != Σ of their ledger rows (must be 0);
    min_on_hand; min_available: lowest on_hand − live reservations (must be >= 0)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH ledger AS (
                SELECT variant_id, SUM(quantity) AS total,
                       SUM(CASE WHEN reason = 'sale' THEN -quantity ELSE 0 END) AS sold
                FROM inventory_stockmovement GROUP BY variant_id
            ), held AS (
                SELECT variant_id, SUM(quantity) AS total FROM inventory_reservation
                WHERE status = 'active' AND expires_at > now() GROUP BY variant_id
            )
            SELECT COALESCE(SUM(s.on_hand), 0), COALESCE(SUM(l.total), 0), COALESCE(SUM(l.sold), 0),
                   COUNT(*) FILTER (WHERE s.on_hand <> COALESCE(l.total, 0)),
                   MIN(s.on_hand), MIN(s.on_hand - COALESCE(h.total, 0))
            FROM inventory_stockitem s
            LEFT JOIN ledger l USING (variant_id)
            LEFT JOIN held h USING (variant_id)
            """
        )
        on_hand, ledger, sales, mismatched, min_on_hand, min_available = cursor.fetchone()
    return {
        "on_hand": int(on_hand),
        "ledger": int(ledger),
        "sales": int(sales),
        "mismatched": int(mismatched),
        "min_on_hand": int(min_on_hand if min_on_hand is not None else 0),
        "min_available": int(min_available if min_available is not None else 0),
    }


def run_check_stock() -> str:
    """`manage.py check_stock` if this checkout has it: "ok", "FAILED: …" or "not installed"."""
    import io

    from django.core.management import call_command, get_commands
    from django.core.management.base import CommandError

    if "check_stock" not in get_commands():
        return "not installed"
    out = io.StringIO()
    try:
        call_command("check_stock", stdout=out, stderr=out)
    except (CommandError, SystemExit) as exc:
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            return "ok"
        return f"FAILED: {exc} {out.getvalue().strip()}"
    return "ok"
