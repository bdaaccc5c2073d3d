"""Every sweep is recorded as a SweepRun (when, what started it, what it expired, how it
failed), whether beat, the command or the admin button started it."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.models import Reservation
from inventory.services import StockLine, reservations_expire, stock_reserve
from orders.models import Order, OrderEvent, SweepRun
from orders.services import orders_expire_overdue, sweep_run
from orders.tasks import release_expired_reservations
from tests.factories import UserFactory, stocked_variant
from tests.orders.helpers import lapse, place_order

pytestmark = pytest.mark.django_db

SWEEPS = reverse("admin:orders_sweeprun_changelist")
RUN = reverse("admin:orders_sweeprun_run")
ORDERS = reverse("admin:orders_order_changelist")


@pytest.fixture
def lapsed():
    """Two lapsed orders and one lapsed cart hold (3 reservations, 2 orders to expire), and a
    live order and a live cart hold that the sweep must leave alone."""
    variant = stocked_variant(on_hand=10)
    for _ in range(2):
        lapse(place_order((variant, 1)))
    place_order((variant, 1))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:lapsed", ttl=timedelta(minutes=30))
    Reservation.objects.filter(owner="cart:lapsed").update(expires_at=timezone.now() - timedelta(seconds=1))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="cart:live", ttl=timedelta(minutes=30))
    return variant


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def fail_the_orders_update(execute, sql, params, many, context):
    """Makes the orders half of the sweep fail as a lock timeout would, at the database."""
    # The order half's statement updates "orders_order" (inside a WITH on PostgreSQL).
    if "UPDATE" in sql.upper() and '"orders_order"' in sql:
        raise OperationalError("canceling statement due to lock timeout")
    return execute(sql, params, many, context)


def test_a_sweep_run_records_when_it_ran_what_started_it_and_what_it_expired(lapsed):
    before = timezone.now()

    run = sweep_run(trigger=SweepRun.Trigger.COMMAND)

    run.refresh_from_db()
    assert (run.trigger, run.reservations_expired, run.orders_expired, run.error) == ("command", 3, 2, "")
    assert before <= run.started_at <= run.finished_at <= timezone.now()
    assert Order.objects.filter(status=Order.Status.EXPIRED).count() == 2
    assert Order.objects.filter(status=Order.Status.PENDING_PAYMENT).count() == 1
    assert Reservation.objects.filter(status=Reservation.Status.ACTIVE).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite selects the ids first, then updates")
def test_the_order_half_is_one_statement_however_many_orders_lapsed():
    variant = stocked_variant(on_hand=30)
    for _ in range(25):
        lapse(place_order((variant, 1)))

    with CaptureQueriesContext(connection) as ctx:
        assert orders_expire_overdue() == 25

    # Besides SET LOCAL lock_timeout and savepoints: one UPDATE … RETURNING feeding the INSERT
    # of the events, in one round trip.
    statements = [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].upper().startswith(("SET", "SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(statements) == 1
    assert statements[0].lstrip().upper().startswith("WITH")
    assert '"orders_order"' in statements[0] and 'INSERT INTO "orders_orderevent"' in statements[0]
    assert OrderEvent.objects.filter(type=OrderEvent.Type.EXPIRED).count() == 25


def test_the_expired_event_is_written_as_the_model_writes_one():
    variant = stocked_variant(on_hand=3)
    order = place_order((variant, 1))
    lapse(order)
    before = timezone.now()

    assert orders_expire_overdue() == 1

    event = order.events.get(type=OrderEvent.Type.EXPIRED)
    built = OrderEvent(order=order, type=OrderEvent.Type.EXPIRED, note="Reservation expired")
    assert (event.note, event.code, event.params, event.actor_id) == (built.note, built.code, built.params, None)
    assert before <= event.created_at <= timezone.now()
    assert event.shopper_note() == "Reservation expired"


def test_a_sweep_with_nothing_to_expire_is_still_recorded_with_zero_counts():
    run = sweep_run(trigger=SweepRun.Trigger.BEAT)

    assert SweepRun.objects.get() == run
    assert (run.reservations_expired, run.orders_expired, run.error) == (0, 0, "")
    assert run.finished_at is not None


def test_the_second_of_two_sweeps_records_that_it_found_nothing(lapsed):
    sweep_run(trigger=SweepRun.Trigger.BEAT)
    sweep_run(trigger=SweepRun.Trigger.BEAT)

    assert list(SweepRun.objects.values_list("reservations_expired", "orders_expired")) == [(0, 0), (3, 2)]


def test_an_unknown_trigger_is_refused_and_nothing_is_recorded():
    with pytest.raises(ValueError):
        sweep_run(trigger="cron")
    assert not SweepRun.objects.exists()


def test_a_failed_sweep_records_the_error_and_how_far_it_got_then_raises(lapsed):
    with connection.execute_wrapper(fail_the_orders_update), pytest.raises(OperationalError):
        sweep_run(trigger=SweepRun.Trigger.BEAT)

    run = SweepRun.objects.get()
    assert run.reservations_expired == 3
    assert run.orders_expired == 0
    assert run.error == "OperationalError: canceling statement due to lock timeout"
    assert run.finished_at is not None
    # The orders half rolled back as a whole: nothing half-expired, no stray events.
    assert not Order.objects.filter(status=Order.Status.EXPIRED).exists()
    assert not OrderEvent.objects.filter(type=OrderEvent.Type.EXPIRED).exists()


def test_the_command_goes_through_the_recorded_sweep(lapsed, capsys):
    call_command("release_expired_reservations")

    assert capsys.readouterr().out == "Expired 3 reservation(s) and 2 order(s).\n"
    run = SweepRun.objects.get()
    assert (run.trigger, run.reservations_expired, run.orders_expired) == ("command", 3, 2)


def test_the_beat_task_goes_through_the_recorded_sweep(lapsed):
    assert release_expired_reservations.delay().get() == {"reservations": 3, "orders": 2}

    run = SweepRun.objects.get()
    assert (run.trigger, run.reservations_expired, run.orders_expired) == ("beat", 3, 2)


def test_beat_runs_the_recorded_sweep_task():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "orders.tasks.release_expired_reservations" in tasks


# The admin ----------------------------------------------------------------------------------


def test_staff_run_the_sweep_with_the_button_and_see_what_it_expired(staff_client, lapsed):
    response = staff_client.post(RUN)

    assert response.status_code == 302
    assert response.url == SWEEPS
    run = SweepRun.objects.get()
    assert (run.trigger, run.reservations_expired, run.orders_expired) == ("admin", 3, 2)
    page = staff_client.get(SWEEPS)
    assert [str(m) for m in page.context["messages"]] == ["Expired 3 reservations and 2 orders."]


def test_the_button_does_not_run_the_sweep_on_get(staff_client, lapsed):
    response = staff_client.get(RUN)

    assert response.status_code == 405
    assert not SweepRun.objects.exists()
    assert not Order.objects.filter(status=Order.Status.EXPIRED).exists()


def test_the_button_rejects_a_post_without_the_csrf_token(lapsed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert client.post(RUN).status_code == 403
    assert not SweepRun.objects.exists()


def test_the_button_posts_its_csrf_token_from_the_sweep_list(lapsed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(SWEEPS)
    assert b"Run the sweep now" in page.content

    response = client.post(RUN, {"csrfmiddlewaretoken": page.context["csrf_token"]})

    assert response.status_code == 302
    assert SweepRun.objects.get().trigger == "admin"


@pytest.mark.parametrize("who", ["shopper", "anonymous"])
def test_non_staff_posting_to_the_button_are_sent_to_the_admin_login(client, lapsed, who):
    if who == "shopper":
        client.force_login(UserFactory())

    response = client.post(RUN)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert not SweepRun.objects.exists()


def test_staff_without_the_run_permission_see_the_list_but_not_the_button_and_cannot_post(client, lapsed):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_sweeprun"))
    client.force_login(viewer)

    page = client.get(SWEEPS)
    assert page.status_code == 200
    assert b"Run the sweep now" not in page.content
    assert client.post(RUN).status_code == 403
    assert not SweepRun.objects.exists()


def test_a_failed_sweep_from_the_button_shows_the_error_and_is_on_record(staff_client, lapsed):
    with connection.execute_wrapper(fail_the_orders_update):
        response = staff_client.post(RUN, follow=True)

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "The sweep failed: canceling statement due to lock timeout"
    ]
    assert "lock timeout" in SweepRun.objects.get().error


def test_sweep_runs_cannot_be_added_changed_or_deleted_in_the_admin(staff_client):
    run = sweep_run(trigger=SweepRun.Trigger.COMMAND)

    assert staff_client.get(reverse("admin:orders_sweeprun_add")).status_code == 403
    assert staff_client.get(reverse("admin:orders_sweeprun_delete", args=[run.pk])).status_code == 403
    page = staff_client.get(reverse("admin:orders_sweeprun_change", args=[run.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_the_sweep_list_shows_each_run_and_the_last_sweep(staff_client, lapsed):
    sweep_run(trigger=SweepRun.Trigger.BEAT)
    sweep_run(trigger=SweepRun.Trigger.COMMAND)

    page = staff_client.get(SWEEPS)

    assert page.context["cl"].result_count == 2
    text = page.content.decode()
    assert "Last sweep:" in text
    assert "0 reservations and 0 orders expired" in text  # the newest run's counts


def test_the_order_list_shows_the_last_sweep_and_links_to_all_of_them(staff_client, lapsed):
    assert "No sweep has run yet." in staff_client.get(ORDERS).content.decode()

    sweep_run(trigger=SweepRun.Trigger.BEAT)
    text = staff_client.get(ORDERS).content.decode()

    assert "Last sweep:" in text
    assert "3 reservations and 2 orders expired" in text
    assert f'href="{SWEEPS}"' in text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite selects the ids first, then updates")
def test_the_reservation_half_is_one_statement_per_batch(monkeypatch):
    monkeypatch.setattr("inventory.services.SWEEP_BATCH_SIZE", 3)
    variant = stocked_variant(on_hand=10)
    lapsed = timezone.now() - timedelta(seconds=1)
    Reservation.objects.bulk_create(
        Reservation(variant=variant, quantity=1, owner=f"cart:{i}", expires_at=lapsed) for i in range(7)
    )

    with CaptureQueriesContext(connection) as ctx:
        assert reservations_expire() == 7

    batches = [q["sql"] for q in ctx.captured_queries if 'UPDATE "inventory_reservation"' in q["sql"]]
    assert len(batches) == 3  # 3 + 3 + 1
    assert Reservation.objects.filter(status=Reservation.Status.EXPIRED).count() == 7
