"""A customer downloads what the shop holds about them as JSON: the page /accounts/data/ (a
file) and GET /api/v1/auth/me/data/; profile, addresses, orders with lines, events and
shipments; money as strings; never the password hash or a token."""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import UserFactory

from .helpers import PASSWORD, customer_with_history

pytestmark = pytest.mark.django_db

DATA = "/accounts/data/"
API_DATA = "/api/v1/auth/me/data/"


def assert_is_adas_data(data: dict, order) -> None:
    assert data["profile"]["email"] == "ada@example.com"
    assert (data["profile"]["first_name"], data["profile"]["last_name"]) == ("Ada", "Lovelace")
    assert [(a["line1"], a["city"], a["country"], a["is_default"]) for a in data["addresses"]] == [
        ("12 Analytical Row", "London", "GB", True)
    ]
    (exported,) = data["orders"]
    assert exported["number"] == order.number
    assert exported["status"] == "fulfilled"
    assert (exported["total"], exported["currency"]) == ("51.00", "USD")
    assert exported["shipping_address"]["phone"] == "+442079460000"  # stored E.164
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in exported["lines"]] == [
        (order.lines.get().sku, 2, "23.00")
    ]
    assert {"placed", "paid", "shipped"} <= {event["type"] for event in exported["events"]}
    assert [(s["carrier"], s["tracking_number"]) for s in exported["shipments"]] == [("Royal Mail", "RM123456789GB")]


def assert_no_secrets(raw: str, user) -> None:
    user.refresh_from_db()
    assert user.password not in raw
    assert "password" not in raw and "token" not in raw.lower()


def test_the_page_downloads_the_customers_data_as_a_json_file(client):
    user, _variant, order = customer_with_history()
    client.force_login(user)

    response = client.get(DATA)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="account-data-')
    raw = response.content.decode()
    assert_is_adas_data(json.loads(raw), order)
    assert_no_secrets(raw, user)


def test_the_page_needs_a_signed_in_customer(client):
    response = client.get(DATA)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_api_answers_the_same_data():
    user, _variant, order = customer_with_history()
    api = APIClient()
    pair = api.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")

    response = api.get(API_DATA)

    assert response.status_code == 200
    assert_is_adas_data(response.json(), order)
    assert_no_secrets(response.content.decode(), user)


def test_the_api_needs_a_signed_in_customer_and_shows_only_their_own_data(client):
    customer_with_history()
    assert APIClient().get(API_DATA).status_code == 401
    other = APIClient()
    other.force_authenticate(UserFactory(email="eve@example.com"))

    data = other.get(API_DATA).json()

    assert data["profile"]["email"] == "eve@example.com"
    assert data["addresses"] == [] and data["orders"] == []
