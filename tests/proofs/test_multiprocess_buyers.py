"""
Never oversell, across OS processes: 50 buyers in 3 spawned processes (as under gunicorn with
several workers), each process with its own Django and its own PostgreSQL connections, all
released together by one multiprocessing barrier, race for a SKU with 10 units through the
real services: orders.services.order_create, then payment_start and payment_capture.
"""

import multiprocessing
import queue
from collections import Counter

import pytest
from django.db import connection

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order
from payments.models import Payment
from tests.factories import stocked_variant
from tests.inventory.helpers import on_hand
from tests.proofs.helpers import assert_check_stock_passes
from tests.proofs.processes import buyers_process, database_url

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = 50
PROCESSES = 3
STOCK = 10


def test_50_buyers_in_3_processes_racing_for_10_units_buy_exactly_10_and_the_rest_are_refused():
    variant = stocked_variant(on_hand=STOCK)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(BUYERS)
    results = ctx.Queue()
    db_url = database_url(connection.settings_dict)
    buyer_ids = [list(range(BUYERS))[p::PROCESSES] for p in range(PROCESSES)]
    processes = [
        ctx.Process(target=buyers_process, args=(db_url, variant.pk, ids, barrier, results), daemon=True)
        for ids in buyer_ids
    ]
    for process in processes:
        process.start()
    try:
        # Drain before joining: a child cannot exit while its queue buffer is unread.
        reports = [results.get(timeout=45) for _ in range(BUYERS)]
    except queue.Empty:
        pytest.fail("the buyer processes did not report in time")
    finally:
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()

    assert [p.exitcode for p in processes] == [0] * PROCESSES
    outcomes = Counter(outcome for _, outcome, _ in reports)
    unexpected = [r for r in reports if r[1] not in ("paid", "InsufficientStock")]
    assert unexpected == [], unexpected
    assert sorted(buyer for buyer, _, _ in reports) == list(range(BUYERS))
    assert outcomes == {"paid": STOCK, "InsufficientStock": BUYERS - STOCK}
    # The buyers really were spread over the processes and still only 10 got through.
    assert Order.objects.count() == STOCK
    assert Order.objects.filter(status=Order.Status.PAID).count() == STOCK
    assert Payment.objects.filter(status=Payment.Status.CAPTURED).count() == STOCK
    assert Reservation.objects.filter(status=Reservation.Status.COMMITTED).count() == STOCK
    assert Reservation.objects.exclude(status=Reservation.Status.COMMITTED).count() == 0
    sales = StockMovement.objects.filter(variant=variant, reason=StockMovement.Reason.SALE)
    assert sales.count() == STOCK
    assert on_hand(variant) == 0
    assert availability([variant.pk]) == {variant.pk: 0}
    assert_check_stock_passes()
