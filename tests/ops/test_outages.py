"""
What clients see when a backing service fails mid-request (bench/faults.py rehearses the same
outages for real, on a private stack):
- the broker down: work that committed stands and the request succeeds; the lost enqueue is
  logged at ERROR;
- the database unreachable: 503 with Retry-After, JSON under /api/, a page elsewhere;
(a webhook whose first enqueue was lost: tests/payments/stripe/test_webhooks.py).
"""

import logging
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from accounts.services import user_register
from config.celery_app import app as celery_app
from orders.models import Order
from orders.services import order_mark_paid
from tests.factories import stocked_variant
from tests.i18n import german
from tests.orders.helpers import place_order


@pytest.fixture
def broker_down():
    """Celery publishing for real (not eagerly) to a broker nobody listens on."""

    def use_new_connections():
        # The app keeps its connection and producer pools for the broker it first used.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url", "broker_connection_timeout")}
    celery_app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0", broker_connection_timeout=0.5)
    use_new_connections()
    yield
    celery_app.conf.update(saved)
    use_new_connections()


@pytest.mark.django_db(transaction=True)
def test_an_order_paid_while_the_broker_is_down_stays_paid_and_the_call_succeeds(broker_down, caplog):
    order = place_order((stocked_variant(on_hand=2), 1))
    with caplog.at_level(logging.ERROR):
        paid = order_mark_paid(order=order, reference="pay_1", reservation_ttl=timedelta(minutes=15))
    assert paid.status == Order.Status.PAID
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert any("order_paid_followups" in record.getMessage() for record in caplog.records), caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_while_the_broker_is_down_creates_the_account(broker_down, caplog):
    with caplog.at_level(logging.ERROR):
        user = user_register(email="ada@example.com", password="a long enough password 1")
    assert user.pk
    assert any("send_welcome_email" in record.getMessage() for record in caplog.records), caplog.text


@pytest.fixture
def database_gone(monkeypatch):
    """Every query from now on fails as if the server had restarted under the connection."""

    def execute(self, *args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(CursorWrapper, "execute", execute)


@pytest.mark.django_db
def test_the_api_answers_503_json_when_the_database_is_gone(client, database_gone):
    response = client.get("/api/v1/products/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"


@pytest.mark.django_db
def test_a_page_answers_503_with_a_retry_link_when_the_database_is_gone(client, database_gone):
    response = client.get("/products/?q=mug")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "Briefly unavailable" in body and 'href="/products/?q=mug"' in body


BRIEFLY_UNAVAILABLE = (
    "The shop is briefly unavailable. Nothing was charged twice or lost: please try again in a few seconds."
)


@pytest.mark.django_db
def test_the_503_page_and_json_are_in_the_shoppers_language(client, database_gone):
    entries = {BRIEFLY_UNAVAILABLE: "Der Shop ist kurz nicht erreichbar.", "Briefly unavailable": "Kurz weg"}
    with german(entries):
        page = client.get("/products/?q=mug", HTTP_ACCEPT_LANGUAGE="de").content.decode()
        answer = client.get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="de").json()
    assert "Der Shop ist kurz nicht erreichbar." in page and "Kurz weg" in page
    assert "briefly unavailable" not in page.lower()
    assert answer["error"]["message"] == "Der Shop ist kurz nicht erreichbar."
    assert client.get("/api/v1/products/").json()["error"]["message"] == BRIEFLY_UNAVAILABLE


@pytest.mark.django_db
def test_other_database_errors_stay_500(client, monkeypatch):
    from django.db import IntegrityError

    def execute(self, *args, **kwargs):
        raise IntegrityError("a bug, not an outage")

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    client.raise_request_exception = False
    assert client.get("/api/v1/products/").status_code == 500
