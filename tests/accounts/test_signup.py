import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.urls import reverse

from accounts.services import DUPLICATE_EMAIL_ERROR
from storefront.accounts.views import WELCOME_MESSAGE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
GOOD_PASSWORD = "a-long uncommon passphrase 42"


def signup(client, email="new@example.com", password1=GOOD_PASSWORD, password2=None, **extra):
    data = {"email": email, "password1": password1, "password2": password1 if password2 is None else password2}
    return client.post(reverse("accounts:signup") + extra.pop("query", ""), data, **extra)


def test_it_shows_the_signup_form(client):
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == 200
    assert b'<form class="card stack" method="post" action="/accounts/signup/"' in response.content


def test_it_creates_the_user_and_logs_them_in(client):
    response = signup(client, email="new@example.com")

    assert response.status_code == 302
    assert response.url == reverse("catalog:home")
    user = User.objects.get(email="new@example.com")
    assert user.username == "new@example.com"
    assert user.check_password(GOOD_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_it_welcomes_the_new_user(client):
    response = signup(client, follow=True)
    assert WELCOME_MESSAGE in [str(m) for m in response.context["messages"]]


def test_it_fires_user_logged_in_so_the_guest_cart_is_merged(client):
    logged_in = []

    def receiver(sender, request, user, **kwargs):
        logged_in.append(user.email)

    user_logged_in.connect(receiver)
    try:
        signup(client, email="cart@example.com")
    finally:
        user_logged_in.disconnect(receiver)
    assert logged_in == ["cart@example.com"]


def test_it_redirects_to_a_safe_next(client):
    response = signup(client, query="?next=/cart/")
    assert response.status_code == 302
    assert response.url == "/cart/"


def test_it_ignores_an_offsite_next(client):
    response = signup(client, query="?next=https://evil.example.net/")
    assert response.status_code == 302
    assert response.url == reverse("catalog:home")


def test_it_carries_next_through_the_form(client):
    response = client.get(reverse("accounts:signup") + "?next=/cart/")
    assert b'name="next" value="/cart/"' in response.content


def test_it_rejects_an_email_taken_in_another_case(client):
    UserFactory(email="taken@example.com")

    response = signup(client, email="Taken@Example.COM")

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [DUPLICATE_EMAIL_ERROR]
    assert User.objects.count() == 1
    assert "_auth_user_id" not in client.session


def test_it_sends_a_signed_in_user_away(client):
    client.force_login(UserFactory())
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == 302
    assert response.url == reverse("catalog:home")


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "", "password1": "", "password2": ""}, "email"),
        ({"email": "", "password1": "", "password2": ""}, "password1"),
        ({"email": "a@example.com", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD + "x"}, "password2"),
        ({"email": "not-an-email", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}, "email"),
        ({"email": "a@example.com", "password1": "password123", "password2": "password123"}, "password2"),
        ({"email": "a@example.com", "password1": "short", "password2": "short"}, "password2"),
        # username mirrors email and is 150 characters at most.
        ({"email": "a" * 140 + "@example.com", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}, "email"),
    ],
    ids=["empty-email", "empty-password", "mismatch", "invalid-email", "too-common", "too-short", "too-long"],
)
def test_it_rerenders_bad_input_with_errors(client, data, field):
    response = client.post(reverse("accounts:signup"), data)

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert b"errorlist" in response.content
    assert not User.objects.exists()


def test_it_turns_a_lost_race_for_the_email_into_a_form_error(client, monkeypatch):
    # Another sign-up with the same address commits after every check has passed, just
    # before our insert: the unique index refuses it and the shopper sees a form error.
    from storefront.accounts.forms import SignUpForm

    original_clean_email = SignUpForm.clean_email

    def clean_email_then_lose_the_race(form):
        email = original_clean_email(form)
        UserFactory(email=email)
        return email

    monkeypatch.setattr(SignUpForm, "clean_email", clean_email_then_lose_the_race)
    monkeypatch.setattr(SignUpForm, "validate_unique", lambda form: None)
    monkeypatch.setattr(User, "validate_constraints", lambda user, exclude=None: None)

    response = signup(client, email="race@example.com")

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [DUPLICATE_EMAIL_ERROR]
    assert User.objects.count() == 1
    assert "_auth_user_id" not in client.session
