"""The admin actions "Export selected products / customers / orders (Shopify CSV)": the
selected rows, streamed, the same bytes the export commands write; the model's view
permission is all they need, and without it there is no export."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog.models import Product
from inventory.product_export import PRODUCT_COLUMNS, product_rows
from kernel.csvfiles import csv_write
from orders.customer_export import CUSTOMER_COLUMNS, customer_rows, customers_to_export
from orders.models import Order
from orders.order_export import ORDER_COLUMNS, order_rows
from tests.factories import ProductFactory, UserFactory, VariantFactory, stocked_variant

from .conftest import place_order

pytestmark = pytest.mark.django_db

ACTION = "export_shopify_csv"
PRODUCTS = reverse("admin:catalog_product_changelist")
USERS = reverse("admin:accounts_user_changelist")
ORDERS = reverse("admin:orders_order_changelist")


def clerk_who_may_view(client, codename: str | None):
    clerk = UserFactory(is_staff=True)
    if codename:
        clerk.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(clerk)
    return clerk


def export(client, url: str, pks) -> bytes:
    response = client.post(url, {"action": ACTION, "_selected_action": list(pks)})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content)


def written(header, rows) -> bytes:
    out = io.StringIO()
    csv_write(out, header, rows)
    return out.getvalue().encode()


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def action_choices(client, url: str) -> set[str]:
    page = client.get(url)
    assert page.status_code == 200
    return {name for name, _label in page.context["action_form"].fields["action"].choices}


def test_staff_who_may_view_products_export_the_selected_ones(client):
    lamp = ProductFactory(handle="lamp", title="=Lamp")  # not escaped: the file is for re-import
    stocked_variant(3, product=lamp, sku="LAMP")
    vase = ProductFactory(handle="vase")
    VariantFactory(product=vase, sku="VASE-S", option1_value="S")
    VariantFactory(product=vase, sku="VASE-L", option1_value="L", position=2)
    VariantFactory(product=ProductFactory(handle="bowl"), sku="BOWL")
    clerk_who_may_view(client, "view_product")

    assert ACTION in action_choices(client, PRODUCTS)
    data = export(client, PRODUCTS, [lamp.pk, vase.pk])

    rows = rows_of(data)
    assert data.startswith(",".join(PRODUCT_COLUMNS).encode() + b"\n")
    assert [(r["Handle"], r["Variant SKU"]) for r in rows] == [("lamp", "LAMP"), ("vase", "VASE-S"), ("vase", "VASE-L")]
    assert (rows[0]["Title"], rows[0]["Variant Inventory Qty"]) == ("=Lamp", "3")
    # What export_products writes for the same products.
    assert data == written(PRODUCT_COLUMNS, product_rows(Product.objects.filter(pk__in=[lamp.pk, vase.pk])))


def test_staff_who_may_view_customers_export_the_selected_ones_but_no_staff(client):
    ann = UserFactory(email="ann@example.com", first_name="Ann", tags="VIP, newsletter")
    bob = UserFactory(email="bob@example.com", first_name="Bob")
    UserFactory(email="cy@example.com")
    clerk = clerk_who_may_view(client, "view_user")

    assert ACTION in action_choices(client, USERS)
    data = export(client, USERS, [ann.pk, bob.pk, clerk.pk])

    rows = rows_of(data)
    assert data.startswith(",".join(CUSTOMER_COLUMNS).encode() + b"\n")
    assert [(r["Email"], r["First Name"]) for r in rows] == [("ann@example.com", "Ann"), ("bob@example.com", "Bob")]
    assert rows[0]["Tags"] == "VIP, newsletter"
    assert data == written(CUSTOMER_COLUMNS, customer_rows(customers_to_export().filter(pk__in=[ann.pk, bob.pk])))


def test_staff_who_may_view_orders_export_the_selected_ones(client):
    variant = stocked_variant(10, sku="MUG")
    first = place_order(variant, quantity=2, email="ann@example.com")
    place_order(variant, email="bob@example.com")
    third = place_order(variant, email="cy@example.com")
    clerk_who_may_view(client, "view_order")

    assert ACTION in action_choices(client, ORDERS)
    data = export(client, ORDERS, [third.pk, first.pk])

    rows = rows_of(data)
    assert data.startswith(",".join(ORDER_COLUMNS).encode() + b"\n")
    # Oldest first, one row per line, as export_orders writes them.
    assert [(r["Name"], r["Email"], r["Lineitem quantity"]) for r in rows] == [
        (first.number, "ann@example.com", "2"),
        (third.number, "cy@example.com", "1"),
    ]
    assert data == written(ORDER_COLUMNS, order_rows(Order.objects.filter(pk__in=[first.pk, third.pk])))


@pytest.mark.parametrize(
    ("url", "make"),
    [
        (PRODUCTS, lambda: VariantFactory(sku="LAMP").product),
        (USERS, lambda: UserFactory(email="ann@example.com")),
        (ORDERS, lambda: place_order(stocked_variant(5, sku="MUG"))),
    ],
)
def test_staff_who_may_not_view_the_model_get_no_export(client, url, make):
    selected = make()
    # Staff who may view something else, but not this model.
    clerk_who_may_view(client, "view_stockitem")

    assert client.get(url).status_code == 403
    response = client.post(url, {"action": ACTION, "_selected_action": [selected.pk]})

    assert response.status_code == 403
    assert not response.streaming
    assert b"Handle" not in response.content and b"Email" not in response.content
