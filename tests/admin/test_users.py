"""Users in the admin sign in with their email address: no username anywhere. Deleting a
user runs the account-deletion flow (orders kept, anonymised); staff can download a
customer's personal data."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from cart.models import Cart
from orders.models import OrderEvent
from tests.accounts.helpers import customer_with_history, order_of
from tests.factories import UserFactory, stocked_variant

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


def test_staff_record_marketing_consent_with_its_date_and_tags(staff_client):
    user = UserFactory(email="ann@example.com")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    data = {"email": user.email, "is_active": "on", "accepts_marketing": "on", "tags": "VIP, newsletter"}

    assert staff_client.post(url, data).status_code == 302
    user.refresh_from_db()
    assert user.accepts_marketing and user.marketing_consent_at is not None
    assert user.tags == "VIP, newsletter"

    staff_client.post(url, {**data, "accepts_marketing": ""})
    user.refresh_from_db()
    assert not user.accepts_marketing and user.marketing_consent_at is None


def test_the_origin_filter_finds_imported_customers_still_without_a_password(staff_client):

    invited = UserFactory(email="imported@example.com", imported_at=timezone.now())
    invited.set_unusable_password()
    invited.save()
    UserFactory(email="imported-with-password@example.com", imported_at=timezone.now())
    UserFactory(email="here@example.com")
    changelist = reverse("admin:accounts_user_changelist")

    def listed(origin):
        return {u.email for u in staff_client.get(changelist, {"origin": origin}).context["cl"].result_list}

    assert listed("no_password") == {"imported@example.com"}
    assert listed("imported") == {"imported@example.com", "imported-with-password@example.com"}
    assert "here@example.com" in listed("here") and "imported@example.com" not in listed("here")


# Deleting a customer and their personal data ------------------------------------------------


def test_staff_delete_a_customer_who_had_a_cart_and_the_orders_are_kept_anonymised(staff_client, staff):
    user, _variant, order = customer_with_history()
    url = reverse("admin:accounts_user_delete", args=[user.pk])

    confirm = staff_client.get(url)
    response = staff_client.post(url, {"post": "yes"})

    assert confirm.status_code == 200 and not confirm.context["perms_lacking"]
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Cart.objects.filter(user_id=user.pk).exists()
    order.refresh_from_db()
    assert (order.user_id, order.shipping_name, order.shipping_country) == (None, "Deleted", "GB")
    assert order.email.endswith("@deleted.invalid")
    assert order.events.get(type=OrderEvent.Type.NOTE).actor == staff


def test_the_delete_selected_action_runs_the_same_flow(staff_client):
    ada, _variant, ada_order = customer_with_history("ada@example.com")
    bob, _variant, _order = customer_with_history("bob@example.com")

    response = staff_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [ada.pk, bob.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[ada.pk, bob.pk]).exists()
    ada_order.refresh_from_db()
    assert ada_order.user_id is None and ada_order.shipping_name == "Deleted"


def test_a_customer_with_an_order_awaiting_payment_cannot_be_deleted_until_it_is_dealt_with(staff_client):
    user, _variant, _order = customer_with_history()
    waiting = order_of(user, stocked_variant(on_hand=3))
    url = reverse("admin:accounts_user_delete", args=[user.pk])

    confirm = staff_client.get(url)
    staff_client.post(url, {"post": "yes"})

    assert any(waiting.number in str(item) for item in confirm.context["protected"])
    assert User.objects.filter(pk=user.pk).exists()
    waiting.refresh_from_db()
    assert waiting.user_id == user.pk and waiting.shipping_name == "Ada Lovelace"


def test_staff_download_a_customers_personal_data(staff_client):
    user, _variant, order = customer_with_history()

    response = staff_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "download_personal_data", "_selected_action": [user.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["profile"]["email"] == user.email
    assert [o["number"] for o in data["orders"]] == [order.number]
