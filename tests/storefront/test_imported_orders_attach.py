"""A guest's imported orders become the account's once the person shows the mailbox is
theirs: the verification link, a password reset, an invitation (orders.services
.imported_orders_attach). Signing up with the address alone proves nothing and attaches
nothing."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.services import customer_invite_token, email_verification_token
from orders.importer import orders_import
from orders.models import Order
from tests.factories import UserFactory, stocked_variant
from tests.orders.helpers import place_order
from tests.orders.shopify import order_rows, write_orders

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long new secret 1234"
LINK = re.compile(r"https?://[^/\s]+(/\S+)")


@pytest.fixture
def imported(tmp_path):
    """#1001 and #1002 by ada@example.com as a guest, #1003 by someone else."""
    rows = [
        *order_rows("#1001", email="Ada@Example.com"),
        *order_rows("#1002", email="ada@example.com", created="2024-04-01 09:00:00 -0400"),
        *order_rows("#1003", email="bob@example.com", created="2024-05-01 09:00:00 -0400"),
    ]
    orders_import(paths=[write_orders(tmp_path / "orders.csv", rows)])
    return Order.objects.filter(imported_at__isnull=False)


def owned_numbers(user: User) -> set[str]:
    return set(Order.objects.filter(user=user).values_list("number", flat=True))


def test_the_verification_link_gives_the_account_its_imported_guest_orders(client, imported):
    user = UserFactory(email="ada@example.com")
    assert owned_numbers(user) == set()

    response = client.get(reverse("accounts:verify_email", args=[email_verification_token(user=user)]))

    assert response.status_code == 200
    assert owned_numbers(user) == {"#1001", "#1002"}
    assert imported.get(number="#1003").user is None


def test_signing_up_alone_attaches_nothing(client, imported):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "ada@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert owned_numbers(User.objects.get(email="ada@example.com")) == set()


def test_a_password_reset_from_the_mailbox_attaches_them(client, imported):
    user = UserFactory(email="ada@example.com")
    client.post(reverse("accounts:password_reset"), {"email": "ada@example.com"})
    path = LINK.search(mail.outbox[0].body).group(1)
    set_password_url = client.get(path).url

    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert owned_numbers(user) == {"#1001", "#1002"}


def test_the_invitation_page_attaches_them_and_the_order_history_lists_them(client, imported):
    user = UserFactory(email="ada@example.com")
    user.set_unusable_password()
    user.save()
    uid = urlsafe_base64_encode(str(user.pk).encode())
    path = reverse("accounts:customer_invite", args=[uid, customer_invite_token.make_token(user)])
    set_password_url = client.get(path).url

    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert owned_numbers(user) == {"#1001", "#1002"}
    history = client.get(reverse("orders:list")).content.decode()
    assert "#1001" in history and "#1002" in history and "#1003" not in history


def test_orders_placed_here_and_orders_of_another_account_stay_as_they_are(client, imported):
    other = UserFactory(email="someone@example.com")
    taken = imported.get(number="#1002")
    taken.user = other
    taken.save(update_fields=["user"])
    guest_order_here = place_order((stocked_variant(), 1))  # a guest's, ada@example.com
    user = UserFactory(email="ada@example.com")

    client.get(reverse("accounts:verify_email", args=[email_verification_token(user=user)]))

    assert owned_numbers(user) == {"#1001"}
    assert owned_numbers(other) == {"#1002"}
    guest_order_here.refresh_from_db()
    assert guest_order_here.user is None
