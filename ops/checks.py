"""System checks of the database connection settings behind a connection pooler
(config/settings/base.py, DATABASE_POOLER): run by every `manage.py check`, `check --deploy`
included, and before runserver and migrate. They read settings only, never the database.

PgBouncer in transaction pooling mode gives each transaction whichever server connection is
free, so whatever outlives a transaction is lost or, worse, met by another client: a
server-side cursor Django declared WITH HOLD (QuerySet.iterator() outside a transaction), a
prepared statement psycopg made after `prepare_threshold` executions, a session setting.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Error as CheckError
from django.core.checks import Warning as CheckWarning

# PgBouncer's default listen_port: a DATABASE_URL naming it is almost certainly a pooler.
PGBOUNCER_PORT = "6432"


def pooler_problems(databases: dict[str, dict], pooler: str) -> list[CheckMessage]:
    """ops.E001/E002/W002 for each PostgreSQL alias of `databases` that a `pooler` in
    transaction mode would break; ops.W001 for an alias that looks pooled while no pooler is
    declared."""
    problems: list[CheckMessage] = []
    for alias, database in databases.items():
        if not database.get("ENGINE", "").endswith("postgresql"):
            continue
        options = database.get("OPTIONS") or {}
        if not pooler:
            looks_pooled = str(database.get("PORT") or "") == PGBOUNCER_PORT or "pgbouncer" in str(
                database.get("HOST") or ""
            )
            if looks_pooled:
                problems.append(
                    CheckWarning(
                        f"Database {alias!r} ({database.get('HOST')}:{database.get('PORT')}) looks like PgBouncer, "
                        "but DATABASE_POOLER is not set: server-side cursors stay on.",
                        hint="Set DATABASE_POOLER=pgbouncer when the database URLs name PgBouncer in transaction "
                        "pooling mode (docs/DEPLOY.md, PgBouncer).",
                        id="ops.W001",
                    )
                )
            continue
        if not database.get("DISABLE_SERVER_SIDE_CURSORS"):
            problems.append(
                CheckError(
                    f"Database {alias!r} is reached through {pooler} (DATABASE_POOLER) with server-side cursors "
                    "on: QuerySet.iterator() outside a transaction would fetch from a cursor another server "
                    "connection holds.",
                    hint=f"Set DATABASES[{alias!r}]['DISABLE_SERVER_SIDE_CURSORS'] = True.",
                    id="ops.E001",
                )
            )
        if options.get("prepare_threshold") is not None:
            problems.append(
                CheckError(
                    f"Database {alias!r} is reached through {pooler} (DATABASE_POOLER) with psycopg's "
                    f"prepare_threshold {options['prepare_threshold']!r}: a statement prepared on one server "
                    "connection is missing on the next.",
                    hint=f"Set DATABASES[{alias!r}]['OPTIONS']['prepare_threshold'] = None (Django's default).",
                    id="ops.E002",
                )
            )
        if "options" in options:
            problems.append(
                CheckWarning(
                    f"Database {alias!r} sends the startup parameter 'options' ({options['options']!r}) through "
                    f"{pooler}: PgBouncer refuses the connection, or drops the settings if told to ignore it.",
                    hint="Set these per role or database instead (ALTER ROLE … SET …), or per transaction (SET LOCAL).",
                    id="ops.W002",
                )
            )
    return problems


@register(Tags.compatibility, deploy=False)
def database_pooler_check(app_configs=None, **kwargs) -> list[CheckMessage]:
    """pooler_problems() of the configured databases."""
    return pooler_problems(settings.DATABASES, getattr(settings, "DATABASE_POOLER", ""))
