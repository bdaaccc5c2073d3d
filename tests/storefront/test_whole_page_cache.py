"""
Whole catalog pages for visitors without a session (storefront/page_cache.py): served from
the cache with no SQL at all, each visitor with their own CSRF token and each response with
its own CSP nonce; anyone with a session gets the page rendered for them. These tests commit
for real (transaction=True): the cache's version tokens change on commit.
"""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.services import _gathered, product_view_key
from storefront.page_cache import CSRF_MARK, NONCE_MARK
from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')
NONCE_VALUE = re.compile(r'<script type="application/ld\+json" nonce="([^"]*)"')


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 300
    settings.PRODUCT_VIEWS_BUFFER_SECONDS = 0
    cache.clear()
    _gathered.clear()
    yield
    cache.clear()
    _gathered.clear()


@pytest.fixture
def shirt():
    return stocked_variant(
        on_hand=3, product__title="Linen Shirt", product__handle="linen-shirt", price=Decimal("30.00")
    ).product


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, len(queries)


@pytest.mark.parametrize("url", ["/", "/products/", "/products/?q=linen&in_stock=on", "/products/linen-shirt/"])
def test_a_visitor_without_a_session_is_served_the_whole_page_with_no_sql(shirt, url):
    first, first_queries = _get(Client(), url)
    again, queries = _get(Client(), url)

    assert first_queries > 0
    assert queries == 0
    assert "Linen Shirt" in again.content.decode()
    assert again["Content-Type"] == first["Content-Type"]


def test_each_visitor_gets_their_own_csrf_token_and_can_add_to_the_cart(shirt):
    alice, bob = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    pages = [_get(visitor, shirt.get_absolute_url())[0] for visitor in (alice, bob)]
    tokens = [CSRF_VALUE.findall(page.content.decode()) for page in pages]

    assert all(tokens) and CSRF_MARK not in pages[1].content.decode()
    assert tokens[0][0] != tokens[1][0]
    # Bob's page came from the cache: his cookie is set, and only his own token goes with it.
    assert "csrftoken" in pages[1].cookies
    variant = shirt.variants.get()
    assert (
        bob.post(
            shirt.get_absolute_url(), {"variant": variant.pk, "quantity": 1, "csrfmiddlewaretoken": tokens[0][0]}
        ).status_code
        == 403
    )
    for visitor, own in zip((alice, bob), tokens, strict=True):
        response = visitor.post(
            shirt.get_absolute_url(), {"variant": variant.pk, "quantity": 1, "csrfmiddlewaretoken": own[0]}
        )
        assert response.status_code == 302, response.content.decode()[:500]


def test_each_response_names_its_own_csp_nonce_on_its_scripts(shirt):
    responses = [_get(Client(), shirt.get_absolute_url())[0] for _ in range(3)]
    nonces = []
    for response in responses:
        html = response.content.decode()
        (nonce,) = set(NONCE_VALUE.findall(html))
        assert NONCE_MARK not in html
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
        nonces.append(nonce)
    assert len(set(nonces)) == 3


def test_a_shopper_with_a_cart_sees_their_own_header_and_the_others_keep_the_stored_page(shirt):
    _get(Client(), "/products/")
    shopper = Client()
    variant = shirt.variants.get()
    assert shopper.post(shirt.get_absolute_url(), {"variant": variant.pk, "quantity": 2}).status_code == 302
    assert "Added 2" in shopper.get("/cart/").content.decode()  # the message read: its cookie goes

    theirs, queries = _get(shopper, "/products/")
    stranger, stranger_queries = _get(Client(), "/products/")

    count = re.compile(r"data-cart-count>(\d+)<")
    assert count.findall(theirs.content.decode()) == ["2"] and queries > 0
    assert count.findall(stranger.content.decode()) == ["0"] and stranger_queries == 0


def test_a_page_served_whole_still_counts_a_view_of_the_product(shirt):
    for _ in range(3):
        _get(Client(), shirt.get_absolute_url())

    assert cache.get(product_view_key(shirt.pk)) == 3


def test_a_price_change_shows_on_the_next_whole_page(shirt):
    _get(Client(), shirt.get_absolute_url())
    variant = shirt.variants.get()
    variant.price = Decimal("24.00")
    variant.save()

    page, queries = _get(Client(), shirt.get_absolute_url())
    assert "$24.00" in page.content.decode() and "$30.00" not in page.content.decode()
    assert queries > 0


@pytest.mark.parametrize(
    ("url", "tagged"),
    [
        ("/products/?q=linen&in_stock=on", "/products/?utm_source=news&q=linen&utm_campaign=may&in_stock=on&gclid=abc"),
        (
            "/products/linen-shirt/",
            "/products/linen-shirt/?fbclid=x1&mc_cid=7&utm_medium=email&srsltid=AfmB&gad_source=1",
        ),
    ],
)
def test_a_link_with_tracking_parameters_is_served_the_page_of_the_same_link_without_them(shirt, url, tagged):
    _get(Client(), url)

    again, queries = _get(Client(), tagged)

    assert queries == 0
    html = again.content.decode()
    assert "Linen Shirt" in html
    for name in ("utm_", "gclid", "fbclid", "mc_cid"):
        assert name not in html


def test_a_tracked_link_stores_the_page_without_its_tracking_parameters_in_its_links(shirt):
    first, _ = _get(Client(), "/products/?q=linen&utm_source=news")
    plain, queries = _get(Client(), "/products/?q=linen")

    assert "utm_source" not in first.content.decode()
    assert queries == 0
    # A parameter the page does read still makes a page of its own.
    assert _get(Client(), "/products/?q=shirt&utm_source=news")[1] > 0
