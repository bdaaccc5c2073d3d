"""Celery queues by urgency (config/settings/base.py, CELERY_TASK_ROUTES): what a payment or the
stock waits for goes to "urgent", everything else to the default queue "celery", and the
processes the Procfile and `make run` (bin/run) start consume every queue, one worker the
urgent queue alone, so that a backlog of emails never delays a payment webhook
(bench/queues.py measures it)."""

import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings

from config.celery_app import app

REPO = Path(__file__).resolve().parents[2]

URGENT = {
    "payments.tasks.process_webhook_event",
    "payments.tasks.retry_waiting_payments_work",
    "payments.tasks.reconcile_payments",
    "orders.tasks.release_expired_reservations",
}
# Emails, invoices, refunds sent to a provider, the page-view flush …: behind the urgent work.
DEFAULT = {
    "accounts.tasks.delete_user_sessions",
    "accounts.tasks.send_customer_invite",
    "accounts.tasks.send_email_changed_notice",
    "accounts.tasks.send_email_verification",
    "accounts.tasks.send_welcome_email",
    "catalog.tasks.flush_product_views",
    "inventory.tasks.send_back_in_stock_emails",
    "inventory.tasks.send_low_stock_alert",
    "orders.tasks.alert_staff_order_flagged",
    "orders.tasks.generate_invoice",
    "orders.tasks.order_paid_followups",
    "orders.tasks.resume_order_followups",
    "orders.tasks.send_order_email",
    "payments.tasks.refund_rejected_payment",
    "payments.tasks.submit_refund",
}


def shop_tasks() -> set[str]:
    """The names of the shop's tasks, as a worker registers them at start (not Celery's own,
    nor those a test module defines)."""
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.split(".")[0] not in ("celery", "tests")}


def queue_of(task: str) -> str:
    """The queue Celery's router sends `task` to (what .delay, send_task and beat use)."""
    return app.amqp.router.route({}, task)["queue"].name


def declared_queues() -> set[str]:
    return {queue.name for queue in settings.CELERY_TASK_QUEUES}


def test_every_task_of_the_shop_is_placed_on_purpose():
    # A new task must be added to URGENT or DEFAULT here: someone decided whether it waits.
    assert shop_tasks() == URGENT | DEFAULT


@pytest.mark.parametrize("task", sorted(URGENT))
def test_what_a_payment_or_the_stock_waits_for_goes_to_the_urgent_queue(task):
    assert queue_of(task) == "urgent"


@pytest.mark.parametrize("task", sorted(DEFAULT))
def test_emails_invoices_and_the_rest_go_to_the_default_queue(task):
    assert queue_of(task) == settings.CELERY_TASK_DEFAULT_QUEUE == "celery"


def test_a_task_nobody_routed_goes_to_the_default_queue_a_worker_consumes():
    assert queue_of("someapp.tasks.not_routed") == "celery"
    assert declared_queues() == {"urgent", "celery"}
    # Each queue has an exchange and a binding of its own: a message for one never lands in
    # the other.
    for queue in settings.CELERY_TASK_QUEUES:
        assert (queue.exchange.name, queue.routing_key) == (queue.name, queue.name)
    for route in settings.CELERY_TASK_ROUTES.values():
        assert route["queue"] in declared_queues()


def test_beat_sends_the_sweep_and_reconciliation_to_the_urgent_queue():
    tasks = shop_tasks()
    placed = {entry["task"]: queue_of(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(placed) <= tasks
    assert placed == {
        "orders.tasks.release_expired_reservations": "urgent",
        "payments.tasks.reconcile_payments": "urgent",
        "payments.tasks.retry_waiting_payments_work": "urgent",
        "orders.tasks.resume_order_followups": "celery",
        "catalog.tasks.flush_product_views": "celery",
    }
    assert not any("queue" in entry.get("options", {}) for entry in settings.CELERY_BEAT_SCHEDULE.values())


def worker_queues(command: str) -> set[str] | None:
    """The queues a `celery … worker` command line consumes (--queues/-Q); None without the
    option, which means every queue of CELERY_TASK_QUEUES."""
    words = shlex.split(command)
    for i, word in enumerate(words):
        if word in ("--queues", "-Q"):
            return set(words[i + 1].split(","))
        if word.startswith("--queues="):
            return set(word.split("=", 1)[1].split(","))
    return None


def procfile_workers() -> dict[str, set[str] | None]:
    workers = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if re.search(r"\bcelery\b.*\bworker\b", command):
            workers[name.strip()] = worker_queues(command)
    return workers


def bin_run_workers() -> list[set[str] | None]:
    return [
        worker_queues(line.replace('"$PYTHON" -m ', ""))
        for line in (REPO / "bin" / "run").read_text().splitlines()
        if re.match(r'"\$PYTHON" -m celery -A config worker\b', line)
    ]


def test_worker_queues_reads_the_command_line():
    assert worker_queues("celery -A config worker --queues urgent,celery --concurrency 2") == {"urgent", "celery"}
    assert worker_queues("celery -A config worker -Q urgent") == {"urgent"}
    assert worker_queues("celery -A config worker --queues=celery") == {"celery"}
    assert worker_queues("celery -A config worker --concurrency 2") is None


def test_the_procfile_consumes_every_queue_and_the_urgent_one_alone():
    workers = procfile_workers()
    assert set(workers) == {"worker", "worker_urgent"}
    consumed = set().union(*(queues or declared_queues() for queues in workers.values()))
    assert consumed == declared_queues()
    assert workers["worker_urgent"] == {"urgent"}
    # The general worker takes urgent work too when it has a process free: urgent tasks still
    # run where only `worker` is scaled up (a new process type starts at zero on some hosts).
    assert workers["worker"] == declared_queues()


def test_make_run_starts_workers_for_every_queue_and_one_for_the_urgent_queue_alone():
    workers = bin_run_workers()
    assert len(workers) == 2
    consumed = set().union(*(queues or declared_queues() for queues in workers))
    assert consumed == declared_queues()
    assert {"urgent"} in workers
