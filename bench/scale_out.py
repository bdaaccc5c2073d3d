#!/usr/bin/env python
"""
Scale-out run: two gunicorn instances and two Celery workers on one PostgreSQL and one Redis
(bench/stack.py, production settings, each instance on its own port, no proxy in front),
driven at the same time by N virtual shoppers (default 200) split between the two ports. Half
of them buy the hot SKU (--hot-stock units, default 50), the other half a random one of 1,000
SKUs, each half split evenly between the two instances; every journey is flash_sale.py's
(cart, checkout, place order, dummy payment).

After the shoppers, it waits (up to --drain-timeout seconds) for the Celery queue to drain and
every paid order's follow-ups (orders.tasks.order_paid_followups: invoice, then confirmation
email) to be done, then checks:
  - no oversell, and units sold == fall of on_hand == SALE ledger rows == units of paid
    orders, check_stock passes (as flash_sale.py);
  - every paid order has exactly one Invoice, exactly one sent EmailLog "order_confirmation",
    and exactly one confirmation message recorded by the mail backend (stack.py's
    RecordingEmailBackend, which sees what Django actually handed over for sending: a
    duplicate send would show there even though EmailLog is unique per order);
  - no order that is not paid has an invoice or a confirmation.
Exits 1 if any check fails.

    .venv/bin/python bench/scale_out.py                  # about 3 minutes here
    .venv/bin/python bench/scale_out.py --shoppers 40 --hot-stock 10

Drops and recreates the database `bench_scale` (--database). The rate limits are raised for
the run (stack.py says which).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import flash_sale
import stack

SCENARIO = "scale"
CONFIRMATION_SUBJECT = "Order {number} confirmed: thank you"  # orders/emails.py


def followups_pending(running: stack.Stack) -> int:
    """Paid orders still missing their invoice or their sent confirmation, plus messages
    waiting in the broker queue."""
    from orders.models import EmailLog, Order

    paid = Order.objects.filter(email__startswith=f"{SCENARIO}-", status="paid")
    sent = EmailLog.objects.filter(kind="order_confirmation", sent_at__isnull=False).values("key")
    missing = paid.filter(invoice__isnull=True).count() + paid.exclude(number__in=sent).count()
    return missing + running.broker_queue_length()


def drain(running: stack.Stack, timeout: float) -> float:
    """Waits until followups_pending is 0; answers the seconds waited. Raises TimeoutError."""
    began = time.monotonic()
    while (pending := followups_pending(running)) > 0:
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{pending} follow-ups still pending after {timeout:.0f} s")
        if stopped := running.exited():
            raise RuntimeError(f"stack processes exited: {stopped}")
        time.sleep(1)
    return time.monotonic() - began


def followup_problems(mail_dir: Path) -> list[str]:
    """Invoices and confirmations per order against what each order's status calls for."""
    from orders.models import EmailLog, Invoice, Order

    orders = list(Order.objects.filter(email__startswith=f"{SCENARIO}-").values_list("number", "email", "status"))
    invoiced = Invoice.objects.filter(order__email__startswith=f"{SCENARIO}-")
    invoices = Counter(invoiced.values_list("order__number", flat=True))
    logged = Counter(
        EmailLog.objects.filter(kind="order_confirmation", sent_at__isnull=False).values_list("key", flat=True)
    )
    recorded = Counter(stack.recorded_emails(mail_dir))
    problems = []
    for number, email, status in orders:
        want = 1 if status == "paid" else 0
        have = (invoices[number], logged[number], recorded[(email, CONFIRMATION_SUBJECT.format(number=number))])
        if have != (want, want, want):
            problems.append(
                f"order {number} ({status}): invoices {have[0]}, confirmations logged {have[1]}, "
                f"mailed {have[2]}; expected {want} of each"
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=200, help="virtual shoppers in all (default 200)")
    parser.add_argument("--hot-stock", type=int, default=50, help="units of the hot SKU (default 50)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers per instance (default WEB_CONCURRENCY or 2 × cores + 1)",
    )
    parser.add_argument("--retries", type=int, default=2, help="place-order retries after stock_busy (default 2)")
    parser.add_argument(
        "--drain-timeout", type=float, default=240, help="seconds to wait for the follow-ups (default 240)"
    )
    parser.add_argument("--database", default="bench_scale", help="database to (re)create (default bench_scale)")
    args = parser.parse_args()

    print(f"machine: {stack.machine_summary()}; load average {stack.load_average()} at start")
    rng = random.Random(8)
    with stack.Stack(
        database=args.database, products=flash_sale.SPREAD_SKUS // 3 + 2, web=2, web_workers=args.workers, celery=2
    ) as running:
        running.django()
        hot = flash_sale.set_on_hand(flash_sale.HOT_SKU, args.hot_stock)
        spread = flash_sale.spread_variant_ids(flash_sale.SPREAD_SKUS)
        # Shopper i goes to instance i % 2: pairs alternate between the hot SKU and the
        # spread, so that both instances sell the hot SKU at the same time.
        variant_ids = [hot if (i // 2) % 2 == 0 else rng.choice(spread) for i in range(args.shoppers)]
        print(
            f"\n{args.shoppers} shoppers over {' and '.join(running.urls)} at once, half of them "
            f"on {flash_sale.HOT_SKU} ({args.hot_stock} in stock), "
            f"half on a random one of {flash_sale.SPREAD_SKUS} SKUs"
        )
        before = common.stock_figures()
        journeys, seconds = flash_sale.run_shoppers(running.urls, variant_ids, SCENARIO, retries=args.retries)
        orders = flash_sale.scenario_orders(SCENARIO)
        problems = flash_sale.stock_problems(before, common.stock_figures(), orders)
        flash_sale.report(SCENARIO, journeys, seconds, orders, problems)
        for n, url in enumerate(running.urls):
            mine = journeys[n :: len(running.urls)]
            print(f"  {url}: {sum(j.outcome == 'paid' for j in mine)} paid of {len(mine)} shoppers")
        try:
            waited = drain(running, args.drain_timeout)
            print(
                f"follow-ups done {waited:.0f} s after the last shopper "
                f"(2 Celery workers × {running.celery_concurrency})"
            )
        except (TimeoutError, RuntimeError) as exc:
            problems.append(str(exc))
        problems += followup_problems(running.mail_dir)
        paid = orders.get("paid", 0)
        print(f"paid orders {paid}: invoices, confirmations logged and confirmations mailed checked one per order")
    print(f"load average at the end: {stack.load_average()}")
    for problem in problems[:20]:
        print(f"FAILED: {problem}")
    if len(problems) > 20:
        print(f"... and {len(problems) - 20} more")
    print("\nresult: " + ("all invariants hold" if not problems else "INVARIANT FAILED"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
