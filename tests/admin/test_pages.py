"""Every admin page loads for staff, with data present, in a number of queries that does not
grow with the number of rows."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin.conftest import populate

pytestmark = pytest.mark.django_db

LOCAL_APPS = ("accounts", "catalog", "inventory", "orders", "payments", "cart", "checkout")

ADMIN_MODELS = [
    "accounts.user",
    "catalog.category",
    "catalog.product",
    "catalog.productvariant",
    "catalog.productreview",
    "inventory.stockitem",
    "inventory.stockmovement",
    "inventory.reservation",
    "inventory.backinstockrequest",
    "orders.order",
    "orders.sweeprun",
    "payments.payment",
    "payments.refund",
    "payments.webhookevent",
    "cart.cart",
    "checkout.shippingmethod",
    "checkout.taxrate",
    "checkout.voucher",
    "checkout.voucherredemption",
]

ADDABLE = [
    "accounts.user",
    "catalog.category",
    "catalog.product",
    "catalog.productvariant",
    "checkout.shippingmethod",
    "checkout.taxrate",
    "checkout.voucher",
]


def _url(label: str, view: str, *args) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def test_every_model_admin_of_the_shop_is_covered_here():
    registered = {
        model._meta.label_lower
        for label in LOCAL_APPS
        for model in apps.get_app_config(label).get_models()
        if admin.site.is_registered(model)
    }
    assert registered == set(ADMIN_MODELS)


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_staff_can_open_the_changelist(staff_client, shop, label):
    response = staff_client.get(_url(label, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_staff_can_open_the_change_page(staff_client, shop, label):
    obj = apps.get_model(label).objects.order_by("pk").last()
    response = staff_client.get(_url(label, "change", obj.pk))
    assert response.status_code == 200


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_staff_can_search_the_changelist(staff_client, shop, label):
    response = staff_client.get(_url(label, "changelist"), {"q": "1"})
    assert response.status_code == 200


@pytest.mark.parametrize("label", ADDABLE)
def test_staff_can_open_the_add_page(staff_client, label):
    assert staff_client.get(_url(label, "add")).status_code == 200


@pytest.mark.parametrize(
    "label",
    sorted(set(ADMIN_MODELS) - set(ADDABLE)),
)
def test_rows_written_by_services_cannot_be_added_in_the_admin(staff_client, label):
    assert staff_client.get(_url(label, "add")).status_code == 403


@pytest.mark.parametrize(
    "label",
    [
        "inventory.stockitem",
        "inventory.stockmovement",
        "inventory.reservation",
        "inventory.backinstockrequest",
        "orders.order",
        "orders.sweeprun",
        "payments.payment",
        "payments.refund",
        "payments.webhookevent",
        "cart.cart",
    ],
)
def test_rows_written_by_services_cannot_be_deleted_in_the_admin(staff_client, shop, label):
    obj = apps.get_model(label).objects.order_by("pk").last()
    assert staff_client.get(_url(label, "delete", obj.pk)).status_code == 403


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_changelist_query_count_does_not_grow_with_rows(staff_client, label):
    populate(2)
    url = _url(label, "changelist")
    with_two = _queries(staff_client, url)
    populate(8)
    assert _queries(staff_client, url) == with_two


def test_variant_changelist_computes_stock_figures_in_a_handful_of_queries(staff_client, django_assert_max_num_queries):
    populate(10)
    # Session, user, counts and the page itself; never one query per row.
    with django_assert_max_num_queries(6):
        staff_client.get(_url("catalog.productvariant", "changelist"))
