import pytest
from django.urls import reverse

from storefront.accounts.forms import INVALID_LOGIN_ERROR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's


def login(client, email, password, query=""):
    return client.post(reverse("accounts:login") + query, {"username": email, "password": password})


def test_it_labels_the_username_field_email(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert response.context["form"].fields["username"].label == "Email"
    assert b'<form class="card stack" method="post" action="/accounts/login/"' in response.content


def test_it_logs_in_with_email_and_password(client):
    user = UserFactory(email="ann@example.com")
    response = login(client, "ann@example.com", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("catalog:home")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_it_accepts_the_email_in_any_case(client):
    user = UserFactory(email="ann@example.com")
    login(client, "ANN@Example.com", PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_it_follows_a_safe_next(client):
    UserFactory(email="ann@example.com")
    response = login(client, "ann@example.com", PASSWORD, query="?next=/cart/")
    assert response.url == "/cart/"


def test_a_wrong_password_gets_a_generic_error(client):
    UserFactory(email="ann@example.com")
    response = login(client, "ann@example.com", "wrong password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [INVALID_LOGIN_ERROR]
    assert "_auth_user_id" not in client.session


def test_an_unknown_email_gets_the_same_error_as_a_wrong_password(client):
    response = login(client, "nobody@example.com", "whatever")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [INVALID_LOGIN_ERROR]


def test_a_disabled_account_gets_the_same_error(client):
    UserFactory(email="gone@example.com", is_active=False)
    response = login(client, "gone@example.com", PASSWORD)
    assert response.context["form"].non_field_errors() == [INVALID_LOGIN_ERROR]


def test_empty_input_rerenders_with_errors(client):
    response = login(client, "", "")
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"username", "password"}


def test_it_sends_a_signed_in_user_away(client):
    client.force_login(UserFactory())
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 302


def test_logout_rejects_get(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("accounts:logout"))
    assert response.status_code == 405
    assert client.session["_auth_user_id"] == str(user.pk)


def test_logout_by_post_signs_out_and_goes_home(client):
    client.force_login(UserFactory())
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == reverse("catalog:home")
    assert "_auth_user_id" not in client.session
