"""The listing counts its products only as far as its page links need
(storefront/catalog/pagination.py): exactly up to COUNT_LIMIT, "More than N" beyond, with
no last page it does not know; the COUNT reads a bounded number of rows whatever the size of
the catalog."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category
from catalog.selectors import categories_with_products
from storefront.catalog import pagination
from tests.factories import CategoryFactory, ProductFactory, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    category = CategoryFactory(name="Shirts", slug="shirts")
    for i in range(25):
        stocked_variant(on_hand=2, product=ProductFactory(title=f"Shirt {i:02d}", category=category), price=Decimal(10))


def _count_and_links(client, url="/products/"):
    page = client.get(url).content.decode()
    count = re.search(r'class="muted listing__count">([^<]*)</p>', page).group(1)
    nav = page.split('class="pagination"')[1].split("</nav>")[0] if 'class="pagination"' in page else ""
    links = re.findall(r"(?:Page </span>(\d+))|(…)", nav)
    return count, [number or dots for number, dots in links]


def test_a_count_within_the_limit_is_exact_with_every_page_link(client, settings, catalog):
    settings.PRODUCTS_PER_PAGE = 5
    count, links = _count_and_links(client, "/products/?page=3")
    assert count == "25 products"
    assert links == ["1", "2", "3", "4", "5"]


def test_past_the_limit_it_says_more_than_and_links_no_last_page(client, settings, monkeypatch, catalog):
    settings.PRODUCTS_PER_PAGE = 2
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 10)
    count, links = _count_and_links(client)
    assert count == "More than 10 products"
    assert links == ["1", "2", "…"]
    # Further on, the count reaches past the page asked for: its neighbours are linked.
    count, links = _count_and_links(client, "/products/?page=7")
    assert count == "More than 18 products"
    assert links == ["1", "…", "6", "7", "8", "…"]
    # The last page is reachable, and there the count is exact again.
    count, links = _count_and_links(client, "/products/?page=13")
    assert count == "25 products"
    assert links[-1] == "13"


def test_the_count_reads_a_bounded_number_of_rows(client, settings, catalog):
    settings.PRODUCTS_PER_PAGE = 5
    with CaptureQueriesContext(connection) as queries:
        client.get("/products/?in_stock=on&min_price=5")
    # The listing's count (not the in-stock filter's count of stocked rows, inventory.selectors).
    counts = [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(*)") and '"catalog_product"' in q["sql"]]
    assert len(counts) == 1
    assert f"LIMIT {pagination.COUNT_LIMIT + 1}" in counts[0]


def test_the_shop_categories_are_those_with_a_published_product(db):
    CategoryFactory(name="Empty", slug="empty")
    hidden = CategoryFactory(name="Hidden", slug="hidden")
    ProductFactory(category=hidden, published=False)
    shirts = CategoryFactory(name="Shirts", slug="shirts")
    ProductFactory(category=shirts)
    ProductFactory(category=shirts)
    assert list(categories_with_products()) == [Category.objects.get(slug="shirts")]
