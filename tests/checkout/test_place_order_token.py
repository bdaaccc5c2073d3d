"""The web shop's checkout token (one per checkout attempt, kept in the session) is bound to
the request that placed its order, as the API's Idempotency-Key is: the same token with what
another window reviewed is not answered with the first window's order."""

from decimal import Decimal

import pytest

from orders.models import Order
from tests.factories import stocked_variant
from tests.storefront.conftest import reserve_on  # noqa: F401 - a fixture, used below

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reserve_on")]


def test_a_window_that_reviewed_a_changed_cart_does_not_get_the_order_another_window_placed(shopper, variant, shipping):
    mug = stocked_variant(on_hand=4, price=Decimal("9.00"), product__title="Enamel Mug")
    shopper.add(variant)
    shopper.checkout(shipping)
    first_review = shopper.fingerprint()
    token = shopper.client.session["checkout_token"]
    placed = shopper.place(first_review)
    assert placed["Location"].startswith("/payments/order/")
    # Another window: the mug was added and reviewed there, and its Place order still
    # carries the checkout token the first window placed with.
    shopper.add(mug, 2)
    second_review = shopper.fingerprint()
    session = shopper.client.session
    session["checkout_token"] = token
    session.save()

    response = shopper.client.post("/checkout/place/", {"fingerprint": second_review}, follow=True)

    assert response.redirect_chain == [("/checkout/review/", 302)]
    assert "This checkout was placed just now" in response.content.decode()
    assert Order.objects.count() == 1
    assert [(item.variant, item.line.quantity) for item in response.context["cart"].lines] == [(mug, 2)]
    # A new token: the mug can be ordered now.
    again = shopper.place()
    assert again["Location"] != placed["Location"] and again["Location"].startswith("/payments/order/")
    assert Order.objects.count() == 2
    assert [(line.sku, line.quantity) for line in Order.objects.latest("pk").lines.all()] == [(mug.sku, 2)]
