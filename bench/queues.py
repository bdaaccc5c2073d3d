#!/usr/bin/env python
"""
Celery queues by urgency: how long a payment webhook waits behind a backlog of emails. The
target: with 10,000 emails queued, a payment webhook is processed within 1 s of arriving.

    .venv/bin/python bench/queues.py                  # the Procfile's layout
    .venv/bin/python bench/queues.py --before         # then one worker, one queue, for contrast
    .venv/bin/python bench/queues.py --emails 2000 --webhooks 5    # small, while developing

What it runs (bench/stack.py): its own database (bench_queues, --database), gunicorn with the
production settings, Redis db 5 as cache and broker (--redis-db), the Stripe gateway enabled
with a made-up key and signing secret (nothing reaches Stripe: the benchmark signs the events
itself), emails written to files (bench.stack.RecordingEmailBackend).

After (the Procfile's layout, config/settings/base.py CELERY_TASK_ROUTES): the Procfile's
`worker` (queues urgent and celery) and `worker_urgent` (queue urgent) lines, run as they are
(the ${VAR:-default}s taken from the environment). Then:
  1. enqueues --emails real email tasks (orders.tasks.send_order_email "payment_failed" of one
     pending order, each with a key of its own, so each renders and sends an email) on the
     default queue, as fast as Redis takes them;
  2. delivers --webhooks payment webhooks, one at a time, the way Stripe does: a signed
     `checkout.session.completed` POSTed to /payments/webhooks/stripe/ for a pending order
     holding stock; gunicorn stores the event and enqueues process_webhook_event on commit;
  3. for each, waits for the event's processed_at and prints processed_at − received_at (both
     written by the shop: from stored to processed, queueing included) and the emails still
     queued at that moment.
PASS when every webhook is processed within --limit (1 s) while the emails are still queued.

Before (--before): the layout before queues by urgency, one worker consuming one queue that
holds every task. The same backlog, then one webhook stored and enqueued as the view does
(webhook_receive, then process_webhook_event on commit) on that queue, and its delay
measured (up to --before-timeout seconds).

Checks at the end: every webhooked order paid, stock invariants (bench/common.py
stock_figures: on_hand equals its ledger, nothing oversold). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # sets sys.path for the project
import stack

STRIPE_ENV = {
    "PAYMENT_GATEWAYS": "dummy,stripe",
    "STRIPE_SECRET_KEY": "sk_test_benchqueues",
    "STRIPE_WEBHOOK_SECRET": "whsec_benchqueues",
}
BEFORE_WORKER = (
    # The Procfile's worker line before queues by urgency: one worker, Celery's one queue.
    "celery -A config worker --queues celery --loglevel ${LOG_LEVEL:-INFO} "
    "--concurrency ${CELERY_CONCURRENCY:-2} --without-gossip --without-mingle"
)
WORKER_READY_SECONDS = 60


class QueuesStack(stack.Stack):
    """The benchmark stack with the Stripe gateway enabled (made-up credentials)."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **STRIPE_ENV}


def procfile_commands(*names: str) -> dict[str, str]:
    lines = dict(line.split(":", 1) for line in (common.ROOT / "Procfile").read_text().splitlines() if ":" in line)
    return {name: lines[name].strip() for name in names}


def expand(command: str, env: dict[str, str]) -> list[str]:
    """A Procfile command as its runner would start it: ${VAR:-default} from `env`, `celery`
    from this virtualenv."""
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), command)
    words = command.split()
    if words[0] == "celery":
        words[0] = str(stack.VENV_BIN / "celery")
    return words


def worker_env(running: stack.Stack) -> dict[str, str]:
    return {**running.env, "LOG_LEVEL": "INFO"}


class Workers:
    """Celery workers started from command lines in the stack's environment (LOG_LEVEL=INFO,
    to see "ready."), logs in the stack's directory, stopped (warm: TERM to the group)."""

    def __init__(self, running: stack.Stack, commands: dict[str, str]):
        self.running = running
        self.commands = commands
        self.processes: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> Workers:
        env = worker_env(self.running)
        for name, command in self.commands.items():
            log = open(self.log_path(name), "wb")  # the child keeps it
            self.processes[name] = subprocess.Popen(
                expand(command, env),
                cwd=common.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
        deadline = time.monotonic() + WORKER_READY_SECONDS
        for name, process in self.processes.items():
            while "ready." not in self.log_path(name).read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"worker {name} did not start; see {self.log_path(name)}")
                time.sleep(0.2)
        return self

    def __exit__(self, *exc_info) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log_path(self, name: str) -> Path:
        return self.running.workdir / f"{name}.log"


# -- the scenario ---------------------------------------------------------------------------------


def pending_orders(count: int) -> list:
    """`count` orders pending payment, 1 unit each of the variants with the most stock, each
    with a Stripe payment started (its Checkout Session made up), as the payment page leaves
    it."""
    from datetime import timedelta
    from decimal import Decimal

    from inventory.models import StockItem
    from orders.services import LineSnapshot, ShippingDetails, order_create
    from payments.models import Payment

    items = list(
        StockItem.objects.filter(on_hand__gte=count, backorder_policy="deny")
        .select_related("variant__product")
        .order_by("-on_hand")[:1]
    ) or list(StockItem.objects.select_related("variant__product").order_by("-on_hand")[:count])
    shipping = ShippingDetails(
        email="ada@example.com",
        name="Ada Lovelace",
        line1="12 Analytical Row",
        line2="",
        city="London",
        postal_code="N1 9GU",
        country="GB",
    )
    orders = []
    for n in range(count):
        variant = items[n % len(items)].variant
        order, _created = order_create(
            checkout_token=f"bench-queues-{uuid.uuid4().hex}",
            lines=[
                LineSnapshot(
                    variant_id=variant.pk,
                    product_title=variant.product.title,
                    variant_title=variant.title,
                    sku=variant.sku,
                    unit_price=variant.price,
                    quantity=1,
                )
            ],
            shipping=shipping,
            shipping_method_name="Standard",
            shipping_price=Decimal("5.00"),
            currency="USD",
            reservation_ttl=timedelta(hours=1),
        )
        payment = Payment(order=order, gateway="stripe", amount=order.total, currency=order.currency)
        payment.provider_order_id = f"cs_test_bench{uuid.uuid4().hex}"
        payment.save()
        orders.append((order, payment))
    return orders


def paid_event(payment) -> dict:
    """Stripe's checkout.session.completed for `payment`'s session, paid by card."""
    from kernel.money import to_minor

    return {
        "id": f"evt_bench{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "type": "checkout.session.completed",
        "livemode": False,
        "pending_webhooks": 1,
        "data": {
            "object": {
                "id": payment.provider_order_id,
                "object": "checkout.session",
                "client_reference_id": payment.reference,
                "metadata": {"payment_reference": payment.reference},
                "payment_intent": f"pi_bench{uuid.uuid4().hex}",
                "payment_status": "paid",
                "status": "complete",
                "amount_total": to_minor(payment.amount, payment.currency),
                "currency": payment.currency.lower(),
            }
        },
    }


def post_webhook(base_url: str, evt: dict) -> None:
    """POSTs `evt` signed as Stripe signs it (https://docs.stripe.com/webhooks#verify-manually)."""
    import requests
    import stripe

    body = json.dumps(evt)
    signature = stripe.WebhookSignature.generate_signature_header(body, STRIPE_ENV["STRIPE_WEBHOOK_SECRET"])
    response = requests.post(
        f"{base_url}/payments/webhooks/stripe/",
        data=body,
        headers={**stack.HTTPS_HEADERS, "Content-Type": "application/json", "Stripe-Signature": signature},
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:300]}")


def store_and_enqueue_on_one_queue(evt: dict) -> None:
    """The webhook view's work (webhook_receive, then process_webhook_event on commit), with
    the task sent to the one queue of the layout before: Celery's default queue."""
    from django.db import transaction

    from payments.gateways.base import InboxEvent
    from payments.services import webhook_receive
    from payments.tasks import process_webhook_event

    with transaction.atomic():
        stored, _created = webhook_receive(
            provider="stripe", event=InboxEvent(event_id=evt["id"], event_type=evt["type"], payload=evt)
        )
        transaction.on_commit(lambda: process_webhook_event.apply_async((stored.pk,), queue="celery"))


def wait_processed(event_id: str, timeout: float):
    """(processed_at − received_at in seconds, status), or (None, status) after `timeout`."""
    from payments.models import WebhookEvent

    deadline = time.monotonic() + timeout
    while True:
        row = WebhookEvent.objects.filter(provider="stripe", event_id=event_id).values(
            "received_at", "processed_at", "status"
        )
        row = row.first()
        if row and row["processed_at"]:
            return (row["processed_at"] - row["received_at"]).total_seconds(), row["status"]
        if time.monotonic() > deadline:
            return None, row["status"] if row else "not stored"
        time.sleep(0.01)


def enqueue_emails(order, count: int, tag: str) -> float:
    """`count` send_order_email tasks on their queue (routed as the shop routes them); seconds taken."""
    from config.celery_app import app
    from orders.tasks import send_order_email

    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for i in range(count):
            send_order_email.apply_async(("payment_failed", order.pk, f"bench-{tag}-{i}"), producer=producer)
    return time.perf_counter() - started


def drain(running: stack.Stack) -> None:
    """Empties both queues (what the stopped workers left)."""
    import redis

    redis.Redis.from_url(running.broker_url).delete("celery", "urgent")


def emails_sent(running: stack.Stack) -> int:
    return sum(1 for _ in running.mail_dir.glob("*.eml"))


def run_after(running, args, email_order, orders) -> tuple[bool, list[float]]:
    commands = procfile_commands("worker", "worker_urgent")
    print("\nAfter: the Procfile's workers")
    for name, command in commands.items():
        print(f"  {name}: celery {' '.join(expand(command, worker_env(running))[1:])}")
    delays: list[float] = []
    ok = True
    with Workers(running, commands):
        took = enqueue_emails(email_order, args.emails, "after")
        print(
            f"  {args.emails} email tasks enqueued in {took:.1f} s; "
            f"queued now: celery {running.broker_queue_length('celery')}, "
            f"urgent {running.broker_queue_length('urgent')}"
        )
        time.sleep(1)  # the email worker is busy
        sent_before, started = emails_sent(running), time.monotonic()
        for n, (_order, payment) in enumerate(orders, 1):
            evt = paid_event(payment)
            backlog = running.broker_queue_length("celery")
            post_webhook(running.urls[0], evt)
            delay, status = wait_processed(evt["id"], args.before_timeout)
            after = running.broker_queue_length("celery")
            shown = f"{delay * 1000:7.1f} ms" if delay is not None else f"> {args.before_timeout:.0f} s"
            print(f"  webhook {n:2d}: processed in {shown} ({status}); emails queued {backlog} → {after}")
            ok &= delay is not None and delay < args.limit and after > 0
            if delay is not None:
                delays.append(delay)
            time.sleep(args.gap)
        sent, spent = emails_sent(running) - sent_before, time.monotonic() - started
        print(
            f"  emails sent while the webhooks were measured: {sent} in {spent:.1f} s; "
            f"still queued: {running.broker_queue_length('celery')}"
        )
    drain(running)
    return ok, delays


def run_before(running, args, email_order, order_payment) -> tuple[float | None, float | None]:
    """(the webhook's delay, or None past --before-timeout; the delay expected then: the
    emails queued ahead of it ÷ the rate the worker sent them)."""
    print("\nBefore: one worker, one queue (every task on Celery's default queue)")
    print(f"  worker: celery {' '.join(expand(BEFORE_WORKER, worker_env(running))[1:])}")
    expected = None
    with Workers(running, {"worker": BEFORE_WORKER}):
        took = enqueue_emails(email_order, args.emails, "before")
        print(f"  {args.emails} email tasks enqueued in {took:.1f} s")
        time.sleep(1)
        _order, payment = order_payment
        evt = paid_event(payment)
        backlog = running.broker_queue_length("celery")
        sent_before, started = emails_sent(running), time.monotonic()
        store_and_enqueue_on_one_queue(evt)
        delay, status = wait_processed(evt["id"], args.before_timeout)
        after = running.broker_queue_length("celery")
        spent = time.monotonic() - started
        rate = (backlog - after) / spent if backlog > after else 0.0
        shown = f"{delay:.1f} s" if delay is not None else f"> {args.before_timeout:.0f} s (still {status})"
        print(f"  webhook: processed in {shown}; emails queued {backlog} → {after}")
        print(f"  emails sent while waiting: {emails_sent(running) - sent_before} in {spent:.1f} s ({rate:.0f}/s)")
        if delay is None and rate:
            # One FIFO queue: the webhook waits for every email queued ahead of it.
            expected = backlog / rate
            print(f"  at that rate the webhook would wait ≈ {expected:.0f} s ({backlog} emails ahead of it)")
    drain(running)
    return delay, expected


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000, help="email tasks queued first (default 10000)")
    parser.add_argument("--webhooks", type=int, default=10, help="payment webhooks measured (default 10)")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between webhooks (default 0.3)")
    parser.add_argument("--limit", type=float, default=1.0, help="target, seconds (default 1)")
    parser.add_argument("--before", action="store_true", help="also run the layout before, for contrast")
    parser.add_argument("--before-timeout", type=float, default=60, help="longest wait for a webhook (default 60 s)")
    parser.add_argument("--database", default="bench_queues", help="database to (re)create")
    parser.add_argument("--redis-db", type=int, default=5, help="Redis database, cache and broker (default 5)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (default 2)")
    args = parser.parse_args(argv)

    print(f"load average at start: {stack.load_average()}   {stack.machine_summary()}")
    with QueuesStack(
        database=args.database,
        products=0,
        web=1,
        web_workers=args.web_workers,
        redis_db=args.redis_db,
        broker_db=args.redis_db,
    ) as running:
        # This process enqueues the emails (through the broker) and reads the webhooks' rows.
        os.environ.update(CELERY_BROKER_URL=running.broker_url, **STRIPE_ENV)
        running.django()
        before_stock = common.stock_figures()
        [(email_order, _payment), *orders] = pending_orders(1 + args.webhooks + (1 if args.before else 0))
        before_order = orders.pop() if args.before else None

        ok, delays = run_after(running, args, email_order, orders)
        before_delay, before_expected = (
            run_before(running, args, email_order, before_order) if before_order else (None, None)
        )

        from orders.models import Order

        unpaid = Order.objects.filter(pk__in=[o.pk for o, _p in orders]).exclude(status=Order.Status.PAID).count()
        figures = common.stock_figures()
        problems = []
        if unpaid:
            problems.append(f"{unpaid} webhooked order(s) not paid")
        if figures["mismatched"] or figures["min_available"] < 0 or figures["on_hand"] != figures["ledger"]:
            problems.append(f"stock invariants broken: {figures}")
        sold = figures["sales"] - before_stock["sales"]

    print()
    if delays:
        print(
            f"payment webhook behind {args.emails} queued emails, Procfile layout: "
            f"median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
            f"over {len(delays)} of {args.webhooks} (target < {args.limit * 1000:.0f} ms)"
        )
    if args.before:
        shown = f"{before_delay:.1f} s" if before_delay is not None else f"> {args.before_timeout:.0f} s"
        if before_expected:
            shown += f" (≈ {before_expected:.0f} s expected: the emails ahead of it ÷ the rate they were sent)"
        ratio = ""
        if (before_delay or before_expected) and delays:
            ratio = f", {(before_delay or before_expected) / statistics.median(delays):.0f}× the median after"
        print(f"before (one worker, one queue): {shown}{ratio}")
    print(f"checks: units sold by the webhooks {sold}, " + ("; ".join(problems) if problems else "all passed"))
    print(f"load average at end: {stack.load_average()}")
    passed = ok and not problems
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
