"""Place-order's Idempotency-Key, as Stripe's keys work (docs.stripe.com/idempotency): once a
key has placed an order it is bound to that request (the checkout and the fingerprint sent).
The same key with the same body answers the first order again; the same key with a different
body is refused with 422 `idempotency_key_reused` and changes nothing; a request refused
before anything was placed binds nothing."""

from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.inventory.helpers import run_together

from .conftest import assert_error
from .test_checkout import ADDRESS, place, ready_checkout

pytestmark = pytest.mark.django_db


@pytest.fixture
def method(db):
    return ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


@pytest.fixture
def mug(db):
    return stocked_variant(on_hand=4, price=Decimal("9.00"), product__title="Enamel Mug", product__handle="enamel-mug")


def cart_lines(api, token) -> list[tuple[str, int]]:
    return [
        (line["sku"], line["quantity"]) for line in api.get("/api/v1/cart/", HTTP_X_CART_TOKEN=token).json()["lines"]
    ]


def test_the_same_key_with_the_new_fingerprint_after_a_line_was_added_is_refused_and_changes_nothing(
    api, variant, mug, method
):
    token, checkout = ready_checkout(api, variant, method)
    first = place(api, token, checkout, key="order-1")
    assert first.status_code == 201, first.content
    # The app adds a mug and reviews the checkout again: a new fingerprint, the old key.
    added = api.post(
        "/api/v1/cart/items/", {"variant_id": mug.pk, "quantity": 2}, format="json", HTTP_X_CART_TOKEN=token
    )
    assert added.status_code == 201, added.content
    reviewed = api.get(f"/api/v1/checkout/{checkout['id']}/", HTTP_X_CART_TOKEN=token).json()
    assert reviewed["fingerprint"] != checkout["fingerprint"] and reviewed["total"] == "23.00"
    movements, held = StockMovement.objects.count(), availability([variant.pk, mug.pk])

    error = assert_error(place(api, token, reviewed, key="order-1"), 422, "idempotency_key_reused")

    assert "“order-1”" in error["message"]
    assert Order.objects.count() == 1
    assert cart_lines(api, token) == [(mug.sku, 2)]  # the mug was not ordered, and not lost
    assert availability([variant.pk, mug.pk]) == held
    assert Reservation.objects.count() == 1 and StockMovement.objects.count() == movements
    # The first request sent again is still answered with its order ...
    again = place(api, token, checkout, key="order-1")
    assert (again.status_code, again.json()) == (200, first.json())
    # ... a new key on the placed checkout is refused (a checkout is placed once) ...
    assert_error(place(api, token, reviewed, key="order-2"), 409, "checkout_placed")
    # ... and a new checkout orders the mug.
    fresh = api.post("/api/v1/checkout/", HTTP_X_CART_TOKEN=token).json()
    priced = api.patch(
        f"/api/v1/checkout/{fresh['id']}/",
        {**ADDRESS, "shipping_method": method.pk},
        format="json",
        HTTP_X_CART_TOKEN=token,
    ).json()
    second = place(api, token, priced, key="order-2")
    assert second.status_code == 201, second.content
    assert second.json()["order"]["number"] != first.json()["order"]["number"]
    assert availability([mug.pk]) == {mug.pk: 2}


def test_a_key_is_bound_to_the_body_that_placed_its_order_not_to_one_refused_before(api, variant, method):
    token, checkout = ready_checkout(api, variant, method)
    variant.price = Decimal("30.00")
    variant.save()
    # Refused before anything was placed: the key is not bound yet ...
    changed = assert_error(place(api, token, checkout, key="k"), 409, "checkout_changed")
    # ... so the app reviews the new total and sends the same key with the new fingerprint.
    placed = place(api, token, changed["checkout"], key="k")
    assert placed.status_code == 201, placed.content
    assert placed.json()["order"]["total"] == "35.00"

    # Now any other body with that key is refused, the first one it was sent with too.
    stale = assert_error(place(api, token, checkout, key="k"), 422, "idempotency_key_reused")
    assert_error(place(api, token, checkout, key="k", fingerprint="f" * 32), 422, "idempotency_key_reused")

    assert "“k”" in stale["message"]
    assert Order.objects.count() == 1
    assert availability([variant.pk]) == {variant.pk: 2}
    again = place(api, token, changed["checkout"], key="k")
    assert (again.status_code, again.json()) == (200, placed.json())


def test_the_schema_documents_the_422_of_a_reused_key(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/checkout/{checkout_id}/place-order/"]["post"]
    refused = operation["responses"]["422"]
    assert refused["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    assert "idempotency_key_reused" in refused["description"]
    key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert "idempotency_key_reused" in key["description"]


# -- at once: real threads against PostgreSQL, released together by a barrier ---------------


def _place_at_once(checkout: dict, token: str, key: str, fingerprints: list[str]) -> list[tuple[int, dict]]:
    """Sends place-order once per fingerprint, all with `key`, from as many threads at once;
    answers (status, body) per fingerprint."""

    def send(index: int) -> tuple[int, dict]:
        response = place(APIClient(), token, checkout, key=key, fingerprint=fingerprints[index])
        return response.status_code, response.json()

    outcomes = run_together(len(fingerprints), send)
    assert not [o.error for o in outcomes if o.error], [o.error for o in outcomes]
    return [outcome.value for outcome in outcomes]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_same_key_and_body_five_times_at_once_places_one_order_and_answers_it_to_all_five(api, method, settings):
    # Why a longer lock wait: the five queue on one stock row; this is about one order, not
    # about the busy answer.
    settings.STOCK_LOCK_TIMEOUT_MS = 30_000
    shirt = stocked_variant(on_hand=3, price=Decimal("23.00"))
    token, checkout = ready_checkout(api, shirt, method, 2)

    answers = _place_at_once(checkout, token, "tap-tap-tap", [checkout["fingerprint"]] * 5)

    assert sorted(status for status, _ in answers) == [200, 200, 200, 200, 201], answers
    order = Order.objects.get()
    assert {body["order"]["number"] for _, body in answers} == {order.number}
    assert Reservation.objects.get().quantity == 2
    assert availability([shirt.pk]) == {shirt.pk: 1}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_same_key_with_five_different_bodies_at_once_places_at_most_one_order_for_its_own_body(
    api, method, settings
):
    settings.STOCK_LOCK_TIMEOUT_MS = 30_000
    shirt = stocked_variant(on_hand=3, price=Decimal("23.00"))
    token, checkout = ready_checkout(api, shirt, method)
    fingerprints = [checkout["fingerprint"], *(f"{n}" * 32 for n in range(1, 5))]

    first_round = _place_at_once(checkout, token, "one-key", fingerprints)

    # Only the reviewed fingerprint can place; the others were either too early (the checkout
    # had changed from what they said: 409) or met the order their key placed (422).
    assert first_round[0][0] == 201, first_round
    for status, body in first_round[1:]:
        code = body.get("error", {}).get("code")
        assert (status, code) in {(409, "checkout_changed"), (422, "idempotency_key_reused")}, body
    order = Order.objects.get()
    assert first_round[0][1]["order"]["number"] == order.number

    # The same five again, once the order exists: only its own body is answered with it.
    second_round = _place_at_once(checkout, token, "one-key", fingerprints)

    assert second_round[0] == (200, first_round[0][1])
    refused = [(status, body.get("error", {}).get("code")) for status, body in second_round[1:]]
    assert refused == [(422, "idempotency_key_reused")] * 4, second_round
    assert Order.objects.count() == 1
    assert Reservation.objects.get().quantity == 1
