"""Work that must follow a commit without being able to undo it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit(func: Callable[..., object], *args, **kwargs) -> None:
    """Calls func(*args, **kwargs) once the current transaction commits (at once outside one),
    typically a Celery task's `.delay`. An exception (the broker is down) is logged at ERROR
    with what failed, never raised: the committed work stands, and the caller's request or
    task does not fail after the fact (docs/RUNBOOK.md, "Redis or the broker is down").

    Why not transaction.on_commit(partial(...), robust=True): Django 5.2 logs a robust hook's
    failure by the hook's __qualname__, which a functools.partial lacks, so the logging itself
    raised AttributeError and the request answered 500 after committing.
    """

    def call() -> None:
        func(*args, **kwargs)

    # Named for Django's log line; never repr(args): a queryset argument would run its query.
    task_name = getattr(getattr(func, "__self__", None), "name", None)  # a Celery task's .delay
    call.__qualname__ = f"{task_name}.{func.__name__}" if task_name else getattr(func, "__qualname__", repr(func))
    transaction.on_commit(call, robust=True)
