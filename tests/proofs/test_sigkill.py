"""
A worker killed outright (SIGKILL: no exception, no finally, no rollback from Python) in the
middle of placing an order leaves nothing behind: the reservation and the order were written
in one transaction that never committed, so PostgreSQL throws both away, and the stock row
lock dies with the connection. Nothing in our code has to clean up after it.
"""

import multiprocessing
import os
import queue
import signal
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction

from inventory.exceptions import StockBusy
from inventory.models import Reservation, StockItem, StockMovement
from inventory.selectors import availability, ledger_total
from inventory.services import StockLine, stock_reserve
from orders.models import Order, OrderEvent, OrderLine
from tests.factories import stocked_variant
from tests.inventory.helpers import on_hand
from tests.proofs.helpers import assert_check_stock_passes
from tests.proofs.processes import database_url, order_create_then_hang

pytestmark = pytest.mark.django_db(transaction=True)

STOCK = 3


def _stock_row_is_locked(variant) -> bool:
    """True while another transaction holds the variant's StockItem row lock."""
    try:
        with transaction.atomic():
            StockItem.objects.select_for_update(nowait=True).get(variant=variant)
        return False
    except OperationalError:
        return True


def _reserve_everything_when_the_lock_is_gone(variant, *, within: float) -> list[Reservation]:
    deadline = time.monotonic() + within
    while True:
        try:
            return stock_reserve(
                lines=[StockLine(variant.pk, STOCK)], owner="cart:after-the-kill", ttl=timedelta(minutes=5)
            )
        except StockBusy:
            # PostgreSQL has not yet noticed the dead client; its backend still holds the lock.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_worker_killed_with_sigkill_mid_reservation_leaves_no_order_no_reservation_and_no_lock():
    variant = stocked_variant(on_hand=STOCK)
    ledger_before = list(StockMovement.objects.values_list("pk", "quantity"))
    ctx = multiprocessing.get_context("spawn")
    at_stock_reserved = ctx.Event()
    messages = ctx.Queue()
    worker = ctx.Process(
        target=order_create_then_hang,
        args=(database_url(connection.settings_dict), variant.pk, STOCK, at_stock_reserved, messages),
        daemon=True,
    )
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not at_stock_reserved.wait(timeout=0.1) and worker.is_alive() and time.monotonic() < deadline:
            pass
        if not at_stock_reserved.is_set():
            try:
                detail = messages.get_nowait()
            except queue.Empty:
                detail = f"exit code {worker.exitcode}"
            pytest.fail(f"the worker never reserved the stock: {detail}")
        stage, in_transaction, pid = messages.get(timeout=5)
        assert (stage, in_transaction, pid) == ("in_transaction", True, worker.pid)
        # Frozen mid-transaction, after the reservation: its writes are invisible and it holds
        # the stock row.
        assert not Order.objects.exists()
        assert not Reservation.objects.exists()
        assert _stock_row_is_locked(variant)

        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
    finally:
        if worker.is_alive():
            worker.kill()
            worker.join(5)
    assert worker.exitcode == -signal.SIGKILL

    # The dead backend's lock goes once PostgreSQL sees the connection drop (allow ~10 s).
    started = time.monotonic()
    new_hold = _reserve_everything_when_the_lock_is_gone(variant, within=10)
    waited = time.monotonic() - started
    assert waited < 10

    # Nothing of the killed transaction survived.
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    assert not OrderEvent.objects.exists()
    assert list(Reservation.objects.values_list("pk", flat=True)) == [r.pk for r in new_hold]
    assert on_hand(variant) == STOCK
    assert ledger_total(variant.pk) == STOCK
    assert list(StockMovement.objects.values_list("pk", "quantity")) == ledger_before
    assert availability([variant.pk]) == {variant.pk: 0}  # all 3 held by the new reservation
    assert_check_stock_passes()
