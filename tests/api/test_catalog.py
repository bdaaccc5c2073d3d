"""GET products/, products/<handle>/, categories/: open to everyone, lists paginated."""

from datetime import timedelta
from decimal import Decimal

import pytest

from catalog.models import ProductImage
from inventory.services import StockLine, stock_reserve
from tests.factories import CategoryFactory, ProductFactory, VariantFactory, stocked_variant

from .conftest import assert_error

pytestmark = pytest.mark.django_db


def titles(response):
    return [item["title"] for item in response.json()["data"]]


def test_it_lists_published_products_in_the_page_shape(api, variant):
    ProductFactory(title="Hidden", published=False)
    response = api.get("/api/v1/products/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "total", "page", "totalPages", "suggestion"}
    assert body["suggestion"] is None
    assert (body["total"], body["page"], body["totalPages"]) == (1, 1, 1)
    item = body["data"][0]
    assert item["handle"] == "linen-shirt"
    assert item["min_price"] == "23.00"
    assert item["currency"] == "USD"
    assert item["in_stock"] is True
    assert item["image"] is None


def test_it_pages_with_page_and_limit(api, db):
    for n in range(5):
        stocked_variant(product__title=f"Item {n}")
    response = api.get("/api/v1/products/", {"limit": 2, "page": 3})
    body = response.json()
    assert (body["total"], body["page"], body["totalPages"]) == (5, 3, 3)
    assert titles(response) == ["Item 4"]
    assert api.get("/api/v1/products/", {"limit": 2, "page": 9}).json()["data"] == []


def test_it_defaults_to_20_per_page(api, db):
    for n in range(21):
        VariantFactory(product__title=f"Item {n:02d}")
    body = api.get("/api/v1/products/").json()
    assert len(body["data"]) == 20
    assert body["totalPages"] == 2


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"min_price": "cheap"}, "min_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"min_price": "10", "max_price": "5"}, "max_price"),
        ({"ordering": "random"}, "ordering"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"category": "not a slug"}, "category"),
    ],
)
def test_it_rejects_bad_query_parameters_with_400(api, db, params, field):
    error = assert_error(api.get("/api/v1/products/", params), 400, "invalid")
    assert field in error["fields"]


def test_it_filters_by_category_query_price_and_stock(api, db):
    shirts = CategoryFactory(slug="shirts")
    stocked_variant(product__title="Linen Shirt", product__category=shirts, price=Decimal("30.00"))
    stocked_variant(product__title="Wool Shirt", product__category=shirts, price=Decimal("80.00"), sku="WOOL-1")
    VariantFactory(product__title="Silk Shirt", product__category=shirts, price=Decimal("50.00"))  # no stock
    stocked_variant(product__title="Linen Trousers", price=Decimal("40.00"))

    assert titles(api.get("/api/v1/products/", {"category": "shirts"})) == ["Linen Shirt", "Silk Shirt", "Wool Shirt"]
    assert titles(api.get("/api/v1/products/", {"q": "linen"})) == ["Linen Shirt", "Linen Trousers"]
    assert titles(api.get("/api/v1/products/", {"q": "wool-1"})) == ["Wool Shirt"]
    assert titles(api.get("/api/v1/products/", {"min_price": "35", "max_price": "60"})) == [
        "Linen Trousers",
        "Silk Shirt",
    ]
    assert titles(api.get("/api/v1/products/", {"category": "shirts", "in_stock": "true"})) == [
        "Linen Shirt",
        "Wool Shirt",
    ]
    assert titles(api.get("/api/v1/products/", {"ordering": "-price", "limit": 2})) == ["Wool Shirt", "Silk Shirt"]
    assert api.get("/api/v1/products/", {"category": "no-such"}).json()["total"] == 0


def test_the_detail_shows_variants_with_live_availability(api, variant):
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:TEST", ttl=timedelta(minutes=5))
    sold_out = VariantFactory(product=variant.product, option1_value="XL", position=2)
    response = api.get("/api/v1/products/linen-shirt/")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Linen Shirt"
    assert body["currency"] == "USD"
    first, second = body["variants"]
    assert (first["sku"], first["available"], first["in_stock"], first["price"]) == (variant.sku, 1, True, "23.00")
    assert (second["sku"], second["available"], second["in_stock"]) == (sold_out.sku, 0, False)


def test_the_detail_gives_images_with_absolute_srcset_urls(api, variant):
    ProductImage.objects.create(
        product=variant.product,
        alt="Front",
        thumbnails={"400": "products/linen-shirt/front-400.webp", "200": "products/linen-shirt/front-200.webp"},
    )
    image = api.get("/api/v1/products/linen-shirt/").json()["images"][0]
    assert image["alt"] == "Front"
    assert image["srcset"] == (
        "http://testserver/media/products/linen-shirt/front-200.webp 200w, "
        "http://testserver/media/products/linen-shirt/front-400.webp 400w"
    )
    assert image["thumbnail"] == "http://testserver/media/products/linen-shirt/front-200.webp"
    listed = api.get("/api/v1/products/").json()["data"][0]["image"]
    assert listed["url"] == "http://testserver/media/products/linen-shirt/front-400.webp"


def test_an_unknown_or_unpublished_product_is_404(api, db):
    ProductFactory(handle="draft", published=False)
    assert_error(api.get("/api/v1/products/nope/"), 404, "not_found")
    assert_error(api.get("/api/v1/products/draft/"), 404, "not_found")


def test_categories_lists_those_with_published_products(api, variant):
    CategoryFactory(name="Empty", slug="empty")
    body = api.get("/api/v1/categories/").json()
    assert body["total"] == 1
    assert body["data"] == [{"name": variant.product.category.name, "slug": variant.product.category.slug}]


def test_catalog_reads_do_not_grow_with_the_page(api, db, django_assert_max_num_queries):
    for n in range(15):
        stocked_variant(product__title=f"Item {n}")
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/v1/products/").json()["data"]) == 15


def test_a_handle_with_a_nul_byte_is_404_not_500(api, db):
    assert_error(api.get("/api/v1/products/a%00b/"), 404, "not_found")


def test_a_query_with_a_nul_byte_is_400_not_500(api, db):
    error = assert_error(api.get("/api/v1/products/", {"q": "a\x00b"}), 400, "invalid")
    assert "q" in error["fields"]
