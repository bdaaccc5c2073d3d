import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.services import StockLine, stock_reserve
from tests.factories import CategoryFactory, ProductFactory, VariantFactory, stocked_variant
from tests.i18n import german

pytestmark = pytest.mark.django_db


def _catalog(n):
    category = CategoryFactory(name="Shirts", slug="shirts")
    for i in range(n):
        product = ProductFactory(title=f"Shirt {i:02d}", category=category)
        stocked_variant(on_hand=i % 3, product=product, price=Decimal(10 + i))
        VariantFactory(product=product, option1_value="XL", price=Decimal(50 + i))


def test_the_listing_uses_the_same_number_of_queries_whatever_the_page_size(client, settings):
    _catalog(30)
    settings.PRODUCTS_PER_PAGE = 2
    with CaptureQueriesContext(connection) as small:
        assert client.get("/products/").status_code == 200
    settings.PRODUCTS_PER_PAGE = 24
    with CaptureQueriesContext(connection) as large:
        response = client.get("/products/")
    assert len(response.context["page"].object_list) == 24
    assert len(large) == len(small) <= 8


def test_the_listing_filters_by_search_category_price_and_stock(client):
    _catalog(6)
    other = ProductFactory(title="Garden Hose", description="Green and long")
    stocked_variant(on_hand=1, product=other, sku="HOSE-01", price=Decimal("15.00"))

    def titles(query):
        return [p.title for p in client.get(f"/products/?{query}").context["page"]]

    assert titles("q=hose") == ["Garden Hose"]
    assert titles("q=green") == ["Garden Hose"]
    assert titles("q=hose-01") == ["Garden Hose"]
    assert "Garden Hose" not in titles("category=shirts")
    assert set(titles("min_price=14&max_price=15.5")) == {"Garden Hose", "Shirt 04", "Shirt 05"}
    in_stock = titles("in_stock=on&category=shirts")
    assert in_stock == ["Shirt 01", "Shirt 02", "Shirt 04", "Shirt 05"]
    assert titles("sort=-price&category=shirts")[0] == "Shirt 05"


def test_bad_filter_values_are_ignored_not_a_500(client):
    _catalog(3)
    response = client.get("/products/?min_price=abc&max_price=-1&page=zzz&sort=evil&category=%3Cx%3E")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 3


def test_the_product_page_shows_live_availability(client):
    variant = stocked_variant(on_hand=4, product__title="Clay Pot")
    url = variant.product.get_absolute_url()
    assert "In stock" not in client.get(url).content.decode()  # 4 ≤ 5: low stock wording
    assert "Only 4 left" in client.get(url).content.decode()
    stock_reserve(lines=[StockLine(variant.pk, 4)], owner="order:X", ttl=timedelta(minutes=5))
    assert "Sold out" in client.get(url).content.decode()


def test_unpublished_products_are_hidden(client):
    variant = stocked_variant(on_hand=1, product__published=False)
    assert client.get(variant.product.get_absolute_url()).status_code == 404
    assert client.get("/products/").context["page"].paginator.count == 0


def test_the_description_keeps_formatting_but_not_scripts(client):
    variant = stocked_variant(
        on_hand=1,
        product__description='<p><b>Soft</b> cotton</p><script>alert(1)</script><img src=x onerror="alert(2)">',
    )
    page = client.get(variant.product.get_absolute_url()).content.decode()
    assert "<b>Soft</b>" in page
    assert "<script>alert(1)" not in page and "onerror" not in page


def test_the_listings_cards_show_the_price_and_stock_the_catalog_selectors_compute(client):
    """The listing works out each card's cheapest price and in-stock flag from the variants
    it reads for the card (product_search(figures=False)): they agree with the selectors'
    own figures (the API's), for every kind of product."""
    from catalog.selectors import ProductFilters
    from inventory.selectors import product_search
    from inventory.services import stock_policy_set

    stocked_variant(on_hand=3, product__title="Stocked", price=Decimal("12.00"))
    two = stocked_variant(on_hand=0, product__title="Cheap One Sold Out", price=Decimal("5.00"))
    stocked_variant(on_hand=2, product=two.product, option1_value="XL", price=Decimal("9.00"))
    held = stocked_variant(on_hand=2, product__title="All Held", price=Decimal("7.50"))
    stock_reserve(lines=[StockLine(held.pk, 2)], owner="order:X", ttl=timedelta(minutes=5))
    stock_policy_set(
        variant=stocked_variant(on_hand=0, product__title="Backorder", price=Decimal("20.00")),
        backorder_policy="continue",
    )
    ProductFactory(title="No Variants")

    expected = {p.title: (p.min_price, p.in_stock) for p in product_search(ProductFilters())}
    for sort in ("title", "price"):
        cards = client.get(f"/products/?sort={sort}").context["page"]
        assert {p.title: (p.min_price, p.in_stock) for p in cards} == expected
    assert expected == {
        "Stocked": (Decimal("12.00"), True),
        "Cheap One Sold Out": (Decimal("5.00"), True),
        "All Held": (Decimal("7.50"), False),
        "Backorder": (Decimal("20.00"), True),
        "No Variants": (None, False),
    }


def test_a_product_sold_on_backorder_counts_as_in_stock(client):
    from inventory.services import stock_policy_set

    variant = stocked_variant(on_hand=0, product__title="Made To Order")
    stock_policy_set(variant=variant, backorder_policy="continue")
    titles = [p.title for p in client.get("/products/?in_stock=on").context["page"]]
    assert titles == ["Made To Order"]
    assert "Sold out" not in client.get("/products/").content.decode()


def test_bad_filter_values_are_told_in_whole_sentences_naming_the_field(client):
    page = client.get("/products/?min_price=abc&max_price=-1&sort=evil&category=%3Cx%3E&q=" + "x" * 201)
    errors = re.findall(r"<li>([^<]*)</li>", page.content.decode().split('class="errorlist"')[1].split("</ul>")[0])
    assert errors == [
        "The search can be at most 200 characters long.",
        "That category does not exist. Choose one from the list.",
        "Enter the lowest price as an amount of 0 or more, such as 10 or 9.50.",
        "Enter the highest price as an amount of 0 or more, such as 50 or 49.50.",
        "That sort order is not one we offer. Choose one from the list.",
    ]


def test_filter_errors_are_in_the_shoppers_language(client):
    lowest = "Enter the lowest price as an amount of 0 or more, such as 10 or 9.50."
    with german({lowest: "Geben Sie den niedrigsten Preis als Betrag ab 0 an."}):
        page = client.get("/products/?min_price=1.234", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    errors = re.findall(r"<li>([^<]*)</li>", page.split('class="errorlist"')[1].split("</ul>")[0])
    assert errors == ["Geben Sie den niedrigsten Preis als Betrag ab 0 an."]
