"""PATCH auth/me/: the phone and the email, as the profile page changes them
(accounts.services.user_profile_update): phones stored E.164 and read in the default
address's country, an email unique in any letter case and unverified when new."""

from urllib.parse import urlsplit

import pytest
from django.core import mail

from accounts.models import User
from tests.factories import UserFactory

from .conftest import PASSWORD, assert_error

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
ADDRESSES = "/api/v1/auth/me/addresses/"
TOKEN = "/api/v1/auth/token/"
LONDON = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}


def test_me_shows_no_phone_as_an_empty_string_and_whether_the_email_is_verified(user_api):
    body = user_api.get(ME).json()

    assert body["phone"] == ""
    assert body["email_verified"] is False


def test_a_phone_with_its_country_code_is_stored_and_shown_in_e164(user_api, user):
    response = user_api.patch(ME, {"phone": "+44 20 7946 0000"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "+442079460000"
    user.refresh_from_db()
    assert str(user.phone) == "+442079460000"
    assert user_api.get(ME).json()["phone"] == "+442079460000"


def test_a_phone_typed_nationally_is_read_as_the_default_address_country(user_api):
    assert user_api.post(ADDRESSES, LONDON, format="json").status_code == 201

    response = user_api.patch(ME, {"phone": "020 7946 0000"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "+442079460000"


def test_a_phone_typed_nationally_without_a_default_address_is_a_field_error(user_api, user):
    error = assert_error(user_api.patch(ME, {"phone": "020 7946 0000"}, format="json"), 400, "invalid")

    assert list(error["fields"]) == ["phone"]
    assert "country code" in error["fields"]["phone"][0]
    user.refresh_from_db()
    assert str(user.phone) == ""


def test_an_invalid_phone_is_a_field_error_and_changes_nothing(user_api, user):
    assert user_api.post(ADDRESSES, LONDON, format="json").status_code == 201

    error = assert_error(user_api.patch(ME, {"first_name": "Augusta", "phone": "12345"}, format="json"), 400, "invalid")

    assert list(error["fields"]) == ["phone"]
    assert error["fields"]["phone"][0].startswith("Enter a valid phone number (e.g. +44")
    user.refresh_from_db()
    assert (user.first_name, str(user.phone)) == ("", "")


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_phone_removes_it(user_api, user, empty):
    User.objects.filter(pk=user.pk).update(phone="+442079460000")

    response = user_api.patch(ME, {"phone": empty}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["phone"] == ""
    user.refresh_from_db()
    assert str(user.phone) == ""


def test_an_email_of_another_account_in_any_letter_case_is_a_field_error_and_changes_nothing(user_api, user):
    UserFactory(email="taken@example.com")

    error = assert_error(
        user_api.patch(ME, {"email": "Taken@Example.com", "first_name": "Augusta"}, format="json"), 400, "email_taken"
    )

    assert list(error["fields"]) == ["email"]
    user.refresh_from_db()
    assert (user.email, user.first_name) == ("ada@example.com", "")
    assert mail.outbox == []


def test_a_malformed_email_is_a_field_error(user_api):
    error = assert_error(user_api.patch(ME, {"email": "not an email"}, format="json"), 400, "invalid")

    assert list(error["fields"]) == ["email"]


def test_a_new_email_is_unverified_until_its_link_is_opened_and_the_old_address_is_told(
    user_api, user, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-01T00:00:00Z")
    assert user_api.get(ME).json()["email_verified"] is True

    with django_capture_on_commit_callbacks(execute=True):
        response = user_api.patch(ME, {"email": "Ada.King@Example.com"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["email"] == "Ada.King@example.com"  # the domain normalised, as sign-up does
    assert body["email_verified"] is False
    verification, notice = sorted(mail.outbox, key=lambda message: message.to != ["Ada.King@example.com"])
    assert verification.to == ["Ada.King@example.com"]
    assert notice.to == ["ada@example.com"]
    link = next(word for word in verification.body.split() if "/accounts/verify/" in word)

    assert user_api.get(urlsplit(link).path).status_code == 200  # the web page the link opens
    assert user_api.get(ME).json()["email_verified"] is True


def test_the_same_email_in_another_letter_case_stays_verified_and_sends_nothing(
    user_api, user, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks(execute=True):
        response = user_api.patch(ME, {"email": "ADA@example.com"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["email"], response.json()["email_verified"]) == ("ADA@example.com", True)
    assert mail.outbox == []


def test_the_new_email_signs_in_and_the_old_one_no_longer_does(user_api, api):
    assert user_api.patch(ME, {"email": "ada.king@example.com"}, format="json").status_code == 200

    assert api.post(TOKEN, {"email": "ada@example.com", "password": PASSWORD}, format="json").status_code == 401
    assert api.post(TOKEN, {"email": "ada.king@example.com", "password": PASSWORD}, format="json").status_code == 200


def test_changes_of_email_are_rate_limited(user_api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "2/minute"},
    }
    for number in range(2):
        assert user_api.patch(ME, {"email": f"ada{number}@example.com"}, format="json").status_code == 200

    response = user_api.patch(ME, {"email": "ada9@example.com"}, format="json")

    assert_error(response, 429, "throttled")
    assert "Retry-After" in response.headers
    # Names and phone are not limited.
    assert user_api.patch(ME, {"first_name": "Ada"}, format="json").status_code == 200


def test_the_schema_documents_the_phone_and_the_email(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    patch = schema["paths"][ME]["patch"]
    request = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    assert {"email", "phone"} <= set(components[request]["properties"])
    assert components[request]["properties"]["phone"]["nullable"] is True
    assert {"email_verified", "phone"} <= set(components["User"]["properties"])
    assert components["User"]["properties"]["email_verified"]["type"] == "boolean"
    assert {"400", "429"} <= set(patch["responses"])
