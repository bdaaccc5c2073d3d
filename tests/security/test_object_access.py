"""Object-level access: every id, number or token that comes from the client is checked
against who is asking. Each object below belongs to `owner`; `other` is another shopper,
`guest` is anonymous, `staff` is a staff user.

What the shop does (and these tests pin down):
- A non-owner gets 404 — the same answer as for an id that does not exist, so ids and order
  numbers cannot be probed. Staff get 404 too on shopper URLs: they work on orders,
  addresses and carts in the admin, which has its own permissions; the shopper pages and
  the API have no staff bypass.
- An anonymous visitor on a page that needs a login (orders, invoices) is sent to the login
  page, and the API answers 401 where an account is required (addresses): both before any
  lookup, so they reveal nothing either.
- An order's guest link (number + access token) works for whoever holds it, by design: it is
  the credential emailed to a guest buyer. A wrong token is 404 for everyone.
- The HTML cart acts only on the session's own cart (cart.services look lines up within it):
  another cart's line id is treated like a line that is no longer there (as after a merge in
  another tab) — the shopper's own cart page again, and the other cart untouched — rather
  than a 404 page. The API answers 404.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cart.models import CartLine
from orders.models import Order
from orders.services import order_mark_paid
from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db

ACTORS = ["owner", "other", "guest", "staff"]
NON_OWNERS = ["other", "guest", "staff"]
SIGNED_IN_NON_OWNERS = ["other", "staff"]


@pytest.fixture
def people(db):
    return {"owner": UserFactory(), "other": UserFactory(), "staff": UserFactory(is_staff=True), "guest": None}


@pytest.fixture
def variant(db):
    return stocked_variant(on_hand=10, price=Decimal("23.00"))


def web(people, actor) -> Client:
    client = Client()
    if people[actor] is not None:
        client.force_login(people[actor])
    return client


def api(people, actor) -> APIClient:
    client = APIClient()
    if people[actor] is not None:
        client.force_authenticate(people[actor])
    return client


@pytest.fixture
def order(people, variant):
    order = place_order((variant, 1))
    Order.objects.filter(pk=order.pk).update(user=people["owner"])
    order.refresh_from_db()
    # Paid, so that it has an invoice to download.
    return order_mark_paid(order=order, reference=f"pay_{order.number}", reservation_ttl=timedelta(minutes=15))


# Orders -------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("path", ["/orders/{number}/", "/orders/{number}/invoice/"])
def test_order_pages_and_invoice_are_the_owners_only(people, order, actor, path):
    response = web(people, actor).get(path.format(number=order.number))
    if actor == "owner":
        assert response.status_code == 200
    elif actor == "guest":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("actor", ACTORS)
def test_an_order_number_that_does_not_exist_answers_like_someone_elses(people, order, actor):
    response = web(people, actor).get("/orders/NOSUCHORDER/")
    assert response.status_code == (302 if actor == "guest" else 404)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("suffix", ["", "invoice/"])
def test_the_guest_link_needs_the_right_token_whoever_asks(people, order, variant, actor, suffix):
    client = web(people, actor)
    assert client.get(f"/orders/{order.number}/{order.access_token}/{suffix}").status_code == 200
    assert client.get(f"/orders/{order.number}/{'x' * 43}/{suffix}").status_code == 404
    # Another order's valid token does not open this one.
    other_order = place_order((variant, 1))
    assert client.get(f"/orders/{order.number}/{other_order.access_token}/{suffix}").status_code == 404


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("path", ["/api/v1/orders/{number}/", "/api/v1/orders/{number}/invoice/"])
def test_api_order_detail_and_invoice_are_the_owners_only(people, order, actor, path):
    response = api(people, actor).get(path.format(number=order.number), HTTP_ACCEPT="application/pdf, application/json")
    assert response.status_code == (200 if actor == "owner" else 404)


# Addresses (API) ------------------------------------------------------------------------


@pytest.fixture
def address(people):
    from accounts.services import address_create

    return address_create(
        user=people["owner"],
        name="Ada Lovelace",
        line1="12 St James's Square",
        city="London",
        postal_code="SW1Y 4JH",
        country="GB",
    )


@pytest.mark.parametrize("actor", ACTORS)
def test_an_address_is_read_changed_and_deleted_by_its_owner_only(people, address, actor):
    client = api(people, actor)
    url = f"/api/v1/auth/me/addresses/{address.pk}/"
    expected = {"owner": 200, "guest": 401}.get(actor, 404)
    assert client.get(url).status_code == expected
    assert client.patch(url, {"city": "Paris"}, format="json").status_code == expected
    address.refresh_from_db()
    assert address.city == ("Paris" if actor == "owner" else "London")
    assert client.delete(url).status_code == (204 if actor == "owner" else expected)
    assert type(address).objects.filter(pk=address.pk).exists() == (actor != "owner")


@pytest.mark.parametrize("actor", SIGNED_IN_NON_OWNERS)
def test_an_address_list_shows_only_ones_own(people, address, actor):
    body = api(people, actor).get("/api/v1/auth/me/addresses/").json()
    assert address.pk not in [item["id"] for item in body.get("data", body if isinstance(body, list) else [])]


# Carts ----------------------------------------------------------------------------------


@pytest.fixture
def owners_line(people, variant):
    client = web(people, "owner")
    client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 2})
    return CartLine.objects.get(cart__user=people["owner"])


@pytest.mark.parametrize("actor", NON_OWNERS)
def test_the_html_cart_never_touches_another_carts_line(people, owners_line, variant, actor):
    client = web(people, actor)
    client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 1})  # a cart of their own
    update = client.post(f"/cart/lines/{owners_line.pk}/", {"quantity": 5})
    # Their own cart page again, as for a line id that does not exist; nothing else changes.
    assert update.status_code == 200
    assert update.templates[0].name == "cart/detail.html"
    client.post(f"/cart/lines/{owners_line.pk}/remove/")
    owners_line.refresh_from_db()
    assert owners_line.quantity == 2


def test_the_html_cart_changes_the_owners_own_line(people, owners_line):
    client = web(people, "owner")
    assert client.post(f"/cart/lines/{owners_line.pk}/", {"quantity": 3}).status_code == 302
    owners_line.refresh_from_db()
    assert owners_line.quantity == 3
    client.post(f"/cart/lines/{owners_line.pk}/remove/")
    assert not CartLine.objects.filter(pk=owners_line.pk).exists()


@pytest.mark.parametrize("actor", ACTORS)
def test_api_cart_items_are_the_owners_only(people, owners_line, actor):
    client = api(people, actor)
    url = f"/api/v1/cart/items/{owners_line.pk}/"
    expected = 200 if actor == "owner" else 404
    assert client.patch(url, {"quantity": 3}, format="json").status_code == expected
    owners_line.refresh_from_db()
    assert owners_line.quantity == (3 if actor == "owner" else 2)
    assert client.delete(url).status_code in ((200, 204) if actor == "owner" else (404,))
    assert CartLine.objects.filter(pk=owners_line.pk).exists() == (actor != "owner")


# Checkouts (API) ------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_a_checkout_is_seen_changed_and_placed_by_its_owner_only(people, variant, actor):
    shipping = ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
    owner = api(people, "owner")
    owner.post("/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": 1}, format="json")
    checkout = owner.post("/api/v1/checkout/").json()
    url = f"/api/v1/checkout/{checkout['id']}/"

    client = api(people, actor)
    expected = 200 if actor == "owner" else 404
    assert client.get(url).status_code == expected
    assert client.patch(url, {"shipping_method": shipping.pk}, format="json").status_code in (
        (200,) if actor == "owner" else (404,)
    )
    if actor != "owner":
        placed = client.post(f"{url}place-order/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert placed.status_code == 404
        assert not Order.objects.exists()
