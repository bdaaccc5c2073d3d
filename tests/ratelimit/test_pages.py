"""Rate limits on the HTML pages: the 11th sign-in in 15 minutes is refused with 429 and
Retry-After, per address and per account; stock operations and webhooks have their tiers;
staff get more room in the admin."""

import pytest
from django.test import Client

from tests.i18n import german
from tests.ratelimit.conftest import PASSWORD, assert_limited

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _login(client, email, password="wrong password", ip="203.0.113.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_the_eleventh_login_attempt_from_one_address_is_refused_with_429(client, user):
    for n in range(10):
        # Different accounts: only the per-address limit can stop these.
        assert _login(client, f"guess{n}@example.com").status_code == 200
    response = _login(client, user.email, password=PASSWORD)
    assert_limited(response)
    assert b"Too many requests" in response.content
    assert "_auth_user_id" not in client.session  # the right password did not get in


def test_the_eleventh_password_guess_on_the_delete_account_page_is_refused_and_deletes_nothing(client, user):
    client.force_login(user)
    for n in range(10):
        response = client.post(
            "/accounts/delete/", {"password": f"guess {n}", "confirm": "on"}, REMOTE_ADDR=f"198.51.100.{n + 1}"
        )
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"}, REMOTE_ADDR="198.51.100.200")
    assert_limited(response)
    user.refresh_from_db()  # still there: the right password did not get through


def test_the_eleventh_old_password_guess_on_the_password_change_page_is_refused(client, user):
    client.force_login(user)
    new = {"new_password1": "a brand new passphrase 9", "new_password2": "a brand new passphrase 9"}
    for n in range(10):
        response = client.post(
            "/accounts/password/change/", {"old_password": f"guess {n}", **new}, REMOTE_ADDR=f"198.51.100.{n + 1}"
        )
        assert response.status_code == 200  # the form again, with its error
    response = client.post(
        "/accounts/password/change/", {"old_password": PASSWORD, **new}, REMOTE_ADDR="198.51.100.200"
    )
    assert_limited(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # the right password did not get through


def test_the_eleventh_login_attempt_on_one_account_from_many_addresses_is_refused(client, user):
    for n in range(10):
        assert _login(client, user.email, ip=f"198.51.100.{n + 1}").status_code == 200
    assert_limited(_login(client, user.email, password=PASSWORD, ip="198.51.100.200"))


def test_the_account_limit_ignores_the_case_of_the_email(client, user):
    for n in range(10):
        _login(client, user.email.upper() if n % 2 else user.email, ip=f"198.51.100.{n + 1}")
    assert_limited(_login(client, user.email, ip="198.51.100.200"))


def test_viewing_the_login_page_is_not_counted(client, user):
    for _ in range(20):
        assert client.get(LOGIN).status_code == 200
    assert _login(client, user.email, password=PASSWORD).status_code == 302


def test_sign_up_and_password_reset_share_the_auth_limit(client):
    for n in range(5):
        client.post("/accounts/signup/", {"email": f"new{n}@example.com"})
        client.post("/accounts/password-reset/", {"email": f"new{n}@example.com"})
    assert_limited(client.post("/accounts/password-reset/", {"email": "another@example.com"}))


def test_the_general_limit_covers_every_other_form(client, db, settings):
    settings.RATELIMIT_GENERAL = "3/15m"
    for _ in range(3):
        client.post("/checkout/voucher/remove/")
    assert_limited(client.post("/checkout/voucher/remove/"))


def test_the_429_page_is_in_the_shoppers_language(client, db, settings):
    settings.RATELIMIT_GENERAL = "1/15m"
    client.post("/checkout/voucher/remove/")
    entries = {
        "Too many requests": "Zu viele Anfragen",
        "Too many requests. Please wait a little and try again.": "Bitte warten Sie kurz.",
    }
    with german(entries):
        response = client.post("/checkout/voucher/remove/", HTTP_ACCEPT_LANGUAGE="de")
    assert_limited(response)
    page = response.content.decode()
    assert "Bitte warten Sie kurz." in page and "Zu viele Anfragen" in page
    assert "Too many" not in page and "Please wait" not in page


def test_other_addresses_are_not_affected(shopper, variant, settings):
    settings.STOCK_RESERVE_ON = "cart"  # adding to the cart takes stock (tests/ratelimit/test_stock_tier.py)
    settings.RATELIMIT_STOCK = "2/15m"
    for _ in range(2):
        shopper.add(variant)
    assert_limited(shopper.add(variant))
    other = Client(REMOTE_ADDR="192.0.2.50")
    response = other.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 1})
    assert response.status_code == 302


def test_webhooks_have_their_own_limit(client, db, settings):
    settings.RATELIMIT_WEBHOOK = "5/15m"
    settings.RATELIMIT_GENERAL = "2/15m"  # webhooks are not counted against the general tier
    for _ in range(5):
        assert client.post("/payments/webhooks/stripe/", b"{}", content_type="application/json").status_code != 429
    assert_limited(client.post("/payments/webhooks/stripe/", b"{}", content_type="application/json"))


def test_staff_get_the_higher_staff_limit_in_the_admin(client, db, settings):
    from tests.factories import UserFactory

    settings.RATELIMIT_GENERAL = "2/15m"
    settings.RATELIMIT_STAFF = "5/15m"
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = f"/{settings.ADMIN_URL}catalog/category/add/"
    for n in range(5):
        assert client.post(url, {"name": f"Category {n}", "slug": f"category-{n}"}).status_code != 429
    assert_limited(client.post(url, {"name": "One more", "slug": "one-more"}))
