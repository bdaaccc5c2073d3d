import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 77"
LINK = re.compile(r"https?://testserver(/\S+)")


def request_reset(client, email):
    return client.post(reverse("accounts:password_reset"), {"email": email})


def test_it_emails_one_working_link_and_the_new_password_works(client):
    UserFactory(email="ann@example.com")

    response = request_reset(client, "ann@example.com")

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "\n" not in message.subject
    path = LINK.search(message.body).group(1)
    assert path.startswith("/accounts/password-reset/confirm/")

    # The emailed link redirects to a token-free URL (Django keeps the token in the session).
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"] is True
    set_password_url = response.redirect_chain[-1][0]

    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_complete")
    assert client.get(response.url).status_code == 200

    response = client.post(reverse("accounts:login"), {"username": "ann@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_the_link_works_only_once(client):
    UserFactory(email="ann@example.com")
    request_reset(client, "ann@example.com")
    path = LINK.search(mail.outbox[0].body).group(1)
    set_password_url = client.get(path).url
    client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = client.get(path, follow=True)
    assert response.context["validlink"] is False
    assert b"no longer works" in response.content


def test_a_weak_new_password_is_rejected_with_errors(client):
    UserFactory(email="ann@example.com")
    request_reset(client, "ann@example.com")
    set_password_url = client.get(LINK.search(mail.outbox[0].body).group(1)).url

    response = client.post(set_password_url, {"new_password1": "password123", "new_password2": "password123"})

    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert b"errorlist" in response.content


def test_an_unknown_email_gets_the_same_done_page_and_no_email(client):
    response = request_reset(client, "nobody@example.com")

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert mail.outbox == []
    assert client.get(response.url).status_code == 200


def test_an_invalid_email_rerenders_the_form_with_errors(client):
    response = request_reset(client, "not-an-email")
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert b'<form class="card stack" method="post" action="/accounts/password-reset/"' in response.content
