"""X-Request-ID: taken from the client when well formed, else made; on every log line."""

import logging

import pytest
from celery import shared_task
from django.core.signals import request_finished

from ops.observability import REQUEST_ID_HEADER, request_id_get

pytestmark = pytest.mark.django_db


def test_it_returns_the_request_id_the_client_sent(client):
    response = client.get("/health/", headers={REQUEST_ID_HEADER: "abc-123-DEF"})

    assert response[REQUEST_ID_HEADER] == "abc-123-DEF"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "semi;colon", "new\\nline"])
def test_it_replaces_a_malformed_request_id(client, bad):
    response = client.get("/health/", headers={REQUEST_ID_HEADER: bad})

    assert response[REQUEST_ID_HEADER] != bad
    assert len(response[REQUEST_ID_HEADER]) == 32


def test_it_makes_one_when_the_client_sends_none(client):
    first = client.get("/health/")[REQUEST_ID_HEADER]
    second = client.get("/health/")[REQUEST_ID_HEADER]

    assert first and second and first != second


def test_log_records_of_the_request_carry_its_id(client, caplog):
    caplog.set_level(logging.INFO)

    client.post("/payments/webhooks/nosuch/", headers={REQUEST_ID_HEADER: "req-42"})
    logging.getLogger("tests").info("outside any request")

    during = [r for r in caplog.records if r.name != "tests"]
    assert during and all(r.request_id == "req-42" for r in during)
    assert [r.request_id for r in caplog.records if r.name == "tests"] == ["-"]


@shared_task
def _echo_request_id() -> str:
    return request_id_get()


def test_a_task_enqueued_during_a_request_runs_with_its_id(rf):
    from ops.observability import RequestIDMiddleware

    seen = {}

    def view(request):
        seen["task"] = _echo_request_id.delay().get()
        from django.http import HttpResponse

        return HttpResponse()

    try:
        RequestIDMiddleware(view)(rf.get("/", headers={REQUEST_ID_HEADER: "req-7"}))
    finally:
        request_finished.send(sender=None)

    assert seen["task"] == "req-7"
    assert request_id_get() == "-"


def test_the_publish_signal_puts_the_id_in_the_task_headers():
    from ops.observability import _request_id_to_task_headers, request_id_var

    headers = {}
    token = request_id_var.set("req-9")
    try:
        _request_id_to_task_headers(headers=headers)
    finally:
        request_id_var.reset(token)

    assert headers == {"request_id": "req-9"}
