"""The stock hot path's round trips (inventory.services: stock_reserve, stock_commit): on
PostgreSQL the locked work of a reserve is one message to the database and a commit two, and
neither leaves work for after the commit that needs the database. Called outside a
transaction, each opens and commits its own. The same behaviour through
the ORM path, which SQLite (and server-side binding) uses, run here on PostgreSQL by turning
server-side binding on in the connection's settings."""

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg.pq import Trace, TransactionStatus

from inventory.exceptions import InsufficientStock, ReservationExpired
from inventory.models import Reservation, StockItem, StockMovement
from inventory.selectors import availability
from inventory.services import StockLine, stock_adjust, stock_commit, stock_reserve, stock_threshold_set
from tests.factories import VariantFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one message", "orm"])
def path(request, monkeypatch):
    """Runs the test through each path: the PostgreSQL messages, then the ORM steps."""
    if request.param == "orm":
        monkeypatch.setitem(connection.settings_dict, "OPTIONS", {**connection.settings_dict["OPTIONS"]})
        monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)
    return request.param


def test_a_reserve_of_one_line_is_one_statement_and_its_commit_needs_no_query(django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=5)

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as callbacks:
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))

    # The lock, the recount and the insert in one message; the page cache's notice (run on
    # commit) is given the product's handle and asks the database nothing.
    assert len(queries) == 1
    assert len(callbacks) == 1


def test_a_reserve_of_three_lines_is_still_one_statement():
    variants = [stocked_variant(on_hand=5) for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        stock_reserve(lines=[StockLine(v.pk, 2) for v in variants], owner="order:A", ttl=timedelta(minutes=15))

    assert len(queries) == 1
    assert availability([v.pk for v in variants]) == {v.pk: 3 for v in variants}


def test_a_commit_is_two_statements():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))

    with CaptureQueriesContext(connection) as queries:
        assert stock_commit(owner="order:A", reference="A") == 2

    # The lock (with the reservations it is for), then the sale: holds, on_hand, ledger.
    assert len(queries) == 2
    assert on_hand(variant) == 3


def test_a_reserve_and_commit_give_the_same_rows_on_either_path(path):
    shirt, mug = stocked_variant(on_hand=5), stocked_variant(on_hand=3)

    made = stock_reserve(
        lines=[StockLine(mug.pk, 1), StockLine(shirt.pk, 2), StockLine(mug.pk, 2)],
        owner="order:A",
        ttl=timedelta(minutes=15),
    )
    stored = list(Reservation.objects.order_by("variant_id"))
    assert [(r.pk, r.variant_id, r.quantity, r.owner, r.status, r.expires_at) for r in made] == [
        (r.pk, r.variant_id, r.quantity, r.owner, r.status, r.expires_at) for r in stored
    ]
    assert [r.variant_id for r in made] == sorted([shirt.pk, mug.pk])
    assert availability([shirt.pk, mug.pk]) == {shirt.pk: 3, mug.pk: 0}

    assert stock_commit(owner="order:A", reference="A-1") == 5

    sales = StockMovement.objects.filter(reason=StockMovement.Reason.SALE).order_by("variant_id")
    assert [(s.variant_id, s.quantity, s.on_hand_after, s.reference, s.note) for s in sales] == sorted(
        [(shirt.pk, -2, 3, "A-1", ""), (mug.pk, -3, 0, "A-1", "")]
    )
    assert set(Reservation.objects.values_list("status", flat=True)) == {Reservation.Status.COMMITTED}
    assert_stock_consistent()


def test_a_short_reserve_writes_nothing_and_names_the_short_lines_on_either_path(path):
    plenty, scarce, never_stocked = stocked_variant(on_hand=5), stocked_variant(on_hand=1), VariantFactory()

    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(
            lines=[StockLine(plenty.pk, 2), StockLine(scarce.pk, 2), StockLine(never_stocked.pk, 1)],
            owner="order:A",
            ttl=timedelta(minutes=15),
        )

    assert [(line.variant_id, line.requested, line.available, line.sku) for line in exc.value.lines] == [
        (scarce.pk, 2, 1, scarce.sku),
        (never_stocked.pk, 1, 0, never_stocked.sku),
    ]
    assert not Reservation.objects.exists()


def test_a_backorder_variant_is_reserved_beyond_its_stock_on_either_path(path):
    variant = stocked_variant(on_hand=1)
    StockItem.objects.filter(variant=variant).update(backorder_policy=StockItem.BackorderPolicy.CONTINUE)

    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))
    stock_commit(owner="order:A", reference="A")

    assert on_hand(variant) == -2
    assert_stock_consistent()


def test_a_lapsed_hold_is_not_sold_on_either_path(path):
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
    Reservation.objects.update(expires_at=Reservation.objects.get().created_at - timedelta(seconds=1))

    with pytest.raises(ReservationExpired):
        stock_commit(owner="order:A", reference="A")

    assert on_hand(variant) == 5
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()


def test_a_sale_that_crosses_the_low_stock_threshold_claims_the_alert_on_either_path(path):
    variant = stocked_variant(on_hand=5)
    stock_threshold_set(variant=variant, low_stock_threshold=2)

    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))
    stock_commit(owner="order:A", reference="A")

    assert StockItem.objects.get(variant=variant).low_stock_alerted_at is not None
    stock_adjust(variant=variant, quantity=5, reason=StockMovement.Reason.RECEIPT)
    assert StockItem.objects.get(variant=variant).low_stock_alerted_at is None


def test_the_caller_transaction_stays_usable_after_a_refusal(path):
    """No savepoint around the locked work: a refusal is raised once the service's block is
    left, so the caller's transaction carries on (as order_mark_paid does after
    ReservationExpired, or a cart after InsufficientStock)."""
    variant = stocked_variant(on_hand=1)

    with transaction.atomic():
        with pytest.raises(InsufficientStock):
            stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
        with pytest.raises(ReservationExpired):
            stock_commit(owner="order:A", reference="A")
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))
        assert stock_commit(owner="order:A", reference="A") == 1

    assert on_hand(variant) == 0
    assert_stock_consistent()


@contextmanager
def messages_sent() -> Iterator[list[str]]:
    """The SQL of every message the connection sends to PostgreSQL inside the block (libpq's
    protocol trace), BEGIN and COMMIT included, which Django's query log does not show."""
    connection.ensure_connection()
    raw = connection.connection
    sent: list[str] = []
    with tempfile.TemporaryFile() as trace:
        raw.pgconn.trace(trace.fileno())
        raw.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield sent
        finally:
            raw.pgconn.untrace()
            trace.seek(0)
            # One line per protocol message ("F" from us, "B" from the server), a query's
            # text quoted and spread over as many lines as it has.
            sent.extend(
                " ".join(query.split())
                for query in re.findall(r'^F\t\d+\tQuery\t "(.*?)"\n(?=[FB]\t|\Z)', trace.read().decode(), re.S | re.M)
            )


def idle() -> bool:
    return connection.connection.info.transaction_status == TransactionStatus.IDLE


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_reserve_and_a_commit_each_open_and_commit_their_own():
    """No transaction open: each call is its own transaction, BEGIN and COMMIT around its
    locked work (one message for a reserve, two for a commit)."""
    variant = stocked_variant(on_hand=5)

    with messages_sent() as sent:
        stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
    assert [m.split()[0].rstrip(";") for m in sent] == ["BEGIN", "SET", "COMMIT"]
    assert idle()
    assert availability([variant.pk]) == {variant.pk: 3}

    with messages_sent() as sent:
        assert stock_commit(owner="order:A", reference="A") == 2
    assert [m.split()[0].rstrip(";") for m in sent] == ["BEGIN", "SET", "WITH", "COMMIT"]
    assert idle()
    assert on_hand(variant) == 3
    assert set(Reservation.objects.values_list("status", flat=True)) == {Reservation.Status.COMMITTED}
    assert_stock_consistent()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_refused_reserve_or_commit_writes_nothing_and_leaves_no_transaction_open():
    variant = stocked_variant(on_hand=1)

    with pytest.raises(InsufficientStock):
        stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
    assert idle()
    with pytest.raises(ReservationExpired):
        stock_commit(owner="order:A", reference="A")
    assert idle()

    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))
    Reservation.objects.update(expires_at=Reservation.objects.get().created_at - timedelta(seconds=1))
    with pytest.raises(ReservationExpired):
        stock_commit(owner="order:A", reference="A")  # the hold lapsed: not sold
    assert idle()
    assert on_hand(variant) == 1
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_the_reserve_and_commit_are_part_of_it():
    variant = stocked_variant(on_hand=5)

    with pytest.raises(RuntimeError), transaction.atomic():
        stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))
        assert stock_commit(owner="order:A", reference="A") == 2
        raise RuntimeError("the caller fails after both")

    assert not Reservation.objects.exists()
    assert on_hand(variant) == 5
    assert_stock_consistent()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_sale_crossing_the_low_stock_threshold_claims_the_alert(settings):
    settings.STAFF_ALERT_EMAILS = ["buyers@example.com"]
    variant = stocked_variant(on_hand=5)
    stock_threshold_set(variant=variant, low_stock_threshold=2)

    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))
    assert StockItem.objects.get(variant=variant).low_stock_alerted_at is not None
    stock_commit(owner="order:A", reference="A")
    assert StockItem.objects.get(variant=variant).low_stock_alerted_at is not None
    assert len(mail.outbox) == 1

    stock_adjust(variant=variant, quantity=5, reason=StockMovement.Reason.RECEIPT)
    assert StockItem.objects.get(variant=variant).low_stock_alerted_at is None
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:B", ttl=timedelta(minutes=15))
    assert StockItem.objects.get(variant=variant).low_stock_alerted_at is None  # 6 left: above it
    assert len(mail.outbox) == 1
