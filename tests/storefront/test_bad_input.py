"""Bad input on every shop form gives a form error (never a 500) and changes nothing, whether
stock is reserved at Place order or at add-to-cart."""

from decimal import Decimal

import pytest

from cart.models import CartLine
from inventory.selectors import availability
from orders.models import Order
from payments.models import Payment
from tests.factories import stocked_variant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reserve_on")]

BAD_QUANTITIES = ["0", "-1", str(10**9), "three", "", "1.5", "1e3"]


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_add_to_cart_rejects_bad_quantities(shopper, variant, quantity):
    response = shopper.client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": quantity})
    assert response.status_code == 200
    assert response.context["form"].errors["quantity"]
    assert CartLine.objects.count() == 0


@pytest.mark.parametrize("variant_id", ["999999", "abc", "", "-5"])
def test_add_to_cart_rejects_unknown_variant_ids(shopper, variant, variant_id):
    response = shopper.client.post(variant.product.get_absolute_url(), {"variant": variant_id, "quantity": 1})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert CartLine.objects.count() == 0


def test_add_to_cart_rejects_a_variant_of_another_product(shopper, variant):
    other = stocked_variant(on_hand=5)
    response = shopper.client.post(variant.product.get_absolute_url(), {"variant": other.pk, "quantity": 1})
    assert response.context["form"].errors["variant"]
    assert CartLine.objects.count() == 0


def test_add_to_cart_refuses_more_than_is_available(shopper, variant):
    response = shopper.client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 4})
    assert "Only 3" in response.context["form"].errors["quantity"][0]
    assert CartLine.objects.count() == 0


def test_a_tampered_price_is_ignored(shopper, variant, shipping):
    shopper.client.post(
        variant.product.get_absolute_url(),
        {"variant": variant.pk, "quantity": 1, "price": "0.01", "unit_price": "0.01"},
    )
    shopper.checkout(shipping, price="0.01", total="0.01")
    shopper.place()
    assert Order.objects.get().total == Decimal("28.00")


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_cart_update_rejects_bad_quantities(shopper, variant, quantity):
    shopper.add(variant, 2)
    line = CartLine.objects.get()
    response = shopper.client.post(f"/cart/lines/{line.pk}/", {"quantity": quantity})
    assert response.status_code == 200
    assert response.context["line_errors"][line.pk]
    line.refresh_from_db()
    assert line.quantity == 2


def test_cart_update_of_someone_elses_line_changes_nothing(shopper, variant, client_factory=None):
    from django.test import Client

    other = Client()
    other.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": 1})
    line = CartLine.objects.get()
    response = shopper.client.post(f"/cart/lines/{line.pk}/", {"quantity": 2})
    assert response.status_code in (200, 302)
    shopper.client.post(f"/cart/lines/{line.pk}/remove/", {})
    line.refresh_from_db()
    assert line.quantity == 1


@pytest.mark.parametrize(
    "field,value",
    [
        ("email", "not-an-email"),
        ("name", ""),
        ("country", "XX"),
        ("shipping_method", "999999"),
        ("shipping_method", "abc"),
        ("postal_code", "x" * 50),
        ("line1", ""),
    ],
)
def test_checkout_details_reject_bad_input(shopper, variant, shipping, field, value):
    shopper.add(variant)
    response = shopper.checkout(shipping, **{field: value})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert "checkout_details" not in shopper.client.session


def test_place_order_with_a_tampered_fingerprint_places_nothing(shopper, variant, shipping):
    shopper.add(variant)
    shopper.checkout(shipping)
    before = availability([variant.pk])[variant.pk]  # 3, or 2 while the cart holds its unit
    response = shopper.place(fingerprint="tampered")
    assert response.status_code == 302 and response["Location"] == "/checkout/review/"
    assert Order.objects.count() == 0
    assert availability([variant.pk])[variant.pk] == before


def test_place_order_after_a_price_change_asks_for_a_new_review(shopper, variant, shipping):
    shopper.add(variant)
    shopper.checkout(shipping)
    fingerprint = shopper.fingerprint()
    variant.price = Decimal("99.00")
    variant.save()
    shopper.place(fingerprint)
    assert Order.objects.count() == 0


def test_place_order_with_an_empty_cart_places_nothing(shopper, shipping):
    response = shopper.client.post("/checkout/place/", {"fingerprint": "x"})
    assert response.status_code == 302
    assert Order.objects.count() == 0


@pytest.mark.parametrize("gateway", ["", "stripe-ish", "<script>"])
def test_pay_with_an_unknown_gateway_starts_no_payment(shopper, variant, shipping, gateway):
    placed = shopper.buy(variant, shipping)
    response = shopper.client.post(placed["Location"], {"gateway": gateway})
    assert response.status_code == 302
    assert Payment.objects.count() == 0


def test_dummy_gateway_rejects_an_unknown_outcome(shopper, variant, shipping):
    placed = shopper.buy(variant, shipping)
    shopper.client.post(placed["Location"], {"gateway": "dummy"})
    payment = Payment.objects.get()
    response = shopper.client.post(f"/payments/dummy/{payment.reference}/complete/", {"outcome": "maybe"})
    assert response.status_code == 404
    assert Order.objects.get().status == Order.Status.PENDING_PAYMENT


def test_unknown_pages_answer_404(client, db):
    for url in ["/products/no-such-thing/", "/payments/order/nope/", "/payments/dummy/nope/", "/orders/XXXX/nope/"]:
        assert client.get(url).status_code == 404
