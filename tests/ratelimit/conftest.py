import time
from decimal import Decimal
from types import SimpleNamespace

import django_ratelimit.core
import pytest
from django.core.cache import cache

from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant
from tests.storefront.conftest import Shopper

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _tiers(settings):
    """The default tiers (config/settings/base.py; config/settings/test.py sets generous ones
    for the rest of the suite), and no counter left over from another test."""
    settings.RATELIMIT_GENERAL = "200/15m"
    settings.RATELIMIT_STOCK = "20/15m"
    settings.RATELIMIT_AUTH = "10/15m"
    settings.RATELIMIT_WEBHOOK = "200/15m"
    settings.RATELIMIT_STAFF = "500/15m"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _one_window(monkeypatch):
    """django-ratelimit counts in fixed windows (15 minutes here, each key's ending at its own
    second) and its counter starts again at zero in the next one: a test whose 21 requests
    straddled a window's end would see the 21st let through. Its clock stands still for the
    length of a test, so every request of a test falls in one window; the counting, the
    limits and Retry-After are django-ratelimit's own."""
    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def user(db):
    return UserFactory(email="ada@example.com", password=PASSWORD)


@pytest.fixture
def variant(db):
    return stocked_variant(on_hand=100, price=Decimal("23.00"), product__title="Linen Shirt")


@pytest.fixture
def shipping(db):
    return ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


@pytest.fixture
def shopper(client):
    return Shopper(client)


def assert_limited(response, *, window=15 * 60):
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= window
