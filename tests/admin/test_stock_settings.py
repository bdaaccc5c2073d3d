"""Stock settings in the back office: backorder policy and low-stock threshold on the
variant's page (saved through inventory.services, never touching on_hand), the "Low stock"
filter, and the read-only list of back-in-stock requests."""

from datetime import timedelta

import pytest
from django.urls import reverse

from inventory.models import BackInStockRequest, StockItem, StockMovement
from inventory.services import StockLine, stock_commit, stock_policy_set, stock_reserve, stock_threshold_set
from tests.factories import stocked_variant

from .test_catalog import change_url, post_data_of

pytestmark = pytest.mark.django_db

CONTINUE = StockItem.BackorderPolicy.CONTINUE
DENY = StockItem.BackorderPolicy.DENY
VARIANTS = reverse("admin:catalog_productvariant_changelist")


def test_staff_set_the_backorder_policy_and_threshold_on_the_variant_page(staff_client):
    variant = stocked_variant(on_hand=6)
    url = change_url(variant)
    data = post_data_of(staff_client.get(url))
    data.update(backorder_policy=CONTINUE, low_stock_threshold="4")

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    item = StockItem.objects.get(variant=variant)
    assert (item.backorder_policy, item.low_stock_threshold, item.on_hand) == (CONTINUE, 4, 6)
    assert StockMovement.objects.filter(variant=variant).count() == 1


def test_the_variant_page_shows_the_current_settings(staff_client):
    variant = stocked_variant(on_hand=1)
    stock_policy_set(variant=variant, backorder_policy=CONTINUE)
    stock_threshold_set(variant=variant, low_stock_threshold=9)

    form = staff_client.get(change_url(variant)).context["adminform"].form

    assert (form["backorder_policy"].value(), form["low_stock_threshold"].value()) == (CONTINUE, 9)
    assert "on_hand" not in form.fields


def test_stopping_backorders_while_units_are_owed_is_a_form_error(staff_client):
    variant = stocked_variant(on_hand=1)
    stock_policy_set(variant=variant, backorder_policy=CONTINUE)
    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:A", ttl=timedelta(minutes=5))
    stock_commit(owner="order:A", reference="A")
    url = change_url(variant)
    data = post_data_of(staff_client.get(url))
    data["backorder_policy"] = DENY

    response = staff_client.post(url, data)

    assert response.status_code == 200
    assert "2 unit(s) are owed" in str(response.context["adminform"].form.errors["backorder_policy"])
    assert StockItem.objects.get(variant=variant).backorder_policy == CONTINUE


def test_a_threshold_below_one_is_a_form_error(staff_client):
    variant = stocked_variant(on_hand=1)
    url = change_url(variant)
    data = post_data_of(staff_client.get(url))
    data["low_stock_threshold"] = "0"

    response = staff_client.post(url, data)

    assert response.status_code == 200
    assert "low_stock_threshold" in response.context["adminform"].form.errors


def test_the_low_stock_filter_lists_variants_at_or_below_their_threshold(staff_client):
    low = stocked_variant(on_hand=3, sku="LOW")
    stock_threshold_set(variant=low, low_stock_threshold=3)
    plenty = stocked_variant(on_hand=10, sku="PLENTY")
    stock_threshold_set(variant=plenty, low_stock_threshold=3)
    stocked_variant(on_hand=0, sku="UNWATCHED")

    cl = staff_client.get(VARIANTS, {"low_stock": "yes"}).context["cl"]

    assert [v.sku for v in cl.result_list] == ["LOW"]


def test_back_in_stock_requests_are_listed_and_filtered_read_only(staff_client):
    variant = stocked_variant(on_hand=0, sku="GONE")
    BackInStockRequest.objects.create(variant=variant, email="waiting@example.com")
    done = BackInStockRequest.objects.create(variant=variant, email="told@example.com")
    BackInStockRequest.objects.filter(pk=done.pk).update(notified_at=done.created_at)
    url = reverse("admin:inventory_backinstockrequest_changelist")

    waiting = staff_client.get(url, {"status": "pending"}).context["cl"]

    assert [r.email for r in waiting.result_list] == ["waiting@example.com"]
    assert staff_client.get(reverse("admin:inventory_backinstockrequest_change", args=[done.pk])).status_code == 200
    assert staff_client.get(reverse("admin:inventory_backinstockrequest_add")).status_code == 403
