"""How a service enqueues its own app's Celery tasks: by name, once the transaction commits.

A task is thin (ids in, one service call, STYLE.md practice 8), so `<app>/tasks.py` imports
`<app>/services.py`; a service that imported its tasks module back would close a loop. So
services never import tasks: they call enqueue_on_commit("<app>.tasks.<name>", ids…), and
the task is looked up when it is enqueued. The name is the task's dotted path, which is also
the name Celery registers it under (beat's schedule uses the same strings). Views, the admin
and other tasks sit above the services and import tasks as they import anything else.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from .transactions import after_commit


def enqueue_on_commit(task: str, *args) -> None:
    """Enqueues the Celery task at the dotted path `task` ("orders.tasks.send_order_email")
    with `args` (ids and other plain values) once the current transaction commits (at once
    outside one), through after_commit: a broker that is down is logged at ERROR, named by
    the task, and never raised into the committed work.

    Through the task's .delay, which honours CELERY_TASK_ALWAYS_EAGER (tests, and a process
    with no broker configured: the task runs right there, after the commit; `make run` always
    has one, kombu's filesystem transport at the least), where app.send_task by name would
    not. Raises ImportError for a path that names nothing."""
    after_commit(import_string(task).delay, *args)
