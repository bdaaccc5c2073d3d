"""The account area's pages: the overview, the profile (a changed email follows sign-up's
verification rules), the password change and the privacy page. Every page needs a login."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import AccountError, address_create, email_verification_token, user_email_change
from accounts.tasks import send_email_verification
from tests.accounts.helpers import PASSWORD, order_of
from tests.factories import UserFactory, stocked_variant

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a different and long passphrase 7"


@pytest.fixture
def user():
    return UserFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def profile_data(**overrides):
    return {"first_name": "Ada", "last_name": "King", "email": "ada@example.com", "phone": "", **overrides}


@pytest.mark.parametrize(
    "name",
    ["account", "profile", "password_change", "addresses", "address_add", "privacy", "delete"],
)
def test_every_page_of_the_account_area_sends_a_guest_to_log_in(client, name):
    response = client.get(reverse(f"accounts:{name}"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


@pytest.mark.parametrize("name", ["account", "profile", "password_change", "addresses", "privacy"])
def test_every_page_shows_the_account_navigation_with_its_own_item_current(signed_in, name):
    page = signed_in.get(reverse(f"accounts:{name}")).content.decode()

    assert 'aria-label="Account area"' in page
    for target in ("accounts:profile", "orders:list", "accounts:addresses", "accounts:password_change"):
        assert f'href="{reverse(target)}"' in page
    assert f'href="{reverse("accounts:privacy")}"' in page
    assert f'action="{reverse("accounts:logout")}"' in page
    assert page.count('aria-current="page"') == 1
    assert f'<a href="{reverse(f"accounts:{name}")}" aria-current="page">' in page


def test_the_overview_shows_the_profile_the_default_address_and_the_latest_orders(signed_in, user):
    address_create(
        user=user, name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1 9GU", country="GB"
    )
    variant = stocked_variant(on_hand=10)
    orders = [order_of(user, variant) for _ in range(4)]

    page = signed_in.get(reverse("accounts:account")).content.decode()

    assert "Ada Lovelace" in page and "ada@example.com" in page
    assert "12 Analytical Row" in page and "United Kingdom" in page
    shown = [order.number for order in orders if order.number in page]
    assert len(shown) == 3  # the latest three, and a link to all of them
    assert f'href="{reverse("orders:list")}"' in page


# -- profile --------------------------------------------------------------------------------


def test_the_profile_form_is_filled_in_with_the_account(signed_in, user):
    User.objects.filter(pk=user.pk).update(phone="+442079460000")

    page = signed_in.get(reverse("accounts:profile")).content.decode()

    assert 'value="Ada"' in page and 'value="Lovelace"' in page and 'value="ada@example.com"' in page
    assert "+442079460000" in page or "+44 20 7946 0000" in page


def test_saving_names_and_a_phone_keeps_the_email_verified_and_sends_nothing(
    signed_in, user, mailoutbox, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("accounts:profile"), profile_data(phone="+44 20 7946 0000"))

    assert response.status_code == 302 and response["Location"] == reverse("accounts:profile")
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Ada", "King")
    assert str(user.phone) == "+442079460000"  # stored E.164
    assert user.email_verified_at is not None
    assert mailoutbox == []
    assert "Your profile is saved." in signed_in.get(response["Location"]).content.decode()


def test_a_phone_typed_nationally_is_read_as_the_default_address_country(signed_in, user):
    address_create(user=user, name="Ada Lovelace", line1="1 Main St", city="London", postal_code="N1 9GU", country="GB")

    signed_in.post(reverse("accounts:profile"), profile_data(phone="020 7946 0000"))

    user.refresh_from_db()
    assert str(user.phone) == "+442079460000"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "Enter a valid phone number"),
        ({"email": "not an email"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "This field is required."),
        ({"first_name": "x" * 151}, "first_name", "at most 150 characters"),
    ],
)
def test_an_invalid_profile_shows_the_field_error_and_changes_nothing(signed_in, user, data, field, message):
    response = signed_in.post(reverse("accounts:profile"), profile_data(**data))

    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert message in response.content.decode()
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.email, str(user.phone)) == ("Ada", "Lovelace", "ada@example.com", "")


def test_an_email_of_another_account_in_any_letter_case_is_refused_and_changes_nothing(signed_in, user):
    UserFactory(email="grace@example.com")

    response = signed_in.post(reverse("accounts:profile"), profile_data(email="Grace@Example.COM"))

    assert response.status_code == 200
    assert "An account with this email address already exists" in response.content.decode()
    user.refresh_from_db()
    assert (user.email, user.last_name) == ("ada@example.com", "Lovelace")


def test_a_new_email_is_unverified_until_its_link_is_opened_and_the_old_address_is_told(
    signed_in, user, mailoutbox, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("accounts:profile"), profile_data(email="Ada.King@Example.com"))

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "Ada.King@example.com" and user.username == user.email  # the login too
    assert user.email_verified_at is None
    verification, notice = sorted(mailoutbox, key=lambda message: message.to != [user.email])
    assert verification.to == ["Ada.King@example.com"]
    assert notice.to == ["ada@example.com"]
    assert "Ada.King@example.com" not in notice.body  # the new address is only hinted at
    link = next(word for word in verification.body.split() if "/accounts/verify/" in word)
    assert "We have sent a link to Ada.King@example.com" in signed_in.get(response["Location"]).content.decode()

    assert signed_in.get(link.replace("http://localhost:8000", "")).status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_the_new_email_is_the_login_from_then_on(client, signed_in, user):
    signed_in.post(reverse("accounts:profile"), profile_data(email="ada.king@example.com"))

    fresh = Client()
    old = fresh.post(reverse("accounts:login"), {"username": "ada@example.com", "password": PASSWORD})
    new = fresh.post(reverse("accounts:login"), {"username": "ada.king@example.com", "password": PASSWORD})
    assert old.status_code == 200 and new.status_code == 302


def test_the_same_email_in_another_letter_case_stays_verified_and_sends_nothing(
    signed_in, user, mailoutbox, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("accounts:profile"), profile_data(email="ADA@example.com"))

    user.refresh_from_db()
    assert user.email == "ADA@example.com" and user.email_verified_at is not None
    assert mailoutbox == []


def test_the_profile_links_to_the_data_download_and_the_account_deletion(signed_in):
    page = signed_in.get(reverse("accounts:profile")).content.decode()

    assert f'href="{reverse("accounts:data")}"' in page and f'href="{reverse("accounts:delete")}"' in page


def test_the_privacy_page_links_to_the_data_download_and_the_account_deletion(signed_in):
    page = signed_in.get(reverse("accounts:privacy")).content.decode()

    assert f'href="{reverse("accounts:data")}"' in page and f'href="{reverse("accounts:delete")}"' in page


# -- password -------------------------------------------------------------------------------


def password_data(old=PASSWORD, new=NEW_PASSWORD, again=None):
    return {"old_password": old, "new_password1": new, "new_password2": again or new}


def test_changing_the_password_keeps_this_session_and_ends_the_others(signed_in, user):
    elsewhere = Client()
    elsewhere.force_login(user)

    response = signed_in.post(reverse("accounts:password_change"), password_data())

    assert response.status_code == 302 and response["Location"] == reverse("accounts:account")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    page = signed_in.get(response["Location"])
    assert page.status_code == 200  # still signed in here
    assert "Your password is changed." in page.content.decode()
    assert elsewhere.get(reverse("accounts:account")).status_code == 302  # signed out there


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (password_data(old="wrong password"), "old_password", "Your old password was entered incorrectly"),
        (password_data(again="something else entirely 9"), "new_password2", "didn’t match"),
        (password_data(new="short", again="short"), "new_password2", "too short"),
    ],
)
def test_a_refused_password_change_shows_the_field_error_and_keeps_the_password(signed_in, user, data, field, message):
    response = signed_in.post(reverse("accounts:password_change"), data)

    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_account_pages_refuse_a_post_without_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(reverse("accounts:profile"), profile_data(last_name="X")).status_code == 403
    assert client.post(reverse("accounts:password_change"), password_data()).status_code == 403
    user.refresh_from_db()
    assert user.last_name == "Lovelace" and user.check_password(PASSWORD)


def test_a_verification_link_sent_to_the_old_address_stops_working_after_the_change(signed_in, user):
    old_link = reverse("accounts:verify_email", args=[email_verification_token(user=user)])

    signed_in.post(reverse("accounts:profile"), profile_data(email="ada.king@example.com"))

    response = signed_in.get(old_link)
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_the_service_refuses_an_email_another_account_has_in_any_letter_case(user):
    UserFactory(email="grace@example.com")

    with pytest.raises(AccountError) as refused:
        user_email_change(user=user, email=" GRACE@example.com ")

    assert (refused.value.code, refused.value.field) == ("email_taken", "email")
    user.refresh_from_db()
    assert user.email == "ada@example.com"


def test_the_verification_email_is_not_sent_to_an_address_verified_meanwhile(user, mailoutbox):
    User.objects.filter(pk=user.pk).update(email_verified_at="2026-01-01T00:00:00Z")

    assert send_email_verification.delay(user.pk).get() == 0
    assert mailoutbox == []
