"""
The catalog page cache (catalog/cache.py) serves listings, the home grid, product pages and
the API's product list without touching the database, and never shows a price or an
availability older than the last commit. These tests commit for real (transaction=True):
the cache's version tokens change on commit.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.cache import product_cached
from catalog.services import reviews_moderate
from inventory.models import Reservation
from inventory.selectors import product_detail
from inventory.services import (
    StockLine,
    reservations_expire,
    stock_adjust,
    stock_commit,
    stock_release,
    stock_reserve,
)
from tests.factories import ProductFactory, UserFactory, stocked_variant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def _catalog_queries(client, url) -> tuple[str, list[str]]:
    """The page's body and the SQL it ran against catalog or inventory tables."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    sql = [q["sql"] for q in queries if "catalog_" in q["sql"] or "inventory_" in q["sql"]]
    return response.content.decode(), sql


def _reserve(variant, quantity, owner="cart:test"):
    return stock_reserve(lines=[StockLine(variant.pk, quantity)], owner=owner, ttl=timedelta(minutes=10))


@pytest.fixture
def shirt():
    return stocked_variant(
        on_hand=3, product__title="Linen Shirt", product__handle="linen-shirt", price=Decimal("30.00")
    )


@pytest.mark.parametrize(
    "url", ["/", "/products/", "/products/?q=linen&in_stock=on", "/products/linen-shirt/", "/api/v1/products/"]
)
def test_a_second_visit_reads_nothing_from_the_catalog_tables(client, shirt, url):
    first, sql = _catalog_queries(client, url)
    assert sql, "the first visit must read the database"
    second, sql = _catalog_queries(client, url)
    assert sql == []
    assert "Linen Shirt" in first and "Linen Shirt" in second


def test_the_product_page_shows_each_reservation_and_its_release_at_once(client, shirt):
    assert "Only 3 left" in client.get("/products/linen-shirt/").content.decode()
    _reserve(shirt, 2)
    assert "Only 1 left" in client.get("/products/linen-shirt/").content.decode()
    _reserve(shirt, 1, owner="cart:other")
    assert "Sold out" in client.get("/products/linen-shirt/").content.decode()
    stock_release(owner="cart:other")
    assert "Only 1 left" in client.get("/products/linen-shirt/").content.decode()


def test_the_listing_and_the_api_show_sold_out_as_soon_as_the_last_unit_is_reserved(client, shirt):
    assert "Sold out" not in client.get("/products/").content.decode()
    assert client.get("/api/v1/products/").json()["data"][0]["in_stock"] is True
    _reserve(shirt, 3)
    assert "Sold out" in client.get("/products/").content.decode()
    assert "Sold out" in client.get("/").content.decode()
    assert client.get("/api/v1/products/").json()["data"][0]["in_stock"] is False
    assert client.get("/products/?in_stock=on").context["page"].paginator.count == 0


def test_a_reservation_that_leaves_plenty_keeps_the_listings_cached_and_a_sale_changes_nothing(client):
    """Listings show sold out, or "Only N left" at 5 units or fewer, nothing finer: a hold of
    2 of 20 units retires the product's page, not them; turning the hold into a sale
    (stock_commit) changes no figure shown."""
    hat = stocked_variant(on_hand=20, product__title="Wool Hat", product__handle="wool-hat")
    for url in ("/", "/products/", "/api/v1/products/"):
        client.get(url)
    _reserve(hat, 2, owner="order:1")
    for url in ("/", "/products/", "/api/v1/products/"):
        _, sql = _catalog_queries(client, url)
        assert sql == [], url
    assert "In stock" in client.get("/products/wool-hat/").content.decode()
    stock_commit(owner="order:1", reference="order 1")
    page, sql = _catalog_queries(client, "/products/wool-hat/")
    assert sql == [] and "In stock" in page


def test_the_listings_show_each_change_of_a_low_count_at_once(client, shirt):
    """Shirt has 3 units: its card says "Only 3 left", then 1 after a hold of 2, then 3 again
    when the hold is released."""
    assert "Only 3 left" in client.get("/products/").content.decode()
    _reserve(shirt, 2, owner="order:1")
    for url in ("/", "/products/"):
        assert "Only 1 left" in client.get(url).content.decode(), url
    stock_release(owner="order:1")
    assert "Only 3 left" in client.get("/products/").content.decode()


def test_a_receipt_after_selling_out_puts_the_product_back_on_the_listings(client, shirt):
    _reserve(shirt, 3)
    assert "Sold out" in client.get("/products/").content.decode()
    stock_adjust(variant=shirt, quantity=2, reason="receipt")
    assert "Sold out" not in client.get("/products/").content.decode()
    assert client.get("/api/v1/products/").json()["data"][0]["in_stock"] is True


def test_a_receipt_and_the_sweep_show_units_coming_back(client, shirt):
    _reserve(shirt, 3)
    assert "Sold out" in client.get("/products/linen-shirt/").content.decode()
    stock_adjust(variant=shirt, quantity=1, reason="receipt")
    assert "Only 1 left" in client.get("/products/linen-shirt/").content.decode()
    # A hold that lapsed by the clock: the page learns it when the sweep marks it expired.
    Reservation.objects.filter(variant=shirt).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reservations_expire() == 1
    assert "Only 4 left" in client.get("/products/linen-shirt/").content.decode()


def test_a_price_change_shows_everywhere_at_once(client, shirt):
    for url in ("/", "/products/", "/products/linen-shirt/"):
        assert "30.00" in client.get(url).content.decode()
    assert client.get("/api/v1/products/").json()["data"][0]["min_price"] == "30.00"
    shirt.price = Decimal("24.50")
    shirt.save()
    for url in ("/", "/products/", "/products/linen-shirt/"):
        assert "24.50" in client.get(url).content.decode(), url
    assert client.get("/api/v1/products/").json()["data"][0]["min_price"] == "24.50"


def test_unpublishing_takes_the_product_off_every_page(client, shirt):
    assert client.get("/products/linen-shirt/").status_code == 200
    product = shirt.product
    product.published = False
    product.save()
    assert client.get("/products/linen-shirt/").status_code == 404
    assert "Linen Shirt" not in client.get("/products/").content.decode()


def test_a_sale_of_one_product_leaves_the_other_products_pages_cached(client, shirt):
    stocked_variant(on_hand=8, product__handle="wool-hat", product__title="Wool Hat")
    client.get("/products/wool-hat/")
    _reserve(shirt, 1)
    _, sql = _catalog_queries(client, "/products/wool-hat/")
    assert sql == []
    assert "Only 2 left" in client.get("/products/linen-shirt/").content.decode()


def test_moderating_a_review_shows_on_the_product_page(client, shirt):
    from catalog.models import ProductReview

    review = ProductReview.objects.create(
        product=shirt.product, user=UserFactory(first_name="Grace"), rating=5, title="Lovely", text="Soft linen."
    )
    assert "Soft linen." not in client.get("/products/linen-shirt/").content.decode()
    reviews_moderate(reviews=ProductReview.objects.filter(pk=review.pk), status=ProductReview.Status.APPROVED)
    page = client.get("/products/linen-shirt/").content.decode()
    assert "Soft linen." in page and "Grace" in page


def test_an_entry_built_from_data_read_before_a_commit_is_never_served_after_it(shirt):
    """The reader takes the tokens, reads the database, and (slowly) stores its entry; a
    reservation commits in between. The next reader must not get the stale entry."""

    def build_then_let_a_sale_commit():
        product = product_detail("linen-shirt")  # 3 available, read before the sale
        sale = threading.Thread(target=_reserve, args=(shirt, 2))
        sale.start()
        sale.join()
        return product

    stale = product_cached("linen-shirt", build_then_let_a_sale_commit)
    assert stale.variants.all()[0].available == 3
    fresh = product_cached("linen-shirt", lambda: product_detail("linen-shirt"))
    assert fresh.variants.all()[0].available == 1


def test_the_cached_product_holds_no_user_rows(shirt):
    """Reviews carry the reviewer's first name only: no password hash or email in the cache."""
    from catalog.models import ProductReview

    ProductReview.objects.create(
        product=shirt.product,
        user=UserFactory(first_name="Ada"),
        rating=4,
        text="Good.",
        status=ProductReview.Status.APPROVED,
    )
    product = product_cached("linen-shirt", lambda: product_detail("linen-shirt"))
    review = product.approved_reviews[0]
    assert review.reviewer_name == "Ada"
    assert "user" not in review._state.fields_cache


def test_pages_work_when_the_cache_server_is_down(client, settings, shirt):
    """Nothing listens on port 1: every cache call fails, django-redis ignores the error."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    for url in ("/", "/products/", "/products/linen-shirt/", "/api/v1/products/"):
        assert client.get(url).status_code == 200, url
    _reserve(shirt, 1)
    assert "Only 2 left" in client.get("/products/linen-shirt/").content.decode()


def test_an_unknown_handle_is_404_until_a_product_gets_it(client, db):
    assert client.get("/products/no-such-thing/").status_code == 404
    stocked_variant(product=ProductFactory(handle="no-such-thing", title="Late Arrival"))
    assert client.get("/products/no-such-thing/").status_code == 200
