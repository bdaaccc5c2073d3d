from decimal import Decimal

import pytest

from tests.factories import stocked_variant
from tests.storefront.conftest import Shopper, shipping  # noqa: F401 - shipping: a fixture, shared


@pytest.fixture
def shopper(client):
    """Drives the HTML pages like a browser (see tests.storefront.conftest.Shopper)."""
    return Shopper(client)


@pytest.fixture
def variant(db):
    return stocked_variant(on_hand=3, price=Decimal("23.00"), product__title="Linen Shirt")
