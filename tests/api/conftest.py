from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory, stocked_variant
from tests.payments.razorpay.conftest import razorpay_api  # noqa: F401 - a fixture: the fake Razorpay API

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Rate-limit counters live in the cache; every test starts with none used.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    """An anonymous API client."""
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory(email="ada@example.com")


@pytest.fixture
def outsider(db):
    return UserFactory(email="mallory@example.com")


@pytest.fixture
def user_api(user):
    """An API client signed in as `user` with a JWT access token, as a mobile client is."""
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def outsider_api(outsider):
    client = APIClient()
    client.force_authenticate(outsider)
    return client


@pytest.fixture
def variant(db):
    return stocked_variant(
        on_hand=3, price=Decimal("23.00"), product__title="Linen Shirt", product__handle="linen-shirt"
    )


def assert_error(response, status: int, code: str) -> dict:
    """The response has `status` and the one error shape with `code`; returns the error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "fields"} <= set(error), error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return error
