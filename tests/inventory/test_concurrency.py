"""
Stock under real concurrency: real threads, each with its own PostgreSQL connection, released
together by a barrier. These tests commit for real (transaction=True), as production does.
"""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from psycopg.pq import TransactionStatus

from cart.models import Cart, CartLine
from cart.selectors import cart_view
from checkout.services import CheckoutError, checkout_fingerprint, checkout_place_order
from inventory.exceptions import InsufficientStock, ReservationExpired, StockBusy
from inventory.models import Reservation, StockItem, StockMovement
from inventory.selectors import availability, reserved_quantities
from inventory.services import StockLine, stock_commit, stock_reserve
from orders.models import Order
from payments.services import payment_capture, payment_start
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand, run_together
from tests.orders.helpers import shipping_details

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = 30
STOCK = 5


def _cart_holding(variant, quantity: int = 1) -> Cart:
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


def test_a_flash_sale_of_5_units_to_30_simultaneous_buyers_sells_exactly_5():
    variant = stocked_variant(on_hand=STOCK)
    method = ShippingMethodFactory()
    carts = [_cart_holding(variant) for _ in range(BUYERS)]
    # Every shopper reviewed the same cart (1 × variant at today's price) before clicking.
    fingerprints = [checkout_fingerprint(cart_view(cart), method, country="GB") for cart in carts]

    def buy(i):
        return checkout_place_order(
            cart=carts[i],
            checkout_token=f"flash-{i}",
            shipping=shipping_details(email=f"buyer{i}@example.com"),
            shipping_method=method,
            reviewed_fingerprint=fingerprints[i],
        )

    outcomes = run_together(BUYERS, buy)

    winners = [o.value for o in outcomes if o.error is None]
    kinds = Counter(type(o.error).__name__ for o in outcomes if o.error is not None)
    # A late buyer may already be turned away by the cart check ("Sold out." on the cart
    # line) before reaching the lock; that is a refusal too, but nothing else may happen.
    for o in outcomes:
        if isinstance(o.error, CheckoutError):
            assert "not available as they are" in o.error.message
    unexpected = [
        o.error
        for o in outcomes
        if o.error is not None and not isinstance(o.error, (InsufficientStock, StockBusy, CheckoutError))
    ]
    assert unexpected == []
    assert len(winners) == STOCK, kinds
    assert kinds["InsufficientStock"] + kinds["CheckoutError"] + kinds["StockBusy"] == BUYERS - STOCK
    assert Order.objects.count() == STOCK
    assert Order.objects.filter(status=Order.Status.PENDING_PAYMENT).count() == STOCK
    assert availability([variant.pk]) == {variant.pk: 0}

    for order in winners:
        payment, _action = payment_start(order=order, gateway="dummy")
        payment_capture(payment=payment)

    assert Order.objects.filter(status=Order.Status.PAID).count() == STOCK
    assert on_hand(variant) == 0
    assert StockMovement.objects.filter(variant=variant, reason=StockMovement.Reason.SALE).count() == STOCK
    assert not StockItem.objects.filter(on_hand__lt=0).exists()
    assert_stock_consistent()


def test_buyers_of_the_same_two_variants_in_opposite_order_never_deadlock():
    a, b = stocked_variant(on_hand=100), stocked_variant(on_hand=100)
    threads, rounds = 4, 20

    def buy_repeatedly(i):
        # Half the threads name the lines [A, B], the other half [B, A].
        order = [a, b] if i % 2 == 0 else [b, a]
        for r in range(rounds):
            owner = f"t{i}:{r}"
            stock_reserve(lines=[StockLine(v.pk, 1) for v in order], owner=owner, ttl=timedelta(minutes=5))
            if r % 2:  # every other hold is paid at once, which locks the same rows again
                stock_commit(owner=owner, reference=owner)

    outcomes = run_together(threads, buy_repeatedly)

    assert [o.error for o in outcomes] == [None] * threads
    holds = threads * rounds
    sold = threads * rounds // 2
    assert Reservation.objects.count() == 2 * holds
    assert reserved_quantities([a.pk, b.pk]) == {a.pk: holds - sold, b.pk: holds - sold}
    assert on_hand(a) == on_hand(b) == 100 - sold
    assert availability([a.pk, b.pk]) == {a.pk: 100 - holds, b.pk: 100 - holds}
    assert_stock_consistent()


def _wait_until_a_backend_waits_for_a_lock(timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("nobody started waiting for the stock lock")


class _RowLockHolder(threading.Thread):
    """Holds the variant's StockItem row lock (an open transaction) until told to finish;
    `then` runs inside that same transaction just before it commits."""

    def __init__(self, variant, then=None):
        super().__init__(daemon=True)
        self.variant, self.then = variant, then
        self.locked, self.finish = threading.Event(), threading.Event()
        self.error = None

    def run(self):
        try:
            with transaction.atomic():
                StockItem.objects.select_for_update().get(variant=self.variant)
                self.locked.set()
                assert self.finish.wait(10)
                if self.then:
                    self.then()
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
        finally:
            self.locked.set()
            connection.close()


def test_a_reserve_behind_a_held_stock_lock_gives_up_with_stock_busy(settings):
    settings.STOCK_LOCK_TIMEOUT_MS = 200
    variant = stocked_variant(on_hand=3)
    holder = _RowLockHolder(variant)
    holder.start()
    assert holder.locked.wait(5)

    started = time.monotonic()
    try:
        with pytest.raises(StockBusy):
            stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:BUSY", ttl=timedelta(minutes=1))
        waited = time.monotonic() - started
    finally:
        holder.finish.set()
        holder.join(10)

    assert holder.error is None
    assert waited < 5
    assert not Reservation.objects.exists()
    assert availability([variant.pk]) == {variant.pk: 3}
    # Once the lock is free the same call goes through.
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:BUSY", ttl=timedelta(minutes=1))
    assert availability([variant.pk]) == {variant.pk: 2}


def test_a_commit_behind_a_held_stock_lock_gives_up_with_stock_busy_and_leaves_no_transaction_open(settings):
    # Outside a transaction the commit opens its own (BEGIN in the lock's message): a lock
    # wait that runs out must roll it back, not leave it open on the connection.
    settings.STOCK_LOCK_TIMEOUT_MS = 200
    variant = stocked_variant(on_hand=3)
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))
    holder = _RowLockHolder(variant)
    holder.start()
    assert holder.locked.wait(5)

    try:
        with pytest.raises(StockBusy):
            stock_commit(owner="order:A", reference="A")
        assert not connection.in_atomic_block
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    finally:
        holder.finish.set()
        holder.join(10)

    assert holder.error is None
    assert Reservation.objects.get(owner="order:A").status == Reservation.Status.ACTIVE
    assert on_hand(variant) == 3
    # Once the lock is free the same call goes through.
    assert stock_commit(owner="order:A", reference="A") == 1
    assert on_hand(variant) == 2
    assert_stock_consistent()


def test_a_hold_that_lapses_while_its_commit_waits_for_the_lock_is_not_sold(settings):
    # The commit started while A's hold was live, then queued behind another transaction.
    # Meanwhile A's hold lapsed and that transaction gave the last unit to B. The commit must
    # judge "live" by the time it got the lock, or it would sell B's unit a second time.
    settings.STOCK_LOCK_TIMEOUT_MS = 5000
    variant = stocked_variant(on_hand=1)
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))

    def give_the_unit_to_b():
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:B", ttl=timedelta(minutes=15))

    holder = _RowLockHolder(variant, then=give_the_unit_to_b)
    holder.start()
    assert holder.locked.wait(5)
    result = {}

    def commit_a():
        try:
            result["units"] = stock_commit(owner="order:A", reference="A")
        except BaseException as exc:  # noqa: BLE001
            result["error"] = exc
        finally:
            connection.close()

    committer = threading.Thread(target=commit_a, daemon=True)
    committer.start()
    try:
        _wait_until_a_backend_waits_for_a_lock()
        # A's hold runs out now, while its commit is still queued.
        Reservation.objects.filter(owner="order:A").update(expires_at=timezone.now())
    finally:
        holder.finish.set()
        holder.join(10)
        committer.join(10)

    assert holder.error is None
    assert isinstance(result.get("error"), ReservationExpired), result
    assert on_hand(variant) == 1
    assert stock_commit(owner="order:B", reference="B") == 1
    assert on_hand(variant) == 0
    assert_stock_consistent()
