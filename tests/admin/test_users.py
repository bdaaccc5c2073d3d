"""Users in the admin sign in with their email address: no username anywhere."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
ADD = reverse("admin:accounts_user_add")
PASSWORD = "a long and unusual passphrase 42"


def test_staff_adds_a_user_with_email_and_password(staff_client):
    response = staff_client.post(
        ADD, {"email": "new.clerk@Example.COM", "usable_password": "true", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.clerk@example.com")
    assert user.username == user.email
    assert user.check_password(PASSWORD)


def test_the_add_form_asks_for_email_and_passwords_only(staff_client):
    form = staff_client.get(ADD).context["adminform"].form
    assert "username" not in form.fields
    assert {"email", "password1", "password2"} <= set(form.fields)


def test_an_email_differing_only_in_case_is_refused(staff_client):
    UserFactory(email="ann@example.com")
    response = staff_client.post(
        ADD, {"email": "ANN@example.com", "usable_password": "true", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.count() == 2  # ann and the staff user


def test_mismatched_passwords_are_refused(staff_client):
    response = staff_client.post(
        ADD, {"email": "bob@example.com", "usable_password": "true", "password1": PASSWORD, "password2": PASSWORD + "!"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="bob@example.com").exists()


def test_changing_the_email_changes_the_login(staff_client):
    user = UserFactory(email="old@example.com")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    form = staff_client.get(url).context["adminform"].form
    assert "username" not in form.fields
    response = staff_client.post(
        url, {"email": "new@example.com", "first_name": "", "last_name": "", "is_active": "on"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.email, user.username) == ("new@example.com", "new@example.com")


def test_users_can_be_searched_by_email(staff_client):
    UserFactory(email="findme@example.com")
    UserFactory(email="other@example.com")
    cl = staff_client.get(reverse("admin:accounts_user_changelist"), {"q": "findme"}).context["cl"]
    assert [u.email for u in cl.result_list] == ["findme@example.com"]
