"""/metrics: Prometheus text for staff or the scraper's bearer token, nobody else."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_refuses_anonymous(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_shopper(client):
    client.force_login(UserFactory())

    assert client.get("/metrics").status_code == 401


def test_it_serves_staff(client):
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"django_http_requests" in response.content


def test_it_serves_the_right_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_no_token_configured_means_no_token_works(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
