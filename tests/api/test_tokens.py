"""Refresh tokens are good once, also when one token is sent several times at once; logging
out revokes one; a password change or reset (page, API, admin, changepassword) revokes them
all, and the access tokens with them; a deleted account's token is a 401, never a 500."""

import re
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import User
from tests.factories import UserFactory

from .conftest import PASSWORD, assert_error

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"
NEW_PASSWORD = "an entirely new passphrase 91"
LINK = re.compile(r"https?://testserver(/\S+)")


def sign_in(api, user) -> dict:
    response = api.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def me_with(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME)


def assert_signed_out(api, pair: dict) -> None:
    """Neither token of `pair` works any more."""
    assert_error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")
    assert me_with(pair["access"]).status_code == 401


# Good once ----------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the unique index decides under PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_five_simultaneous_refreshes_of_one_token_give_one_new_pair():
    user = UserFactory(email="ada@example.com")
    pair = sign_in(APIClient(), user)
    clients = 5
    barrier = threading.Barrier(clients)
    results: list = [None] * clients

    def refresh(index: int) -> None:
        client = APIClient(REMOTE_ADDR=f"198.51.100.{index + 1}")
        try:
            barrier.wait()
            response = client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
            results[index] = (response.status_code, response.json())
        except Exception as exc:  # noqa: BLE001 - reported below
            results[index] = (None, repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 401, 401, 401, 401], results
    assert {body["error"]["code"] for status, body in results if status == 401} == {"token_not_valid"}
    (winner,) = [body for status, body in results if status == 200]
    # The one new pair works; the token they all sent is spent.
    assert me_with(winner["access"]).status_code == 200
    api = APIClient()
    assert api.post(REFRESH, {"refresh": winner["refresh"]}, format="json").status_code == 200
    assert_error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")


@pytest.mark.django_db
def test_a_refresh_token_we_never_issued_is_refused_even_when_signed_with_our_key(api):
    user = UserFactory(email="ada@example.com")
    # A refresh token with a valid signature but no outstanding-token row: issued before the
    # blacklist app, or forged with the signing key.
    forged = RefreshToken()
    forged["user_id"] = str(user.pk)
    forged["hash_password"] = get_md5_hash_password(user.password)

    assert_error(api.post(REFRESH, {"refresh": str(forged)}, format="json"), 401, "token_not_valid")


@pytest.mark.django_db
def test_a_refresh_token_of_a_deleted_account_is_401_in_the_error_shape(api):
    user = UserFactory(email="ada@example.com")
    pair = sign_in(api, user)
    User.objects.filter(pk=user.pk).delete()

    assert_error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")


# Logout -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logout_revokes_the_refresh_token_without_an_access_token(api):
    user = UserFactory(email="ada@example.com")
    pair = sign_in(api, user)

    response = api.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 204, response.content
    assert_error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")
    # The account's other sign-ins are not touched.
    other = sign_in(api, user)
    assert api.post(REFRESH, {"refresh": other["refresh"]}, format="json").status_code == 200


@pytest.mark.django_db
def test_logout_with_a_spent_revoked_or_bad_token_is_401_and_without_one_400(api):
    user = UserFactory(email="ada@example.com")
    pair = sign_in(api, user)
    spent = pair["refresh"]
    api.post(REFRESH, {"refresh": spent}, format="json")
    revoked = sign_in(api, user)["refresh"]
    api.post(LOGOUT, {"refresh": revoked}, format="json")

    assert_error(api.post(LOGOUT, {"refresh": spent}, format="json"), 401, "token_not_valid")
    assert_error(api.post(LOGOUT, {"refresh": revoked}, format="json"), 401, "token_not_valid")
    assert_error(api.post(LOGOUT, {"refresh": "garbage"}, format="json"), 401, "token_not_valid")
    assert_error(api.post(LOGOUT, {"refresh": pair["access"]}, format="json"), 401, "token_not_valid")
    assert_error(api.post(LOGOUT, {}, format="json"), 400, "invalid")


@pytest.mark.django_db
def test_logout_is_in_the_openapi_schema(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/api/v1/auth/logout/"]["post"]
    assert set(operation["responses"]) >= {"204", "400", "401"}


# A new password revokes every token ---------------------------------------------------------


def reset_password_by_email_link(client) -> None:
    """Follows the reset link of the last email and sets NEW_PASSWORD on the page."""
    path = LINK.search(mail.outbox[-1].body).group(1)
    set_password_url = client.get(path, follow=True).redirect_chain[-1][0]
    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("requested_by", ["page", "api"])
def test_resetting_the_password_revokes_every_refresh_and_access_token(api, client, requested_by):
    user = UserFactory(email="ada@example.com")
    phone, tablet = sign_in(api, user), sign_in(api, user)
    if requested_by == "page":
        client.post(reverse("accounts:password_reset"), {"email": user.email})
    else:
        api.post("/api/v1/auth/password-reset/", {"email": user.email}, format="json")

    reset_password_by_email_link(client)

    assert_signed_out(api, phone)
    assert_signed_out(api, tablet)
    # Signing in with the new password gives tokens that work.
    fresh = api.post(TOKEN, {"email": user.email, "password": NEW_PASSWORD}, format="json").json()
    assert api.post(REFRESH, {"refresh": fresh["refresh"]}, format="json").status_code == 200


@pytest.mark.django_db
def test_staff_changing_the_password_in_the_admin_revokes_every_token(api, client):
    user = UserFactory(email="ada@example.com")
    pair = sign_in(api, user)
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content
    assert_signed_out(api, pair)


@pytest.mark.django_db
def test_the_changepassword_command_revokes_every_token(api, monkeypatch):
    user = UserFactory(email="ada@example.com")
    pair = sign_in(api, user)
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass", lambda prompt="": NEW_PASSWORD
    )

    call_command("changepassword", user.email)

    assert_signed_out(api, pair)
