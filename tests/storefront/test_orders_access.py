"""Who may see an order: its owner, or a guest holding its link; everyone else gets 404."""

import pytest
from django.test import Client

from orders.models import Order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def order(shopper, owner, variant, shipping):
    shopper.client.force_login(owner)
    shopper.buy(variant, shipping)
    return Order.objects.get()


def test_the_owner_sees_their_order_in_the_list_and_detail(shopper, order):
    assert order.number in shopper.client.get("/orders/").content.decode()
    assert shopper.client.get(f"/orders/{order.number}/").status_code == 200


def test_another_user_gets_404(client, order):
    client.force_login(UserFactory())
    assert client.get(f"/orders/{order.number}/").status_code == 404
    assert order.number not in client.get("/orders/").content.decode()


def test_a_guest_needs_the_token(order):
    client = Client()
    assert client.get(f"/orders/{order.number}/").status_code == 302  # to the login page
    assert client.get(f"/orders/{order.number}/wrong-token/").status_code == 404
    assert client.get(order.get_guest_url()).status_code == 200


def test_the_order_list_requires_login(client, db):
    assert client.get("/orders/")["Location"].startswith("/accounts/login/")
