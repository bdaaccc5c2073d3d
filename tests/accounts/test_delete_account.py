"""A customer deletes their account (the page /accounts/delete/ or DELETE /api/v1/auth/me/),
confirming with their password: the account, addresses, cart, reviews, sessions and tokens
go; orders stay for the books, anonymised, and still count in the reports. Refused, with
nothing deleted, for a wrong password or while an order awaits payment or shipping."""

from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Address, User
from cart.models import Cart
from catalog.models import ProductReview
from inventory.models import BackInStockRequest, Reservation
from orders.models import Order, OrderEvent
from tests.factories import UserFactory, stocked_variant

from .helpers import PASSWORD, customer_with_history, order_of, paid_order_of

pytestmark = pytest.mark.django_db

DELETE = "/accounts/delete/"
ME = "/api/v1/auth/me/"


def api_sign_in(user) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def assert_tokens_dead(pair: dict) -> None:
    api = APIClient()
    refresh = api.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert (refresh.status_code, refresh.json()["error"]["code"]) == (401, "token_not_valid")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert api.get(ME).status_code == 401


def assert_account_gone(user, order: Order) -> None:
    """The account and its personal data are gone; the order stays, anonymised."""
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Address.objects.filter(user_id=user.pk).exists()
    assert not Cart.objects.filter(user_id=user.pk).exists()
    assert not ProductReview.objects.filter(user_id=user.pk).exists()
    assert not BackInStockRequest.objects.filter(email__iexact=user.email).exists()
    order.refresh_from_db()
    assert order.user_id is None
    assert order.email.startswith("deleted-") and order.email.endswith("@deleted.invalid")
    assert (order.shipping_name, order.shipping_line1, order.shipping_city) == ("Deleted", "Deleted", "Deleted")
    assert (order.shipping_line2, order.shipping_postal_code, order.shipping_phone) == ("", "", "")
    # Kept for the books: the country (tax is per country), the figures, the lines.
    assert order.shipping_country == "GB"
    assert order.total == Decimal("51.00")
    assert [line.quantity for line in order.lines.all()] == [2]
    assert order.events.filter(type=OrderEvent.Type.NOTE, note__icontains="deleted").exists()


# The page -----------------------------------------------------------------------------------


def test_the_page_says_what_goes_and_what_stays(client):
    user, _variant, _order = customer_with_history()
    client.force_login(user)

    response = client.get(DELETE)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Your orders stay in our books" in page
    assert {"password", "confirm"} <= set(response.context["form"].fields)


def test_the_page_needs_a_signed_in_customer(client):
    response = client.get(DELETE)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_password_and_the_box_delete_the_account_and_sign_the_browser_out(
    client, django_capture_on_commit_callbacks
):
    user, variant, order = customer_with_history()
    pair = api_sign_in(user)
    client.force_login(user)
    elsewhere = type(client)()
    elsewhere.force_login(user)  # the customer's other browser

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DELETE, {"password": PASSWORD, "confirm": "on"})

    assert response.status_code == 302
    assert response.url == reverse("catalog:home")
    assert_account_gone(user, order)
    assert_tokens_dead(pair)
    # Signed out here and in the other browser; no stored session names the account.
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("orders:list")).status_code == 302
    assert elsewhere.get(reverse("orders:list")).status_code == 302
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]
    # The cart's units are free again.
    assert not Reservation.objects.filter(owner__startswith="cart:", status=Reservation.Status.ACTIVE).exists()


def test_the_cart_hold_is_released_when_carts_hold_stock(client, settings):
    settings.STOCK_RESERVE_ON = "cart"
    user, variant, _order = customer_with_history()
    (cart,) = Cart.objects.filter(user=user)
    assert Reservation.objects.filter(owner=cart.reservation_owner, status=Reservation.Status.ACTIVE).exists()
    client.force_login(user)

    client.post(DELETE, {"password": PASSWORD, "confirm": "on"})

    assert not Reservation.objects.filter(owner=cart.reservation_owner, status=Reservation.Status.ACTIVE).exists()


def test_a_wrong_password_deletes_nothing(client):
    user, _variant, order = customer_with_history()
    client.force_login(user)

    response = client.post(DELETE, {"password": "not my password", "confirm": "on"})

    assert response.status_code == 200
    assert "That is not your current password." in response.context["form"].errors["password"]
    assert User.objects.filter(pk=user.pk).exists()
    order.refresh_from_db()
    assert order.user_id == user.pk and order.email == user.email


def test_the_box_must_be_ticked(client):
    user, _variant, _order = customer_with_history()
    client.force_login(user)

    response = client.post(DELETE, {"password": PASSWORD})

    assert response.status_code == 200
    assert "confirm" in response.context["form"].errors
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("make_order", [order_of, paid_order_of], ids=["awaiting payment", "paid, not shipped"])
def test_an_order_in_progress_stops_the_deletion_and_the_page_says_which(client, make_order):
    user, variant, _order = customer_with_history()
    waiting = make_order(user, stocked_variant(on_hand=3))
    client.force_login(user)

    page = client.get(DELETE).content.decode()
    response = client.post(DELETE, {"password": PASSWORD, "confirm": "on"})

    assert waiting.number in page
    assert response.status_code == 200
    assert waiting.number in " ".join(response.context["form"].non_field_errors())
    assert User.objects.filter(pk=user.pk).exists()
    assert Address.objects.filter(user=user).exists() and Cart.objects.filter(user=user).exists()
    assert not Order.objects.filter(user__isnull=True).exists()


def test_deleted_orders_still_count_in_the_sales_report(client):
    user, _variant, order = customer_with_history()
    client.force_login(user)
    client.post(DELETE, {"password": PASSWORD, "confirm": "on"})
    staff = type(client)()
    staff.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))

    report = staff.get(reverse("admin:orders_order_reports"))

    assert report.context["totals"]["orders"] == 1
    assert report.context["totals"]["revenue"] == order.total


def test_the_account_pages_link_to_the_data_download_and_the_deletion(client):
    user = UserFactory()
    client.force_login(user)

    home = client.get(reverse("catalog:home")).content.decode()
    account = client.get("/accounts/").content.decode()

    assert 'href="/accounts/"' in home
    assert 'href="/accounts/privacy/"' in account  # in the account navigation
    for path in ("/accounts/privacy/", "/accounts/profile/"):
        page = client.get(path).content.decode()
        assert 'href="/accounts/data/"' in page
        assert f'href="{DELETE}"' in page


# The API ------------------------------------------------------------------------------------


def test_delete_me_with_the_password_deletes_the_account_and_every_token(django_capture_on_commit_callbacks):
    user, _variant, order = customer_with_history()
    pair, other_device = api_sign_in(user), api_sign_in(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    assert_account_gone(user, order)
    assert_tokens_dead(pair)
    assert_tokens_dead(other_device)


def test_delete_me_with_a_wrong_password_is_400_and_deletes_nothing():
    user, _variant, _order = customer_with_history()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_sign_in(user)['access']}")

    response = api.delete(ME, {"password": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_password"
    assert "password" in response.json()["error"]["fields"]
    assert User.objects.filter(pk=user.pk).exists()


def test_delete_me_while_an_order_awaits_payment_is_409_and_deletes_nothing():
    user, _variant, _order = customer_with_history()
    waiting = order_of(user, stocked_variant(on_hand=3))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_sign_in(user)['access']}")

    response = api.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "orders_in_progress"
    assert waiting.number in response.json()["error"]["message"]
    assert User.objects.filter(pk=user.pk).exists()


def test_a_staff_account_is_not_deleted_through_the_api():
    staff = UserFactory(email="clerk@example.com", is_staff=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_sign_in(staff)['access']}")

    response = api.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "staff_account"
    assert User.objects.filter(pk=staff.pk).exists()
