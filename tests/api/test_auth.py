"""Sign-up, JWT sign-in, refresh rotation, password reset, the profile, rate limits."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import UserFactory

from .conftest import PASSWORD, assert_error

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
ME = "/api/v1/auth/me/"


def test_register_creates_an_account_and_returns_tokens(api):
    response = api.post(REGISTER, {"email": "Grace@Example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["email"] == "Grace@example.com"
    assert User.objects.get(email="Grace@example.com").check_password(PASSWORD)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api.get(ME).json()["email"] == "Grace@example.com"


def test_register_refuses_an_email_taken_in_any_case(api, user):
    error = assert_error(
        api.post(REGISTER, {"email": "ADA@example.com", "password": PASSWORD}, format="json"), 400, "email_taken"
    )
    assert "email" in error["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "x@example.com", "password": "12345678"}, "password"),
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "x@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
    ],
)
def test_register_rejects_bad_input_field_by_field(api, db, payload, field):
    error = assert_error(api.post(REGISTER, payload, format="json"), 400, "invalid")
    assert field in error["fields"]
    assert not User.objects.exists()


def test_register_rejects_malformed_json(api, db):
    response = api.post(REGISTER, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_token_signs_in_with_the_email_in_any_case(api, user):
    response = api.post(TOKEN, {"email": "ADA@EXAMPLE.COM", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_token_refuses_a_wrong_password_with_401(api, user):
    assert_error(api.post(TOKEN, {"email": user.email, "password": "nope"}, format="json"), 401, "no_active_account")


def test_token_refuses_a_disabled_account(api, user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert api.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json").status_code == 401


def test_token_requires_email_and_password(api, db):
    error = assert_error(api.post(TOKEN, {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"email", "password"}


def test_refresh_rotates_and_refuses_the_old_refresh_token(api, user):
    first = api.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json").json()
    rotated = api.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first["refresh"]
    assert_error(api.post(REFRESH, {"refresh": first["refresh"]}, format="json"), 401, "token_not_valid")
    # The new one works, once.
    assert api.post(REFRESH, {"refresh": rotated.json()["refresh"]}, format="json").status_code == 200


def test_refresh_refuses_garbage_and_an_access_token(api, user):
    pair = api.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json").json()
    assert_error(api.post(REFRESH, {"refresh": "garbage"}, format="json"), 401, "token_not_valid")
    assert_error(api.post(REFRESH, {"refresh": pair["access"]}, format="json"), 401, "token_not_valid")
    assert_error(api.post(REFRESH, {}, format="json"), 400, "invalid")


def test_me_requires_authentication(api, db):
    error = assert_error(api.get(ME), 401, "not_authenticated")
    assert error["fields"] == {}


def test_a_bad_bearer_token_is_401(api, db):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert_error(api.get(ME), 401, "token_not_valid")


def test_me_shows_and_changes_the_names(user_api, user):
    assert user_api.get(ME).json()["email"] == "ada@example.com"
    response = user_api.patch(ME, {"first_name": "Ada", "last_name": "Lovelace"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.email) == ("Ada", "Lovelace", "ada@example.com")


def test_me_rejects_a_too_long_name(user_api):
    assert_error(user_api.patch(ME, {"first_name": "x" * 151}, format="json"), 400, "invalid")


def test_password_reset_emails_a_link_to_an_existing_account(api, user):
    response = api.post("/api/v1/auth/password-reset/", {"email": "ADA@example.com"}, format="json")
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert "/accounts/password-reset/confirm/" in mail.outbox[0].body


def test_password_reset_answers_the_same_for_an_unknown_email(api, user):
    known = api.post("/api/v1/auth/password-reset/", {"email": user.email}, format="json")
    unknown = api.post("/api/v1/auth/password-reset/", {"email": "nobody@example.com"}, format="json")
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert len(mail.outbox) == 1


def test_password_reset_rejects_a_malformed_email(api, db):
    assert_error(api.post("/api/v1/auth/password-reset/", {"email": "nope"}, format="json"), 400, "invalid")


def test_auth_endpoints_are_rate_limited_with_retry_after(api, user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "2/minute"}}
    for _ in range(2):
        api.post(TOKEN, {"email": user.email, "password": "wrong"}, format="json")
    response = api.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60


def test_session_sign_in_works_too(user):
    client = APIClient()
    client.force_login(user)
    assert client.get(ME).json()["email"] == user.email


def test_unsupported_methods_are_405_in_the_error_shape(user_api):
    assert_error(user_api.put(ME, {}, format="json"), 405, "method_not_allowed")
    assert_error(APIClient().get(TOKEN), 405, "method_not_allowed")


def test_another_user_cannot_sign_in_as_ada(api, user):
    UserFactory(email="eve@example.com")
    assert api.post(TOKEN, {"email": "eve@example.com", "password": "x"}, format="json").status_code == 401


def test_register_sends_the_welcome_email_once_the_account_is_saved(api, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(REGISTER, {"email": "new.api@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    assert [m.to for m in mail.outbox] == [["new.api@example.com"]]
