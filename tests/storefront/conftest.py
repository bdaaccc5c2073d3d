import re
from decimal import Decimal

import pytest

from tests.factories import ShippingMethodFactory, stocked_variant

ADDRESS = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "",
}


@pytest.fixture(params=["checkout", "cart"], ids=["reserve-on-checkout", "reserve-on-cart"])
def reserve_on(request, settings):
    """Runs a test once with each STOCK_RESERVE_ON: the shop's promises hold in both."""
    settings.STOCK_RESERVE_ON = request.param
    return request.param


@pytest.fixture
def shipping(db):
    return ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


@pytest.fixture
def variant(db):
    return stocked_variant(on_hand=3, price=Decimal("23.00"), product__title="Linen Shirt")


class Shopper:
    """Drives the shop's HTML pages the way a browser would."""

    def __init__(self, client):
        self.client = client

    def add(self, variant, quantity=1):
        return self.client.post(variant.product.get_absolute_url(), {"variant": variant.pk, "quantity": quantity})

    def checkout(self, shipping, **overrides):
        return self.client.post("/checkout/", {**ADDRESS, "shipping_method": shipping.pk, **overrides})

    def fingerprint(self):
        page = self.client.get("/checkout/review/").content.decode()
        return re.search(r'name="fingerprint" value="([^"]+)"', page).group(1)

    def place(self, fingerprint=None):
        return self.client.post("/checkout/place/", {"fingerprint": fingerprint or self.fingerprint()})

    def buy(self, variant, shipping, quantity=1):
        """Add → checkout → place order; returns the response of Place order."""
        self.add(variant, quantity)
        self.checkout(shipping)
        return self.place()

    def pay(self, place_response, outcome="pay"):
        pay_url = place_response["Location"]
        response = self.client.post(pay_url, {"gateway": "dummy"})
        dummy_url = response["Location"]  # /payments/dummy/<reference>/
        assert dummy_url.startswith("/payments/dummy/"), dummy_url
        reference = dummy_url.rstrip("/").rsplit("/", 1)[-1]
        return self.client.post(f"/payments/dummy/{reference}/complete/", {"outcome": outcome})


@pytest.fixture
def shopper(client):
    return Shopper(client)
