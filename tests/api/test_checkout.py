"""checkout/: open from the cart, fill in (validated as the web form is), price, place the
order once per Idempotency-Key; only the owner (user, or the guest holding the cart token)
sees a checkout."""

from decimal import Decimal

import pytest

from checkout.models import CheckoutSession, ShippingMethodCountry
from orders.models import Order
from tests.factories import ShippingMethodFactory

from .conftest import assert_error

pytestmark = pytest.mark.django_db

ADDRESS = {
    "email": "guest@example.com",
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


@pytest.fixture
def method(db):
    return ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


def guest_cart(api, variant, quantity=1) -> str:
    response = api.post("/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": quantity}, format="json")
    assert response.status_code == 201, response.content
    return response["X-Cart-Token"]


def open_checkout(api, token) -> dict:
    response = api.post("/api/v1/checkout/", HTTP_X_CART_TOKEN=token)
    assert response.status_code == 201, response.content
    return response.json()


def ready_checkout(api, variant, method, quantity=1):
    """A guest's checkout with address and method: (cart token, checkout body)."""
    token = guest_cart(api, variant, quantity)
    checkout = open_checkout(api, token)
    response = api.patch(
        f"/api/v1/checkout/{checkout['id']}/",
        {**ADDRESS, "shipping_method": method.pk},
        format="json",
        HTTP_X_CART_TOKEN=token,
    )
    assert response.status_code == 200, response.content
    return token, response.json()


def place(api, token, checkout, key="key-1", fingerprint=None):
    headers = {"HTTP_X_CART_TOKEN": token} if token else {}
    return api.post(
        f"/api/v1/checkout/{checkout['id']}/place-order/",
        {"fingerprint": fingerprint or checkout["fingerprint"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        **headers,
    )


def test_a_checkout_opens_from_the_cart_with_its_pricing(api, variant, method):
    token = guest_cart(api, variant, 2)
    body = open_checkout(api, token)
    assert (body["subtotal"], body["shipping"], body["total"], body["currency"]) == ("46.00", "0.00", "46.00", "USD")
    assert [(line["sku"], line["quantity"], line["line_total"]) for line in body["lines"]] == [
        (variant.sku, 2, "46.00")
    ]
    assert body["shipping_methods"] == [{"id": method.pk, "name": "Standard", "price": "5.00"}]
    # SHOP_COUNTRY (US) until a country is chosen: its address needs a city, a state and a ZIP code.
    assert set(body["missing"]) == {
        "email",
        "name",
        "line1",
        "city",
        "country_area",
        "postal_code",
        "country",
        "shipping_method",
    }
    assert len(body["fingerprint"]) == 32


def test_an_empty_cart_cannot_be_checked_out(api, user_api):
    assert_error(api.post("/api/v1/checkout/"), 400, "cart_empty")
    assert_error(user_api.post("/api/v1/checkout/"), 400, "cart_empty")


def test_details_and_shipping_method_reprice_the_checkout(api, variant, method):
    _token, body = ready_checkout(api, variant, method, 2)
    assert (body["email"], body["shipping_address"]["city"], body["country"]) == ("guest@example.com", "London", "GB")
    assert (body["shipping_method_id"], body["shipping"], body["total"], body["missing"]) == (
        method.pk,
        "5.00",
        "51.00",
        [],
    )


def test_details_are_validated_like_the_web_form(api, variant, method):
    token = guest_cart(api, variant)
    checkout = open_checkout(api, token)
    url = f"/api/v1/checkout/{checkout['id']}/"
    error = assert_error(
        api.patch(url, {"email": "not-an-email", "name": "", "city": "London"}, format="json", HTTP_X_CART_TOKEN=token),
        400,
        "invalid",
    )
    assert error["fields"] == {"email": ["Enter a valid email address."], "name": ["This field is required."]}
    assert_error(api.patch(url, {"country": "XX"}, format="json", HTTP_X_CART_TOKEN=token), 400, "invalid")
    # Nothing was written: a refused change is refused whole.
    assert api.get(url, HTTP_X_CART_TOKEN=token).json()["shipping_address"]["city"] == ""
    assert_error(api.patch(url, {"shipping_method": 999999}, format="json", HTTP_X_CART_TOKEN=token), 400, "invalid")


def test_a_method_that_does_not_ship_there_is_refused_with_the_forms_reason(api, variant, method):
    ShippingMethodCountry.objects.create(method=method, country="US")
    token = guest_cart(api, variant)
    checkout = open_checkout(api, token)
    error = assert_error(
        api.patch(
            f"/api/v1/checkout/{checkout['id']}/",
            {"country": "GB", "shipping_method": method.pk},
            format="json",
            HTTP_X_CART_TOKEN=token,
        ),
        400,
        "invalid",
    )
    assert "does not ship to United Kingdom" in error["fields"]["shipping_method"][0]


def test_an_invalid_voucher_code_is_refused_with_the_field(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    error = assert_error(
        api.patch(
            f"/api/v1/checkout/{checkout['id']}/", {"voucher_code": "NOPE"}, format="json", HTTP_X_CART_TOKEN=token
        ),
        400,
        "invalid",
    )
    assert "not a valid code" in error["fields"]["voucher_code"][0]


def test_a_voucher_discounts_the_checkout(api, variant, method):
    from checkout.models import Voucher

    Voucher.objects.create(code="TEN", kind=Voucher.Kind.PERCENT, value=Decimal("10"))
    token, checkout = ready_checkout(api, variant, method, 2)
    body = api.patch(
        f"/api/v1/checkout/{checkout['id']}/", {"voucher_code": "ten"}, format="json", HTTP_X_CART_TOKEN=token
    ).json()
    assert (body["voucher_code"], body["discount"], body["total"]) == ("TEN", "4.60", "46.40")


def test_only_the_owner_sees_or_changes_a_checkout(api, user_api, outsider_api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    url = f"/api/v1/checkout/{checkout['id']}/"
    assert api.get(url, HTTP_X_CART_TOKEN=token).status_code == 200
    assert_error(api.get(url), 404, "not_found")
    assert_error(api.get(url, HTTP_X_CART_TOKEN="someone-elses"), 404, "not_found")
    assert_error(outsider_api.get(url), 404, "not_found")
    assert_error(outsider_api.patch(url, {"name": "Mallory"}, format="json"), 404, "not_found")
    assert_error(place(outsider_api, None, checkout), 404, "not_found")
    assert_error(
        api.get("/api/v1/checkout/00000000-0000-0000-0000-000000000000/", HTTP_X_CART_TOKEN=token), 404, "not_found"
    )


def test_a_users_checkout_is_theirs_alone(user_api, outsider_api, variant, method):
    user_api.post("/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": 1}, format="json")
    checkout = user_api.post("/api/v1/checkout/").json()
    assert checkout["email"] == "ada@example.com"
    url = f"/api/v1/checkout/{checkout['id']}/"
    assert user_api.get(url).status_code == 200
    assert_error(outsider_api.get(url), 404, "not_found")


def test_place_order_creates_one_order_and_empties_the_cart(api, variant, method):
    token, checkout = ready_checkout(api, variant, method, 2)
    response = place(api, token, checkout)
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get()
    assert (body["order"]["number"], body["order"]["status"], body["order"]["total"]) == (
        order.number,
        "pending_payment",
        "51.00",
    )
    assert body["order_token"] == order.access_token
    assert body["order"]["reservation_expires_at"]
    assert api.get("/api/v1/cart/", HTTP_X_CART_TOKEN=token).json()["lines"] == []
    assert CheckoutSession.objects.get().order == order
    placed = api.get(f"/api/v1/checkout/{checkout['id']}/", HTTP_X_CART_TOKEN=token).json()
    assert placed["order_number"] == order.number
    assert placed["reservation_expires_at"] == body["order"]["reservation_expires_at"]


def test_the_same_idempotency_key_returns_the_same_order_with_the_same_body(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    first = place(api, token, checkout, key="abc")
    second = place(api, token, checkout, key="abc")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Order.objects.count() == 1


def test_a_different_key_on_a_placed_checkout_is_refused_it_was_placed_once(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    assert place(api, token, checkout, key="first").status_code == 201
    assert_error(place(api, token, checkout, key="second"), 409, "checkout_placed")
    assert Order.objects.count() == 1


def test_a_placed_checkout_does_not_order_a_refilled_cart_a_second_time(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    assert place(api, token, checkout, key="first").status_code == 201
    api.post("/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": 1}, format="json", HTTP_X_CART_TOKEN=token)
    priced = api.get(f"/api/v1/checkout/{checkout['id']}/", HTTP_X_CART_TOKEN=token).json()

    error = assert_error(place(api, token, priced, key="second"), 409, "checkout_placed")

    assert "open a new checkout" in error["message"]
    assert Order.objects.count() == 1
    assert len(api.get("/api/v1/cart/", HTTP_X_CART_TOKEN=token).json()["lines"]) == 1  # still in the cart


@pytest.mark.parametrize("key", [None, "", "x" * 65, "tab\tkey", "ключ"])
def test_place_order_requires_a_valid_idempotency_key(api, variant, method, key):
    token, checkout = ready_checkout(api, variant, method)
    headers = {"HTTP_X_CART_TOKEN": token}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    response = api.post(
        f"/api/v1/checkout/{checkout['id']}/place-order/",
        {"fingerprint": checkout["fingerprint"]},
        format="json",
        **headers,
    )
    error = assert_error(response, 400, "invalid")
    assert "Idempotency-Key" in error["fields"]
    assert not Order.objects.exists()


def test_place_order_requires_the_fingerprint(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    response = api.post(
        f"/api/v1/checkout/{checkout['id']}/place-order/",
        {},
        format="json",
        HTTP_X_CART_TOKEN=token,
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert assert_error(response, 400, "invalid")["fields"] == {"fingerprint": ["This field is required."]}


def test_an_incomplete_checkout_is_refused(api, variant, method):
    token = guest_cart(api, variant)
    checkout = open_checkout(api, token)
    error = assert_error(place(api, token, checkout), 400, "checkout_incomplete")
    assert "email" in error["message"]


def test_a_changed_total_is_a_conflict_with_the_new_pricing(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    variant.price = Decimal("30.00")
    variant.save()
    error = assert_error(place(api, token, checkout), 409, "checkout_changed")
    assert error["checkout"]["total"] == "35.00"
    assert error["checkout"]["fingerprint"] != checkout["fingerprint"]
    assert place(api, token, error["checkout"], key="again").status_code == 201


def test_stock_sold_meanwhile_is_insufficient_stock(api, variant, method):
    from tests.orders.helpers import place_order

    token, checkout = ready_checkout(api, variant, method, 2)
    place_order((variant, 2))  # someone else takes 2 of the 3
    error = assert_error(place(api, token, checkout), 409, "insufficient_stock")
    assert error["lines"] == [{"variant_id": variant.pk, "sku": variant.sku, "requested": 2, "available": 1}]


def test_a_refusal_for_stock_sold_meanwhile_reads_the_cart_once(api, variant, method):
    # In a flash sale most place-order requests end this way: the short lines are named from
    # the cart as read for the order, not from a second read of it.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.orders.helpers import place_order

    token, checkout = ready_checkout(api, variant, method, 2)
    place_order((variant, 2))

    with CaptureQueriesContext(connection) as queries:
        assert_error(place(api, token, checkout), 409, "insufficient_stock")

    cart_reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and 'FROM "cart_cartline"' in q["sql"]]
    assert len(cart_reads) == 1
    # Whether this key placed an order before is asked by id; no order is read whole (none
    # was placed), neither with the checkout.
    assert not [q["sql"] for q in queries if '"orders_order"."email"' in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_a_busy_stock_row_is_stock_busy_with_retry_after(api, variant, method, settings):
    import threading

    from django.db import connection, transaction

    from inventory.models import StockItem

    token, checkout = ready_checkout(api, variant, method)
    settings.STOCK_LOCK_TIMEOUT_MS = 200
    locked, done = threading.Event(), threading.Event()

    def hold_the_row():
        # Another buyer's transaction holding the stock row, as in a flash sale.
        with transaction.atomic():
            list(StockItem.objects.filter(variant=variant).select_for_update())
            locked.set()
            done.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        response = place(api, token, checkout)
    finally:
        done.set()
        holder.join()
    assert_error(response, 409, "stock_busy")
    assert response["Retry-After"] == "1"
    assert not Order.objects.exists()


# -- addresses for every country ----------------------------------------------------------------


def patch_checkout(api, token, checkout, data):
    return api.patch(f"/api/v1/checkout/{checkout['id']}/", data, format="json", HTTP_X_CART_TOKEN=token)


def test_a_country_that_is_not_one_and_a_malformed_postcode_are_refused_with_their_field(api, variant, method):
    token = guest_cart(api, variant)
    checkout = open_checkout(api, token)

    error = assert_error(patch_checkout(api, token, checkout, {**ADDRESS, "country": "ZZ"}), 400, "invalid")
    assert list(error["fields"]) == ["country"]
    error = assert_error(patch_checkout(api, token, checkout, {**ADDRESS, "postal_code": "SW1A1AA1"}), 400, "invalid")
    assert error["fields"] == {"postal_code": ["Enter a valid postcode."]}
    assert CheckoutSession.objects.get().country == ""


def test_a_us_address_without_its_state_is_missing_it_and_cannot_be_placed(api, variant, method):
    token = guest_cart(api, variant)
    checkout = open_checkout(api, token)
    us = {"email": "ann@example.com", "name": "Ann Lee", "line1": "1 Main St", "city": "Springfield"}
    body = patch_checkout(
        api, token, checkout, {**us, "postal_code": "62701", "country": "US", "shipping_method": method.pk}
    ).json()
    assert body["missing"] == ["country_area"]

    error = assert_error(place(api, token, body), 400, "checkout_incomplete")
    assert "country_area" in error["fields"]

    body = patch_checkout(api, token, checkout, {"country_area": "Illinois", "phone": "(217) 555-0100"}).json()
    assert body["missing"] == []
    assert (body["shipping_address"]["country_area"], body["shipping_address"]["phone"]) == ("IL", "+12175550100")
    assert body["shipping_address"]["lines"][2] == "Springfield, IL 62701"
    order = place(api, token, body).json()["order"]
    assert order["shipping_address"]["lines"] == [
        "Ann Lee",
        "1 Main St",
        "Springfield, IL 62701",
        "United States",
    ]
    assert order["billing_address"] == order["shipping_address"]  # billed where it ships


def test_a_billing_address_of_its_own_is_validated_and_on_the_order(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)

    bad = {"name": "Ada Ltd", "line1": "1 Rue de Rivoli", "city": "Paris", "postal_code": "7500", "country": "FR"}
    error = assert_error(patch_checkout(api, token, checkout, {"billing_address": bad}), 400, "invalid")
    assert "billing_address.postal_code" in error["fields"]

    billing = {**bad, "postal_code": "75001", "company": "Ada SARL"}
    body = patch_checkout(api, token, checkout, {"billing_address": billing}).json()
    assert body["billing_address"]["lines"] == ["Ada SARL", "Ada Ltd", "1 Rue de Rivoli", "75001 Paris", "France"]

    order = place(api, token, body).json()["order"]
    assert order["billing_address"]["postal_code"] == "75001"
    assert order["shipping_address"]["postal_code"] == "N1 9GU"
    saved = Order.objects.get()
    assert (saved.billing_city, str(saved.billing_country), saved.shipping_city) == ("Paris", "FR", "London")

    # null: the shipping address again.
    token, checkout = ready_checkout(api, variant, method)
    body = patch_checkout(api, token, checkout, {"billing_address": billing}).json()
    body = patch_checkout(api, token, checkout, {"billing_address": None}).json()
    assert body["billing_address"] is None
