"""The API's auth endpoints share the auth tier with the pages: per address and per account,
answered 429 in the API's error shape with Retry-After."""

import pytest
from rest_framework.test import APIClient

from tests.ratelimit.conftest import PASSWORD, assert_limited

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def test_the_eleventh_token_request_is_refused_in_the_error_shape(user):
    api = APIClient()
    for n in range(10):
        assert api.post(TOKEN, {"email": f"guess{n}@example.com", "password": "x"}, format="json").status_code == 401
    response = api.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    assert_limited(response)
    assert response.json()["error"]["code"] == "throttled"


def test_login_page_and_api_share_one_budget_per_account(client, user):
    for n in range(5):
        client.post("/accounts/login/", {"username": user.email, "password": "no"}, REMOTE_ADDR=f"198.51.100.{n}")
        APIClient(REMOTE_ADDR=f"192.0.2.{n}").post(TOKEN, {"email": user.email, "password": "no"}, format="json")
    response = APIClient(REMOTE_ADDR="192.0.2.99").post(
        TOKEN, {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert_limited(response)
    assert response.json()["error"]["code"] == "throttled"


def test_token_refresh_is_not_counted_as_a_sign_in(user):
    api = APIClient()
    for _ in range(12):
        response = api.post("/api/v1/auth/token/refresh/", {"refresh": "not-a-token"}, format="json")
        assert response.status_code == 401
