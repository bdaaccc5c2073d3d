"""The sweep under real concurrency: sweepers in real threads, each with its own PostgreSQL
connection, released together by a barrier, against committed data."""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from inventory.models import Reservation
from inventory.services import StockLine, reservations_expire, stock_reserve
from orders.models import Order, OrderEvent, SweepRun
from orders.services import order_lock, order_mark_paid, orders_expire_overdue, sweep_run
from tests.factories import stocked_variant
from tests.inventory.helpers import assert_stock_consistent, run_together
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db(transaction=True)

CART_HOLDS = 150
ORDERS = 50  # each holds one reservation: 150 + 50 = 200 lapsed reservations
LAPSED_RESERVATIONS = CART_HOLDS + ORDERS


@pytest.fixture
def lapsed_shop():
    """200 lapsed reservations (150 cart holds, 50 of pending orders) and 50 lapsed orders,
    plus a live cart hold and a live order the sweep must leave alone."""
    variant = stocked_variant(on_hand=LAPSED_RESERVATIONS + 10)
    # Inserted directly, already lapsed: a lapsed hold counts for nothing, so no stock check
    # is skipped, and 150 reservations through the service would only make the test slow.
    Reservation.objects.bulk_create(
        Reservation(variant=variant, quantity=1, owner=f"cart:{i}", expires_at=timezone.now() - timedelta(seconds=1))
        for i in range(CART_HOLDS)
    )
    orders = [place_order((variant, 1)) for _ in range(ORDERS)]
    for order in orders:
        lapse(order)
    live_order = place_order((variant, 1))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:live", ttl=timedelta(minutes=30))
    return orders, live_order


def assert_each_order_expired_once_with_one_event(orders, *, except_pks=()):
    pks = [o.pk for o in orders if o.pk not in except_pks]
    assert set(Order.objects.filter(pk__in=pks).values_list("status", flat=True)) == {Order.Status.EXPIRED}
    events = Counter(OrderEvent.objects.filter(type=OrderEvent.Type.EXPIRED).values_list("order_id", flat=True))
    assert events == Counter(pks), "every lapsed order needs exactly one EXPIRED event"


def lock_waiters() -> int:
    """How many other sessions of this test database wait for a row lock right now."""
    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL keeps showing the first look at pg_stat_activity.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_for_lock_waiters(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while lock_waiters() < count:
        assert time.monotonic() < deadline, f"expected {count} sessions waiting for a lock"
        time.sleep(0.02)


def in_background(count, work):
    """run_together(count, work) in a thread of its own, so this thread can hold locks
    meanwhile. Returns (thread, outcomes list filled when it ends)."""
    outcomes: list = []
    thread = threading.Thread(target=lambda: outcomes.extend(run_together(count, work)), daemon=True)
    thread.start()
    return thread, outcomes


def test_two_sweepers_at_once_expire_every_lapsed_reservation_and_order_exactly_once(lapsed_shop):
    orders, live_order = lapsed_shop

    outcomes = run_together(2, lambda i: sweep_run(trigger=SweepRun.Trigger.BEAT))

    assert [o.error for o in outcomes] == [None, None]
    runs = [o.value for o in outcomes]
    assert sum(run.reservations_expired for run in runs) == LAPSED_RESERVATIONS
    assert sum(run.orders_expired for run in runs) == ORDERS
    assert Reservation.objects.filter(status=Reservation.Status.EXPIRED).count() == LAPSED_RESERVATIONS
    assert Reservation.objects.filter(status=Reservation.Status.ACTIVE).count() == 2  # the live ones
    assert_each_order_expired_once_with_one_event(orders)
    assert Order.objects.get(pk=live_order.pk).status == Order.Status.PENDING_PAYMENT
    assert SweepRun.objects.filter(error="", finished_at__isnull=False).count() == 2
    assert_stock_consistent()


def test_sweepers_queued_on_the_same_locked_orders_split_them_without_expiring_any_twice(lapsed_shop):
    # Deterministic overlap: another transaction holds every lapsed order row, so both
    # sweepers' UPDATEs are certainly waiting on the same rows when it lets go. Each must then
    # re-check status on the fresh row and skip what the other one expired.
    orders, _ = lapsed_shop
    with transaction.atomic():
        list(Order.objects.filter(pk__in=[o.pk for o in orders]).select_for_update())
        thread, outcomes = in_background(2, lambda i: orders_expire_overdue())
        wait_for_lock_waiters(2)
    thread.join(30)

    assert [o.error for o in outcomes] == [None, None]
    assert sum(o.value for o in outcomes) == ORDERS
    assert_each_order_expired_once_with_one_event(orders)


def test_four_sweepers_at_once_add_up_to_the_total(lapsed_shop):
    orders, _ = lapsed_shop

    outcomes = run_together(4, lambda i: sweep_run(trigger=SweepRun.Trigger.BEAT))

    assert [o.error for o in outcomes] == [None] * 4
    assert sum(o.value.reservations_expired for o in outcomes) == LAPSED_RESERVATIONS
    assert sum(o.value.orders_expired for o in outcomes) == ORDERS
    assert_each_order_expired_once_with_one_event(orders)


def test_a_sweep_never_expires_an_order_that_a_payment_is_marking_paid(lapsed_shop):
    # The payment locks its order row first (order_lock, as payments.services does) and marks
    # it paid; sweepers arriving meanwhile wait for that row and then see it paid.
    orders, _ = lapsed_shop
    paying = orders[0]
    with transaction.atomic():
        order_lock(order=paying)
        order_mark_paid(order=paying, reference="pay_1", reservation_ttl=timedelta(minutes=15))
        thread, outcomes = in_background(2, lambda i: orders_expire_overdue())
        wait_for_lock_waiters(1)
    thread.join(30)

    assert [o.error for o in outcomes] == [None, None]
    assert sum(o.value for o in outcomes) == ORDERS - 1
    assert Order.objects.get(pk=paying.pk).status == Order.Status.PAID
    assert not paying.events.filter(type=OrderEvent.Type.EXPIRED).exists()
    assert_each_order_expired_once_with_one_event(orders, except_pks={paying.pk})
    assert_stock_consistent()


def hold_rows_in_background(rows_of):
    """Locks the rows of rows_of() (a queryset) FOR UPDATE in a transaction of another
    thread's connection, as a payment or a release holds them, until the returned
    release() is called; returns (release, thread)."""
    locked, done = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                list(rows_of().select_for_update())
                locked.set()
                done.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert locked.wait(10), "the holder did not get its locks"

    def release():
        done.set()
        thread.join(10)

    return release


def test_a_sweep_skips_a_lapsed_reservation_another_transaction_holds_and_the_next_sweep_expires_it(lapsed_shop):
    # A payment committing (stock_commit) or a cart releasing holds the reservation row: the
    # sweep neither waits for it nor touches it, and expires the rest at once.
    held = Reservation.objects.filter(owner="cart:0")
    release = hold_rows_in_background(lambda: Reservation.objects.filter(owner="cart:0"))
    try:
        assert lock_waiters() == 0
        assert reservations_expire() == LAPSED_RESERVATIONS - 1
        assert held.get().status == Reservation.Status.ACTIVE
    finally:
        release()

    assert reservations_expire() == 1
    assert held.get().status == Reservation.Status.EXPIRED
    assert Reservation.objects.filter(status=Reservation.Status.EXPIRED).count() == LAPSED_RESERVATIONS


def test_sweepers_taking_small_batches_at_once_expire_each_reservation_exactly_once(lapsed_shop, monkeypatch):
    # Many batches each: the sweepers' SKIP LOCKED batches interleave and must never overlap.
    monkeypatch.setattr("inventory.services.SWEEP_BATCH_SIZE", 7)
    orders, _ = lapsed_shop

    outcomes = run_together(4, lambda i: sweep_run(trigger=SweepRun.Trigger.BEAT))

    assert [o.error for o in outcomes] == [None] * 4
    assert sum(o.value.reservations_expired for o in outcomes) == LAPSED_RESERVATIONS
    assert Reservation.objects.filter(status=Reservation.Status.EXPIRED).count() == LAPSED_RESERVATIONS
    assert Reservation.objects.filter(status=Reservation.Status.ACTIVE).count() == 2
    assert_each_order_expired_once_with_one_event(orders)
    assert_stock_consistent()


def test_a_sweep_outside_a_transaction_records_both_halves(lapsed_shop):
    # Called with no transaction open, the order half runs on a connection of its own.
    orders, live_order = lapsed_shop

    run = sweep_run(trigger=SweepRun.Trigger.COMMAND)

    run.refresh_from_db()
    assert (run.reservations_expired, run.orders_expired, run.error) == (LAPSED_RESERVATIONS, ORDERS, "")
    assert_each_order_expired_once_with_one_event(orders)
    assert Order.objects.get(pk=live_order.pk).status == Order.Status.PENDING_PAYMENT


def test_an_order_half_that_times_out_on_its_own_connection_is_on_record_with_the_reservations_count(
    lapsed_shop, monkeypatch
):
    # A transaction stuck on a lapsed order row: the order half gives up after its lock
    # timeout; the reservations were expired meanwhile, and the run says both.
    monkeypatch.setattr("orders.services.SWEEP_LOCK_TIMEOUT_MS", 200)
    orders, _ = lapsed_shop
    release = hold_rows_in_background(lambda: Order.objects.filter(pk=orders[0].pk))
    try:
        with pytest.raises(OperationalError):
            sweep_run(trigger=SweepRun.Trigger.BEAT)
    finally:
        release()

    run = SweepRun.objects.get()
    assert run.reservations_expired == LAPSED_RESERVATIONS
    assert run.orders_expired == 0
    assert "lock timeout" in run.error
    assert run.finished_at is not None
    assert not OrderEvent.objects.filter(type=OrderEvent.Type.EXPIRED).exists()
    assert sweep_run(trigger=SweepRun.Trigger.BEAT).orders_expired == ORDERS
