"""
Request ids, log records and error reporting: what an operator needs to follow one request
(and the tasks it enqueued) through the logs and into Sentry.

- RequestIDMiddleware takes a well-formed X-Request-ID from the client (or the proxy) or makes
  one, keeps it in a contextvar for the request and returns it in the response header.
- Every log record carries `request_id` (a record factory, so every handler sees it: ours, a
  test's caplog, Sentry's breadcrumbs); "-" outside a request or task.
- Celery: before_task_publish copies the id into the task's headers, task_prerun puts it back
  into the contextvar in the worker (a task enqueued outside a request uses its task id).
- sentry_init(): Django and Celery integrations, no personal data, beat monitoring.

Nothing here imports models or settings: config/celery_app.py imports it before Django is
set up (and settings' LOGGING names RequestIDFilter, settings call sentry_init).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from contextvars import ContextVar, Token

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.core.signals import request_finished
from django.dispatch import receiver

REQUEST_ID_HEADER = "X-Request-ID"
# Why validated: the id is echoed in a response header and written into every log line; a
# client must not be able to inject newlines, quotes or megabytes there.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
NO_REQUEST_ID = "-"

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST_ID)


def request_id_get() -> str:
    """The id of the request (or task) running in this context, "-" when there is none."""
    return request_id_var.get()


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIDMiddleware:
    """Sets the request id for the duration of a request and answers it in X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else request_id_new()
        request.request_id = request_id
        # Not reset on the way out: Django logs "Not Found", "Internal Server Error" … after
        # the middleware chain has returned, and those lines need the id too. request_finished
        # clears it (below); under ASGI every request has its own context anyway.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


@receiver(request_finished)
def _request_id_clear(**kwargs) -> None:
    request_id_var.set(NO_REQUEST_ID)


# -- log records ----------------------------------------------------------------------------

_default_record_factory = logging.getLogRecordFactory()


def _record_factory(*args, **kwargs) -> logging.LogRecord:
    record = _default_record_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


# Installed once, at import: every record of every logger gets `request_id`.
if getattr(logging.getLogRecordFactory(), "__name__", "") != "_record_factory":
    logging.setLogRecordFactory(_record_factory)


class RequestIDFilter(logging.Filter):
    """Makes sure a record has `request_id` (records made before this module was imported,
    or by a library that builds LogRecord itself). Used on the console handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


# -- Celery: carry the id from the request into its tasks --------------------------------------


@before_task_publish.connect
def _request_id_to_task_headers(headers=None, **kwargs) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != NO_REQUEST_ID:
        headers.setdefault("request_id", request_id)


_task_tokens: dict[str, Token[str]] = {}


@task_prerun.connect
def _request_id_from_task_headers(task_id=None, task=None, **kwargs) -> None:
    # Protocol 2 merges custom message headers into task.request. An eager task runs inside
    # the request that enqueued it and keeps that request's id.
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    if not (request_id and REQUEST_ID_RE.match(str(request_id))):
        current = request_id_var.get()
        request_id = current if current != NO_REQUEST_ID else (task_id or request_id_new())
    if task_id:
        _task_tokens[task_id] = request_id_var.set(str(request_id))


@task_postrun.connect
def _request_id_reset(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        # ValueError: set in another context (should not happen): leave it.
        with contextlib.suppress(ValueError):
            request_id_var.reset(token)


# -- Sentry ---------------------------------------------------------------------------------


def sentry_init(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    """Errors from web, worker and beat go to Sentry; beat's schedule is monitored (Crons).
    No personal data: no cookies, user ids, addresses or request bodies are sent."""
    # Imported here: settings call this only when SENTRY_DSN is set, and the integrations cost
    # about 0.1 s at every process start (web, worker, beat, each manage.py) that reports nowhere.
    import sentry_sdk  # noqa: PLC0415
    from sentry_sdk.integrations.celery import CeleryIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.django import DjangoIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.logging import LoggingIntegration  # noqa: PLC0415

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=True),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
