"""cart/: a guest's cart by its X-Cart-Token, a signed-in shopper's own cart, merging a guest
cart at sign-in once, lines of other carts 404, quantities validated."""

from decimal import Decimal

import pytest

from cart.models import Cart
from tests.factories import stocked_variant

from .conftest import assert_error

pytestmark = pytest.mark.django_db


def add(client, variant, quantity=1, token=None):
    headers = {"HTTP_X_CART_TOKEN": token} if token else {}
    return client.post(
        "/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": quantity}, format="json", **headers
    )


def test_a_guest_gets_a_cart_token_with_the_first_item(api, variant):
    response = add(api, variant, 2)
    assert response.status_code == 201
    body = response.json()
    assert response["X-Cart-Token"] == body["token"] == Cart.objects.get().token
    assert [(line["sku"], line["quantity"], line["unit_price"], line["line_total"]) for line in body["lines"]] == [
        (variant.sku, 2, "23.00", "46.00")
    ]
    assert (body["subtotal"], body["currency"], body["has_problems"]) == ("46.00", "USD", False)


def test_a_guest_sends_the_token_back_to_reach_the_same_cart(api, variant):
    token = add(api, variant).json()["token"]
    add(api, variant, token=token)
    body = api.get("/api/v1/cart/", HTTP_X_CART_TOKEN=token).json()
    assert [line["quantity"] for line in body["lines"]] == [2]
    assert Cart.objects.count() == 1


def test_without_a_token_a_guest_sees_an_empty_cart_and_none_is_made(api):
    body = api.get("/api/v1/cart/").json()
    assert (body["token"], body["lines"], body["subtotal"]) == (None, [], "0.00")
    assert not Cart.objects.exists()


def test_an_unknown_token_reaches_no_cart(api, variant):
    add(api, variant)
    body = api.get("/api/v1/cart/", HTTP_X_CART_TOKEN="not-a-real-token").json()
    assert body["lines"] == []


def test_a_signed_in_shopper_has_their_own_cart_without_a_token(user_api, user, variant):
    body = add(user_api, variant).json()
    assert body["token"] is None
    assert Cart.objects.get().user == user
    assert len(user_api.get("/api/v1/cart/").json()["lines"]) == 1


def test_signing_in_with_a_guest_token_merges_that_cart_once(api, user_api, user, variant):
    other = stocked_variant(on_hand=5, price=Decimal("5.00"))
    add(user_api, variant, 1)
    token = add(api, variant, 1).json()["token"]
    add(api, other, 2, token=token)
    body = user_api.get("/api/v1/cart/", HTTP_X_CART_TOKEN=token).json()
    assert sorted((line["sku"], line["quantity"]) for line in body["lines"]) == sorted(
        [(variant.sku, 2), (other.sku, 2)]
    )
    # The guest cart is gone: sending its token again merges nothing more.
    again = user_api.get("/api/v1/cart/", HTTP_X_CART_TOKEN=token).json()
    assert sorted(line["quantity"] for line in again["lines"]) == [2, 2]
    assert Cart.objects.count() == 1


def test_a_quantity_is_changed_and_a_line_removed(api, variant):
    body = add(api, variant).json()
    token, line_id = body["token"], body["lines"][0]["id"]
    response = api.patch(f"/api/v1/cart/items/{line_id}/", {"quantity": 3}, format="json", HTTP_X_CART_TOKEN=token)
    assert response.status_code == 200
    assert response.json()["lines"][0]["quantity"] == 3
    response = api.delete(f"/api/v1/cart/items/{line_id}/", HTTP_X_CART_TOKEN=token)
    assert response.status_code == 200
    assert response.json()["lines"] == []


def test_lines_of_another_cart_are_404(api, user_api, variant):
    body = add(api, variant).json()
    line_id = body["lines"][0]["id"]
    assert_error(user_api.patch(f"/api/v1/cart/items/{line_id}/", {"quantity": 2}, format="json"), 404, "not_found")
    assert_error(user_api.delete(f"/api/v1/cart/items/{line_id}/"), 404, "not_found")
    assert_error(api.delete(f"/api/v1/cart/items/{line_id}/"), 404, "not_found")  # no token
    assert_error(api.patch("/api/v1/cart/items/999999999/", {"quantity": 2}, format="json"), 404, "not_found")
    assert_error(api.delete("/api/v1/cart/items/9999999999/"), 404, "not_found")  # too long for an id


@pytest.mark.parametrize("quantity", [0, 100, -1, 1.5, "two", None, True])
def test_quantities_outside_1_to_99_integers_are_refused_with_the_field(api, variant, quantity):
    error = assert_error(add(api, variant, quantity), 400, "invalid")
    assert "quantity" in error["fields"]
    assert not Cart.objects.exists()


def test_a_missing_variant_id_is_refused_with_the_field(api):
    error = assert_error(api.post("/api/v1/cart/items/", {"quantity": 1}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["variant_id"]


def test_more_than_is_available_is_a_conflict(api, variant):
    error = assert_error(add(api, variant, 4), 409, "cart_error")
    assert "Only 3" in error["message"]


def test_an_unknown_variant_is_a_conflict(api, variant):
    assert_error(
        api.post("/api/v1/cart/items/", {"variant_id": 987654, "quantity": 1}, format="json"), 409, "cart_error"
    )


def test_validate_reports_stock_and_price_per_line(api, variant):
    from inventory.models import StockMovement
    from inventory.services import stock_adjust

    body = add(api, variant, 3).json()
    token = body["token"]
    stock_adjust(variant=variant, quantity=-2, reason=StockMovement.Reason.ADJUSTMENT)
    variant.price = Decimal("25.00")
    variant.save()
    response = api.post("/api/v1/cart/validate/", HTTP_X_CART_TOKEN=token)
    assert response.status_code == 200
    result = response.json()
    assert result["valid"] is False
    [line] = result["lines"]
    assert (line["quantity"], line["available"], line["unit_price"], line["ok"]) == (3, 1, "25.00", False)
    assert "Only 1 left" in line["problem"]


def test_validate_of_a_good_cart_is_valid(api, variant):
    token = add(api, variant).json()["token"]
    assert api.post("/api/v1/cart/validate/", HTTP_X_CART_TOKEN=token).json()["valid"] is True
