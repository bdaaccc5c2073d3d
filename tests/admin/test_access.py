"""Only staff reach the back office; everyone else is sent to the admin login."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory, stocked_variant

pytestmark = pytest.mark.django_db


def admin_urls(variant) -> list[str]:
    return [
        reverse("admin:index"),
        reverse("admin:catalog_productvariant_changelist"),
        reverse("admin:catalog_productvariant_change", args=[variant.pk]),
        reverse("admin:catalog_productvariant_adjust_stock", args=[variant.pk]),
        reverse("admin:inventory_reservation_changelist"),
        reverse("admin:orders_order_changelist"),
    ]


def assert_sent_to_admin_login(response, url):
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert f"next={url}" in response.url


def test_shoppers_are_redirected_to_the_admin_login(client):
    variant = stocked_variant(on_hand=5)
    client.force_login(UserFactory())
    for url in admin_urls(variant):
        assert_sent_to_admin_login(client.get(url), url)


def test_anonymous_visitors_are_redirected_to_the_admin_login(client):
    variant = stocked_variant(on_hand=5)
    for url in admin_urls(variant):
        assert_sent_to_admin_login(client.get(url), url)


def test_a_shopper_cannot_adjust_stock_by_posting(client):
    variant = stocked_variant(on_hand=5)
    client.force_login(UserFactory())
    url = reverse("admin:catalog_productvariant_adjust_stock", args=[variant.pk])
    response = client.post(url, {"quantity": "100", "reason": "receipt"})
    assert_sent_to_admin_login(response, url)
    assert variant.stock.on_hand == 5
