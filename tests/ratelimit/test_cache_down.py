"""Redis down: the shop keeps selling. Rate limits fail open (skipped, with a warning) for
everything but sign-in, which fails closed; django-redis errors are read as cache misses."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from orders.models import Order
from tests.ratelimit.conftest import assert_limited

pytestmark = pytest.mark.django_db

# Nothing listens on port 1: every cache call fails at once.
REDIS_DOWN = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
        },
    }
}


@pytest.fixture
def redis_down(settings):
    settings.RATELIMIT_STOCK = "1/15m"  # would refuse the second stock operation if counted
    with override_settings(CACHES=REDIS_DOWN):
        yield
    caches["default"].close()


def test_add_to_cart_and_place_order_succeed_with_the_cache_down(redis_down, shopper, variant, shipping, caplog):
    assert shopper.client.get(variant.product.get_absolute_url()).status_code == 200  # view counter
    assert shopper.add(variant).status_code == 302
    assert shopper.checkout(shipping).status_code == 302
    response = shopper.place()
    assert response.status_code == 302, response.content[:500]
    assert Order.objects.count() == 1
    assert "not limiting (fail open)" in caplog.text


def test_sign_in_fails_closed_with_the_cache_down(redis_down, client, user):
    assert_limited(client.post("/accounts/login/", {"username": user.email, "password": "x"}), window=60)
