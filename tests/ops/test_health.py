"""GET /health/ and /health/detailed/: what load balancers and operators see."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from orders.models import SweepRun
from payments.selectors import RECONCILE_LAST_KEY
from payments.tasks import reconcile_payments
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# A Redis on a port nobody listens on, with short timeouts: the cache is "down".
REDIS_DOWN = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
        },
    }
}


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def test_it_reports_ok_when_everything_works(client):
    response = client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is True
    # No broker in tests: no broker check, and the sweeper is not expected to run.
    assert "broker" not in body["checks"]
    assert body["checks"]["sweeper"]["scheduled"] is False


@pytest.mark.parametrize("ignore_exceptions", [True, False])
def test_it_answers_503_naming_the_cache_when_redis_is_down(client, settings, ignore_exceptions):
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = ignore_exceptions
    with override_settings(CACHES=REDIS_DOWN):
        try:
            response = client.get("/health/")
        finally:
            caches["default"].close()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["cache"]
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_it_fails_the_broker_check_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    SweepRun.objects.create(trigger=SweepRun.Trigger.BEAT, started_at=timezone.now(), finished_at=timezone.now())

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_it_fails_the_sweeper_when_beat_stopped_running_it(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    long_ago = timezone.now() - timedelta(hours=1)
    SweepRun.objects.create(trigger=SweepRun.Trigger.BEAT, started_at=long_ago, finished_at=long_ago)

    body = client.get("/health/").json()

    assert "sweeper" in body["failing"]
    assert body["checks"]["sweeper"]["age_seconds"] >= 3600


def test_it_does_not_fail_an_old_sweep_without_a_broker(client):
    long_ago = timezone.now() - timedelta(days=1)
    SweepRun.objects.create(trigger=SweepRun.Trigger.COMMAND, started_at=long_ago, finished_at=long_ago)

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["checks"]["sweeper"]["last_run"] == long_ago.isoformat()


def test_detailed_redirects_anonymous_to_the_admin_login(client):
    response = client.get("/health/detailed/")

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_detailed_refuses_a_shopper(client):
    client.force_login(UserFactory())

    response = client.get("/health/detailed/")

    assert response.status_code == 302


def test_detailed_shows_staff_the_operator_figures(staff_client, monkeypatch):
    monkeypatch.setenv("APP_VERSION", "abc1234")
    reconcile_payments()
    SweepRun.objects.create(trigger=SweepRun.Trigger.BEAT, started_at=timezone.now(), finished_at=timezone.now())

    response = staff_client.get("/health/detailed/")

    assert response.status_code == 200
    body = response.json()
    assert body["database"]["size_bytes"] > 0
    assert body["reservations"]["active"] == 0
    assert isinstance(body["orders_by_status"], dict)
    assert body["last_sweep"]["trigger"] == "beat"
    assert body["last_reconciliation"]["checked"] == 0
    assert body["last_reconciliation"]["at"]
    assert body["celery_queue_length"] is None
    assert body["celery_queue_lengths"] == {"urgent": None, "celery": None}
    assert body["memory"]["max_rss_bytes"] > 0
    assert body["versions"]["app"] == "abc1234"


def test_reconcile_task_records_its_last_run_in_the_cache():
    from django.core.cache import cache

    counts = reconcile_payments()

    assert cache.get(RECONCILE_LAST_KEY)["checked"] == counts["checked"]


def test_detailed_counts_the_messages_waiting_in_the_filesystem_broker(staff_client, settings, tmp_path):
    """`make run` without Redis: kombu's filesystem transport, one file per waiting message."""
    from kombu import Connection

    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    with Connection("filesystem://", transport_options=options) as conn:
        queue = conn.SimpleQueue("celery")
        queue.put({"task": "one"})
        queue.put({"task": "two"})
        conn.SimpleQueue("other").put({"task": "elsewhere"})
        conn.SimpleQueue("urgent").put({"task": "three"})

    body = staff_client.get("/health/detailed/").json()

    assert body["celery_queue_length"] == 2
    assert body["celery_queue_lengths"] == {"urgent": 1, "celery": 2}
    assert staff_client.get("/health/").json()["checks"]["broker"]["ok"] is True
