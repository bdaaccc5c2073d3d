"""The cart page as shoppers see it: every line with a thumbnail (the product's first image;
a variant has none of its own; else a neutral placeholder), its option values, a quantity
stepper that works without JavaScript, and no SKU anywhere."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import ProductImage
from orders.models import Order
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.storefront.conftest import Shopper

pytestmark = pytest.mark.django_db


def _lines(page: str) -> dict[str, str]:
    """Each cart line's markup by its data-line id."""
    return dict(re.findall(r'<li class="cart-line[^"]*" data-line="(\d+)">(.*?)</li>', page, re.S))


def test_every_line_has_a_thumbnail_and_no_line_shows_its_sku(client):
    shopper = Shopper(client)
    tee = stocked_variant(
        option1_value="M", option2_value="Oat", price=Decimal("38.00"), sku="TEE-M-OAT", product__title="Merino Tee"
    )
    # The product's images; the variant has none of its own: the first by position is shown.
    ProductImage.objects.create(product=tee.product, position=2, thumbnails={"200": "products/tee/back-200.webp"})
    ProductImage.objects.create(product=tee.product, position=1, thumbnails={"200": "products/tee/front-200.webp"})
    spoon = stocked_variant(price=Decimal("12.00"), sku="SPOON-1", product__title="Olive Spoon")  # no image at all
    shopper.add(tee, 2)
    shopper.add(spoon, 1)

    page = client.get("/cart/").content.decode()

    lines = list(_lines(page).values())
    assert len(lines) == 2
    tee_line, spoon_line = lines
    assert re.search(r'<img class="thumb" src="[^"]*/products/tee/front-200\.webp"', tee_line)
    assert 'class="thumb thumb--placeholder" src="/static/img/placeholder.svg"' in spoon_line
    assert "Merino Tee" in tee_line and "M / Oat" in tee_line and "$38.00" in tee_line and "$76.00" in tee_line
    # No SKU for shoppers: no column, no code.
    assert "SKU" not in page and "TEE-M-OAT" not in page and "SPOON-1" not in page
    assert "<table" not in page
    # The summary box: subtotal, then on to checkout.
    assert re.search(r"data-subtotal>\$88\.00<", page)
    assert "Check out" in page


def test_the_quantity_stepper_updates_the_line_without_javascript(client):
    shopper = Shopper(client)
    variant = stocked_variant(price=Decimal("10.00"))
    shopper.add(variant, 1)
    page = client.get("/cart/").content.decode()
    [(line_id, line)] = _lines(page).items()
    assert "data-qty-stepper" in line and 'aria-label="Increase quantity' in line
    action = re.search(r'<form class="cart-line__qty" method="post" action="([^"]+)"', line).group(1)
    assert (
        '<noscript><button type="submit" class="btn btn--link btn--small" data-cart-update>Update</button></noscript>'
        in line
    )  # the form's own submit button, without JavaScript

    response = client.post(action, {"quantity": 3})

    assert response.status_code == 302
    page = client.get("/cart/").content.decode()
    assert 'value="3"' in _lines(page)[line_id] and "$30.00" in page


def test_the_emptied_cart_points_to_the_order_waiting_for_payment(client):
    shopper = Shopper(client)
    placed = shopper.buy(stocked_variant(), ShippingMethodFactory())
    order = Order.objects.get()

    page = client.get("/cart/").content.decode()

    assert "Your cart is empty." in page
    assert f"Your order {order.number} is waiting for payment" in page
    assert f'href="/payments/order/{order.access_token}/"' in page and "data-countdown" in page
    shopper.pay(placed)
    assert "waiting for payment" not in client.get("/cart/").content.decode()
    # Another browser's cart knows nothing of it.
    assert "waiting for payment" not in Client().get("/cart/").content.decode()


def _lines_read(client) -> tuple[str, int, int]:
    """GET /cart/: the page, its number of queries, and how many of them read cart lines."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/cart/").content.decode()
    return page, len(queries), sum('FROM "cart_cartline"' in query["sql"] for query in queries.captured_queries)


def test_the_header_counts_the_units_of_the_lines_the_page_shows_and_reads_them_once(client):
    shopper = Shopper(client)
    shopper.add(stocked_variant(price=Decimal("10.00")), 2)
    page, queries, line_reads = _lines_read(client)
    assert re.search(r"data-cart-count>2<", page) and line_reads == 1
    shopper.add(stocked_variant(price=Decimal("12.00")), 3)
    shopper.add(stocked_variant(price=Decimal("14.00")), 1)
    page, queries_for_3, line_reads = _lines_read(client)
    assert re.search(r"data-cart-count>6<", page) and line_reads == 1
    assert queries_for_3 == queries
