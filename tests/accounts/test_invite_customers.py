"""invite_customers: imported customers without a password get one email each with a link to
choose one (CUSTOMER_INVITE_DAYS), through the real command, task and page."""

import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
from anymail.exceptions import AnymailAPIError
from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.services import CustomerInviteTokenGenerator, customer_invite
from accounts.tasks import send_customer_invite, send_welcome_email
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "a brand new passphrase 77"
LINK = re.compile(r"https?://\S+(/accounts/welcome/\S+/)")


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


class AnymailRefusingBackend(BaseEmailBackend):
    """An email service provider answering with an error."""

    def send_messages(self, email_messages):
        raise AnymailAPIError("ESP API response 503: Service Unavailable")


def imported(email: str, **fields):
    """A customer as import_customers leaves one without a password hash: no usable password."""
    user = User.objects.create_user(email=email, password=None, imported_at=timezone.now(), **fields)
    assert not user.has_usable_password()
    return user


def invite(capture, *args) -> str:
    """Runs invite_customers with `args`, its queued emails sent once each invitation commits
    (eager Celery); returns what it printed."""
    out = StringIO()
    with capture(execute=True):
        call_command("invite_customers", *args, stdout=out)
    return out.getvalue()


def invited_at(user):
    user.refresh_from_db(fields=["invited_at"])
    return user.invited_at


def link_in(message) -> str:
    return LINK.search(message.body).group(1)


def test_only_imported_active_customers_without_a_password_are_invited(mailoutbox, django_capture_on_commit_callbacks):
    ada = imported("ada@example.com", first_name="Ada")
    blank = imported("blank@example.com")
    User.objects.filter(pk=blank.pk).update(password="")  # no hash at all
    with_password = UserFactory(email="has-password@example.com", imported_at=timezone.now())
    signed_up = User.objects.create_user(email="signed-up@example.com", password=None)  # not imported
    inactive = imported("gone@example.com", is_active=False)
    staff = imported("staff@example.com", is_staff=True)

    output = invite(django_capture_on_commit_callbacks)

    assert sorted(message.to[0] for message in mailoutbox) == ["ada@example.com", "blank@example.com"]
    assert "2 customer(s) invited (links good for 14 days); 0 never invited yet." in output
    assert invited_at(ada) is not None and invited_at(blank) is not None
    assert [invited_at(user) for user in (with_password, signed_up, inactive, staff)] == [None] * 4


def test_the_email_names_the_shop_the_move_the_orders_the_link_and_its_expiry(
    mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.CUSTOMER_INVITE_DAYS = 10
    ada = imported("ada@example.com", first_name="Ada")

    invite(django_capture_on_commit_callbacks)

    [message] = mailoutbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Your account has moved to Small Shop: choose a password"
    expires = timezone.localtime(invited_at(ada) + timedelta(days=10))
    expiry = f"{expires.day} {expires:%B %Y, %H:%M}"
    for text in (message.body, message.alternatives[0][0]):
        assert "Hello Ada," in text
        assert "Small Shop has moved to a new online shop" in text
        assert "ada@example.com" in text
        assert "your past orders are in your order history" in text
        assert "http://localhost:8000/orders/" in text
        assert "http://localhost:8000/accounts/password-reset/" in text
        assert "for 10 days, until" in text and expiry in text
        assert "http://localhost:8000" + link_in(message) in text
    assert message.alternatives[0][1] == "text/html"


GERMAN_MONTHS = (
    *("Januar", "Februar", "März", "April", "Mai", "Juni"),
    *("Juli", "August", "September", "Oktober", "November", "Dezember"),
)


def test_a_german_customer_reads_the_link_s_expiry_as_germans_write_dates(
    mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.CUSTOMER_INVITE_DAYS = 10
    ada = imported("ada@example.com", first_name="Ada", language="de")

    invite(django_capture_on_commit_callbacks)

    [message] = mailoutbox
    expires = timezone.localtime(invited_at(ada) + timedelta(days=10))
    expiry = f"{expires.day}. {GERMAN_MONTHS[expires.month - 1]} {expires.year}, {expires:%H:%M} {expires:%Z}"
    for text in (message.body, message.alternatives[0][0]):
        assert expiry in text
        assert f"{expires.day} {expires:%B %Y, %H:%M}" not in text  # the English date


def test_each_customer_is_invited_once_and_again_sends_a_new_link(mailoutbox, django_capture_on_commit_callbacks):
    ada = imported("ada@example.com")
    invite(django_capture_on_commit_callbacks)
    first = invited_at(ada)

    output = invite(django_capture_on_commit_callbacks)

    assert "0 customer(s) invited" in output
    assert len(mailoutbox) == 1 and invited_at(ada) == first

    invite(django_capture_on_commit_callbacks, "--again")

    assert [message.to for message in mailoutbox] == [["ada@example.com"], ["ada@example.com"]]
    assert invited_at(ada) > first
    assert link_in(mailoutbox[1]).startswith("/accounts/welcome/")


def test_limit_caps_the_run_and_the_next_run_invites_the_rest(mailoutbox, django_capture_on_commit_callbacks):
    customers = [imported(f"c{n}@example.com") for n in range(3)]

    output = invite(django_capture_on_commit_callbacks, "--limit", "2")

    assert "2 customer(s) invited (links good for 14 days); 1 never invited yet." in output
    assert [message.to[0] for message in mailoutbox] == ["c0@example.com", "c1@example.com"]
    assert invited_at(customers[2]) is None

    invite(django_capture_on_commit_callbacks, "--limit", "2")

    assert [message.to[0] for message in mailoutbox][2:] == ["c2@example.com"]


def test_dry_run_lists_who_would_be_invited_and_sends_and_writes_nothing(
    mailoutbox, django_capture_on_commit_callbacks
):
    customers = [imported(f"c{n}@example.com") for n in range(3)]
    UserFactory(email="has-password@example.com", imported_at=timezone.now())

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("invite_customers", "--dry-run", "--limit", "2", stdout=out)

    assert out.getvalue().splitlines() == [
        "c0@example.com",
        "c1@example.com",
        "Dry run: 2 customer(s) would be invited (links good for 14 days); nothing sent.",
    ]
    assert callbacks == [] and mailoutbox == []
    assert [invited_at(user) for user in customers] == [None] * 3


def test_a_negative_limit_is_refused():
    with pytest.raises(CommandError, match="--limit"):
        call_command("invite_customers", "--limit", "-1")


# -- the page --------------------------------------------------------------------------------


def test_the_link_sets_the_password_signs_in_and_lands_on_the_account_page(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    ada = imported("ada@example.com")
    invite(django_capture_on_commit_callbacks)
    path = link_in(mailoutbox[0])

    # Like Django's reset: the token moves from the URL to the session before the form shows.
    response = client.get(path)
    assert response.status_code == 302
    set_password_url = response.url
    assert set_password_url.endswith("/set-password/")
    response = client.get(set_password_url)
    assert response.status_code == 200
    assert b"<title>Welcome to Small Shop: choose a password</title>" in response.content
    assert b"ada@example.com" in response.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("accounts:account")
    assert client.session["_auth_user_id"] == str(ada.pk)
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"Your password is set and you are logged in. Welcome to Small Shop!" in page.content
    ada.refresh_from_db()
    assert ada.check_password(NEW_PASSWORD)
    assert ada.email_verified_at is not None  # the link came to that address

    # The link has done its work: it opens nothing any more, for anyone.
    client.logout()
    response = client.get(path, follow=True)
    assert response.context["validlink"] is False
    assert response.context["link_state"] == "invalid"
    assert b"This link no longer works" in response.content
    assert reverse("accounts:password_reset").encode() in response.content
    # And the password is the one chosen, for the login page too.
    response = client.post(reverse("accounts:login"), {"username": "ada@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_a_weak_password_is_refused_and_the_link_still_works(client, mailoutbox, django_capture_on_commit_callbacks):
    ada = imported("ada@example.com")
    invite(django_capture_on_commit_callbacks)
    set_password_url = client.get(link_in(mailoutbox[0])).url

    response = client.post(set_password_url, {"new_password1": "password123", "new_password2": "password123"})

    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    ada.refresh_from_db()
    assert not ada.has_usable_password()
    assert "_auth_user_id" not in client.session
    assert client.get(set_password_url).context["validlink"] is True


def test_a_password_reset_link_does_not_open_the_invitation_page(client):
    from django.contrib.auth.tokens import default_token_generator

    ada = imported("ada@example.com")
    uid = urlsafe_base64_encode(force_bytes(ada.pk))
    path = reverse("accounts:customer_invite", args=[uid, default_token_generator.make_token(ada)])

    response = client.get(path)

    assert response.status_code == 200 and response.context["validlink"] is False


class MadeDaysAgo(CustomerInviteTokenGenerator):
    """The invitation token generator with its clock (Django's hook for tests) `days` back."""

    def __init__(self, days: float):
        super().__init__()
        self.days = days

    def _now(self):
        # Naive local time, as Django's own _now.
        return datetime.now() - timedelta(days=self.days)  # noqa: DTZ005


def invite_path(user, token: str) -> str:
    return reverse("accounts:customer_invite", args=[urlsafe_base64_encode(force_bytes(user.pk)), token])


def test_an_expired_link_is_refused_with_a_way_to_a_new_one(client, settings):
    settings.CUSTOMER_INVITE_DAYS = 14
    ada = imported("ada@example.com")
    path = invite_path(ada, MadeDaysAgo(14.01).make_token(ada))

    response = client.get(path)

    assert response.status_code == 200
    assert response.context["validlink"] is False and response.context["link_state"] == "expired"
    assert b"This link has expired" in response.content
    assert b"work for 14 days" in response.content
    assert b"Send me a new link" in response.content and b"/accounts/password-reset/" in response.content
    assert b"new_password1" not in response.content
    # Nothing to post to either: the set-password step needs a valid token in the session.
    response = client.post(
        path.rsplit("/", 2)[0] + "/set-password/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.context["validlink"] is False
    ada.refresh_from_db()
    assert not ada.has_usable_password()


def test_the_number_of_days_comes_from_the_setting(client, settings):
    ada = imported("ada@example.com")
    path = invite_path(ada, MadeDaysAgo(13.9).make_token(ada))

    settings.CUSTOMER_INVITE_DAYS = 14
    assert client.get(path).status_code == 302  # on to the form

    settings.CUSTOMER_INVITE_DAYS = 13
    assert client.get(path).context["link_state"] == "expired"


def test_an_expired_invitation_gets_a_new_link_through_the_ordinary_password_reset(client, mailoutbox):
    ada = imported("ada@example.com")
    other = User.objects.create_user(email="not-imported@example.com", password=None)

    client.post(reverse("accounts:password_reset"), {"email": "ADA@example.com"})
    client.post(reverse("accounts:password_reset"), {"email": other.email})

    [message] = mailoutbox  # Django's rule stays for accounts that were not imported
    assert message.to == ["ada@example.com"]
    path = re.search(r"https?://testserver(/\S+)", message.body).group(1)
    set_password_url = client.get(path).url
    client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    ada.refresh_from_db()
    assert ada.check_password(NEW_PASSWORD)


# -- the task --------------------------------------------------------------------------------


def test_the_task_shares_the_account_emails_retry_policy():
    for option in ("autoretry_for", "retry_backoff", "retry_backoff_max", "retry_jitter", "max_retries"):
        assert getattr(send_customer_invite, option) == getattr(send_welcome_email, option)


@pytest.mark.parametrize("backend", ["RefusingBackend", "AnymailRefusingBackend"])
def test_a_failed_send_is_retried_and_the_invitation_is_sent_once(
    mailoutbox, django_capture_on_commit_callbacks, settings, backend
):
    ada = imported("ada@example.com")
    # Committed and queued, not yet sent: as a worker finds it.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        stamp = customer_invite(user_pk=ada.pk)
    assert len(queued) == 1 and invited_at(ada) == stamp
    settings.EMAIL_BACKEND = f"tests.accounts.test_invite_customers.{backend}"

    # Eager here, so Celery hands the retry back as an exception instead of queueing it.
    with pytest.raises(Retry):
        send_customer_invite.delay(ada.pk, stamp.isoformat())

    assert mailoutbox == [] and invited_at(ada) == stamp  # the claim released for the retry
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_customer_invite.delay(ada.pk, stamp.isoformat()).get() == 1
    # Delivered once more (a worker lost before its ack): nothing more is sent.
    assert send_customer_invite.delay(ada.pk, stamp.isoformat()).get() == 0
    assert len(mailoutbox) == 1
    assert invited_at(ada) > stamp  # the moment it was sent


def test_an_invitation_left_queued_by_a_crash_is_not_queued_again(mailoutbox, django_capture_on_commit_callbacks):
    ada = imported("ada@example.com")
    with django_capture_on_commit_callbacks(execute=False):
        stamp = customer_invite(user_pk=ada.pk)

    # The process died after the commit: a new run finds the invitation recorded.
    output = invite(django_capture_on_commit_callbacks)

    assert "0 customer(s) invited" in output and mailoutbox == []
    assert send_customer_invite.delay(ada.pk, stamp.isoformat()).get() == 1
    assert len(mailoutbox) == 1


def test_a_superseded_or_no_longer_needed_invitation_sends_nothing(mailoutbox, django_capture_on_commit_callbacks):
    ada = imported("ada@example.com")
    with django_capture_on_commit_callbacks(execute=False):
        old = customer_invite(user_pk=ada.pk)
        new = customer_invite(user_pk=ada.pk, again=True)

    assert send_customer_invite.delay(ada.pk, old.isoformat()).get() == 0
    ada.set_password(NEW_PASSWORD)
    ada.save()
    assert send_customer_invite.delay(ada.pk, new.isoformat()).get() == 0
    assert mailoutbox == []


def test_the_api_password_reset_mails_an_imported_customer_without_a_password(mailoutbox):
    from rest_framework.test import APIClient

    imported("ada@example.com")

    response = APIClient().post("/api/v1/auth/password-reset/", {"email": "ada@example.com"}, format="json")

    assert response.status_code == 202
    [message] = mailoutbox
    assert message.to == ["ada@example.com"] and "/accounts/password-reset/confirm/" in message.body
