"""The welcome email: sent once the new account has committed, in the shop's email layout."""

import pytest
from django.urls import reverse

from accounts.tasks import send_welcome_email
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-long uncommon passphrase 42"


def signup(client, email):
    return client.post(
        reverse("accounts:signup"), {"email": email, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )


def test_signing_up_sends_one_welcome_email_once_the_account_is_committed(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signup(client, "new@example.com")

    assert response.status_code == 302
    assert len(callbacks) == 1
    [email] = mailoutbox
    assert email.to == ["new@example.com"]
    assert email.subject == "Welcome to Small Shop"
    assert "new@example.com" in email.body
    assert "http://localhost:8000/orders/" in email.body
    assert "http://localhost:8000/accounts/password-reset/" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and "Welcome to Small Shop" in html


def test_a_refused_sign_up_sends_nothing(client, mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(email="taken@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = signup(client, "taken@example.com")

    assert response.status_code == 200
    assert mailoutbox == []


def test_the_task_sends_nothing_for_an_account_gone_meanwhile(mailoutbox):
    user = UserFactory()
    user_pk = user.pk
    user.delete()

    assert send_welcome_email.delay(user_pk).get() == 0
    assert mailoutbox == []
