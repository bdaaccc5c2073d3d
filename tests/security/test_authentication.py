"""Sign-in, passwords and the email verification link: what an attacker must not learn or get."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.services import email_verification_token
from accounts.tasks import send_welcome_email
from storefront.accounts.forms import INVALID_LOGIN_ERROR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's


def login(client, email, password):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


# Passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["Sh0rt-pass!", "aB3$eF6&hJ9"])  # 11 characters
def test_a_password_shorter_than_12_characters_is_rejected(password):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password(password)


def test_a_common_password_is_rejected_even_when_long_enough():
    with pytest.raises(ValidationError, match="too common"):
        validate_password("password1234")


def test_a_long_uncommon_password_is_accepted():
    validate_password("a-long uncommon passphrase 42")


def test_argon2_is_the_hasher_outside_the_tests():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


# Sign-in --------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_email_get_the_same_message(client):
    UserFactory(email="ann@example.com")
    wrong_password = login(client, "ann@example.com", "not the password at all")
    unknown_email = login(client, "nobody@example.com", PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == [INVALID_LOGIN_ERROR]


def test_a_disabled_account_gets_the_same_message_too(client):
    UserFactory(email="gone@example.com", is_active=False)
    response = login(client, "gone@example.com", PASSWORD)
    assert response.context["form"].non_field_errors() == [INVALID_LOGIN_ERROR]


def test_the_session_key_changes_at_login(client):
    UserFactory(email="ann@example.com")
    client.get(reverse("cart:detail"))  # an anonymous session, e.g. one planted by an attacker
    session = client.session
    session["planted"] = True
    session.save()
    before = client.cookies["sessionid"].value
    assert login(client, "ann@example.com", PASSWORD).status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=before).exists()


def test_password_reset_says_the_same_for_known_and_unknown_addresses(client, mailoutbox):
    UserFactory(email="ann@example.com")
    known = client.post(reverse("accounts:password_reset"), {"email": "ann@example.com"}, follow=True)
    unknown = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert known.content == unknown.content
    assert len(mailoutbox) == 1


# Email verification ----------------------------------------------------------------------


def _verify_link(mail) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/verify/[^/\s]+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def test_the_welcome_email_carries_a_link_that_verifies_the_address(client, mailoutbox):
    user = UserFactory(email="ann@example.com")
    assert user.email_verified_at is None
    send_welcome_email(user.pk)
    link = _verify_link(mailoutbox[0])
    assert link in mailoutbox[0].alternatives[0][0]

    response = client.get(link)  # no login needed: the link is the proof
    assert response.status_code == 200
    assert b"Email verified" in response.content
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_signing_up_sends_the_verification_link(client, mailoutbox, django_capture_on_commit_callbacks):
    password = "a-long uncommon passphrase 42"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:signup"), {"email": "new@example.com", "password1": password, "password2": password}
        )
    client.get(_verify_link(mailoutbox[0]))
    assert get_user_model().objects.get(email="new@example.com").email_verified_at is not None


def test_opening_the_link_twice_keeps_the_first_time(client):
    user = UserFactory()
    link = reverse("accounts:verify_email", args=[email_verification_token(user=user)])
    client.get(link)
    user.refresh_from_db()
    first = user.email_verified_at
    assert client.get(link).status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at == first


def test_an_expired_link_says_so_and_verifies_nothing(client, monkeypatch):
    user = UserFactory()
    token = email_verification_token(user=user)
    later = timezone.now() + timedelta(days=3, minutes=1)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    response = client.get(reverse("accounts:verify_email", args=[token]))
    assert response.status_code == 400
    assert b"This link has expired" in response.content
    user.refresh_from_db()
    assert user.email_verified_at is None


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "garbage", lambda t: t.replace(":", "", 1)])
def test_a_tampered_link_is_refused_with_a_clear_page(client, mangle):
    user = UserFactory()
    response = client.get(reverse("accounts:verify_email", args=[mangle(email_verification_token(user=user))]))
    assert response.status_code == 400
    assert b"This link is not valid" in response.content
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_a_link_stops_working_when_the_email_changes(client):
    user = UserFactory(email="old@example.com")
    token = email_verification_token(user=user)
    user.email = "new@example.com"
    user.save()
    assert client.get(reverse("accounts:verify_email", args=[token])).status_code == 400
