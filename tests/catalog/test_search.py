"""Product search on the shared Shopify catalogs (apparel and home-and-garden, 40 products):
PostgreSQL full-text search (word order, stemming, SKUs, vendors, "phrases", -words, or),
the "did you mean" fallback, the same order in the API as on the page, and the vectors kept
current as products change. Skipped without /work/shared (shopify_files)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from catalog.models import Product, ProductVariant
from catalog.selectors import ProductFilters
from inventory.importer import catalog_import
from inventory.selectors import product_search
from tests.factories import ProductFactory, VariantFactory

from .conftest import product_row, write_csv

pytestmark = pytest.mark.django_db
needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search needs PostgreSQL")

SUGGESTION = re.compile(r'Did you mean <a href="(?P<href>[^"]+)"[^>]*>(?P<words>[^<]+)</a>\?')


@pytest.fixture
def shared_catalog(shopify_files):
    catalog_import(paths=shopify_files)


def page_titles(client, q: str, **params: str) -> list[str]:
    response = client.get("/products/", {"q": q, **params})
    assert response.status_code == 200
    return [product.title for product in response.context["page"]]


def api_titles(q: str, **params: str) -> list[str]:
    response = APIClient().get("/api/v1/products/", {"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["data"]]


def found(q: str) -> list[str]:
    return [product.title for product in product_search(ProductFilters(q=q, sort="relevance"))]


# -- matching and ranking on the shared catalogs -------------------------------------------


@needs_postgres
def test_words_match_in_any_order(client, shared_catalog):
    assert page_titles(client, "shirt blue") == ["Ocean Blue Shirt"]
    assert page_titles(client, "blue shirt") == ["Ocean Blue Shirt"]
    assert page_titles(client, "pot plant") == page_titles(client, "plant pot")
    assert page_titles(client, "plant pot")[0] == "Clay Plant Pot"


@needs_postgres
def test_the_languages_stemming_finds_other_forms_of_a_word(client, shared_catalog):
    shirts = page_titles(client, "shirts")
    # Titles first (weight A), ties by title; "t-shirt" in a description after them (C).
    assert shirts == ["Chequered Red Shirt", "Ocean Blue Shirt", "White Cotton Shirt", "Red Sports Tee"]
    assert set(page_titles(client, "jackets")) == {
        "Classic Leather Jacket",
        "Navy Sports Jacket",
        "Olive Green Jacket",
        "Soft Winter Jacket",
        "Zipped Jacket",
    }
    assert page_titles(client, "pot") == page_titles(client, "pots")


@needs_postgres
def test_a_title_match_ranks_above_a_description_match(client, shared_catalog):
    wooden = page_titles(client, "wooden")
    assert wooden[:3] == ["Wooden Fence", "Wooden Outdoor Table", "Wooden outdoor slats"]
    assert "Bedside Table" in wooden[3:]  # "Wooden bedside table" in its description only


@needs_postgres
def test_a_typo_finds_nothing_but_the_page_suggests_the_word(client, shared_catalog):
    response = client.get("/products/", {"q": "shrit"})
    assert list(response.context["page"]) == []
    content = response.content.decode()
    match = SUGGESTION.search(content)
    assert match, content
    assert match["words"] == "shirt"
    # The link is the same listing searching the suggested words.
    followed = client.get(html.unescape(match["href"]))
    assert [p.title for p in followed.context["page"]] == [
        "Chequered Red Shirt",
        "Ocean Blue Shirt",
        "White Cotton Shirt",
        "Red Sports Tee",
    ]

    match = SUGGESTION.search(client.get("/products/", {"q": "blue shrit", "category": "men"}).content.decode())
    assert match and match["words"] == "blue shirt"
    assert "category=men" in html.unescape(match["href"])  # the filters stay


@needs_postgres
def test_the_api_suggests_the_words_a_search_that_found_nothing_probably_meant(shared_catalog):
    api = APIClient()
    body = api.get("/api/v1/products/", {"q": "blue shrit"}).json()
    assert body["data"] == [] and body["total"] == 0
    assert body["suggestion"] == "blue shirt"
    found = api.get("/api/v1/products/", {"q": body["suggestion"]}).json()
    assert "Ocean Blue Shirt" in [product["title"] for product in found["data"]]
    assert found["suggestion"] is None  # found something: nothing to suggest
    assert api.get("/api/v1/products/", {"q": "xyzzy"}).json()["suggestion"] is None
    assert api.get("/api/v1/products/").json()["suggestion"] is None


@needs_postgres
def test_nothing_close_suggests_nothing(client, shared_catalog):
    content = client.get("/products/", {"q": "xyzzy"}).content.decode()
    assert "No products match" in content
    assert "Did you mean" not in content


@needs_postgres
def test_a_sku_finds_its_product_whole_or_by_its_start(client, shared_catalog):
    # The files have no SKUs: they are derived from handle and options (inventory.importer).
    assert ProductVariant.objects.filter(sku="CLASSIC-VARSITY-TOP-MEDIUM").exists()
    assert page_titles(client, "CLASSIC-VARSITY-TOP-MEDIUM") == ["Classic Varsity Top"]
    assert page_titles(client, "classic-varsity-top-medium") == ["Classic Varsity Top"]
    assert page_titles(client, "CLASSIC-VARSITY-TOP-M") == ["Classic Varsity Top"]
    assert page_titles(client, "COPPER-LIGHT") == ["Copper Light"]


@needs_postgres
def test_a_vendor_finds_its_products(client, shared_catalog):
    rustic = set(Product.objects.filter(vendor="Rustic LTD").values_list("title", flat=True))
    assert len(rustic) == 9
    assert set(page_titles(client, "Rustic LTD")) == rustic
    assert set(page_titles(client, "rustic")) == rustic


@needs_postgres
def test_a_phrase_in_quotes_keeps_its_words_together_and_in_order(client, shared_catalog):
    # Zipped Jacket: "Dark navy and light blue men's zipped waterproof jacket"
    assert page_titles(client, "blue light") == ["Zipped Jacket"]
    assert page_titles(client, '"light blue"') == ["Zipped Jacket"]
    assert page_titles(client, '"blue light"') == []


@needs_postgres
def test_an_excluded_word_leaves_its_products_out(client, shared_catalog):
    assert "Ocean Blue Shirt" in page_titles(client, "shirt")
    # Still ranked by the words wanted: titles first, the "t-shirt" description after them.
    assert page_titles(client, "shirt -blue") == ["Chequered Red Shirt", "White Cotton Shirt", "Red Sports Tee"]
    assert page_titles(client, '-"ocean blue" shirt') == page_titles(client, "shirt -blue")


@needs_postgres
def test_or_finds_either_word(client, shared_catalog):
    assert set(page_titles(client, "sofa or pillows")) == {
        "Cream Sofa",
        "Grey Sofa",
        "Yellow Sofa",
        "Brown Throw Pillows",
        "Knitted Throw Pillows",
    }
    assert page_titles(client, "sofa pillows") == []  # without "or" both words must match


@needs_postgres
def test_another_sort_asked_for_wins_over_relevance(client, shared_catalog):
    by_price = page_titles(client, "shirt", sort="-price")
    prices = [Product.objects.get(title=t).variants.order_by("price").first().price for t in by_price]
    assert prices == sorted(prices, reverse=True)
    assert page_titles(client, "shirt", sort="title") == sorted(by_price)


@needs_postgres
def test_the_api_lists_in_the_same_order_as_the_page(client, shared_catalog):
    for q in [
        "shirt blue",
        "shirts",
        "wooden",
        "Rustic LTD",
        "CLASSIC-VARSITY-TOP-M",
        "sofa or pillows",
        "shirt -blue",
    ]:
        assert api_titles(q) == page_titles(client, q), q
        assert api_titles(q, ordering="price") == page_titles(client, q, sort="price"), q


@needs_postgres
def test_a_search_costs_the_listings_queries_and_one_more_only_when_it_finds_nothing(client, shared_catalog):
    def queries(params: dict) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/products/", params).status_code == 200
        return len(ctx)

    listing = queries({})
    assert queries({"q": "shirt"}) == listing
    assert queries({"q": "CLASSIC-VARSITY-TOP-M"}) == listing
    # Nothing found: no images or card facts to read, one query for the suggestion.
    assert queries({"q": "shrit"}) <= listing + 1


# -- kept current -----------------------------------------------------------------------------


@needs_postgres
def test_an_edited_title_is_found_by_its_new_words(db):
    product = ProductFactory(title="Plain Mug", description="<p>Holds <b>tea</b></p>")
    VariantFactory(product=product, sku="MUG-1")
    assert found("tea") == ["Plain Mug"]  # the description, without its HTML
    product.title = "Speckled Enamel Mug"
    product.save()
    assert found("enamel") == ["Speckled Enamel Mug"]
    assert found("plain") == []


@needs_postgres
def test_a_new_variants_sku_finds_its_product_and_a_deleted_ones_no_longer(db):
    product = ProductFactory(title="Canvas Tote")
    VariantFactory(product=product, sku="TOTE-NAT")
    assert found("TOTE-RED-XL") == []
    variant = VariantFactory(product=product, sku="TOTE-RED-XL", price=Decimal("12.00"))
    assert found("TOTE-RED-XL") == ["Canvas Tote"]
    assert found("tote-red") == ["Canvas Tote"]
    variant.delete()
    assert found("TOTE-RED-XL") == []


@needs_postgres
def test_an_import_makes_its_products_findable_by_title_and_sku(tmp_path, db):
    path = write_csv(
        tmp_path / "products.csv",
        [product_row("moss-throw", "Moss Throw", **{"Variant SKU": "THR-0077", "Vendor": "Fernhill Mills"})],
    )
    catalog_import(paths=[path])
    assert found("moss") == ["Moss Throw"]
    assert found("THR-0077") == ["Moss Throw"]  # the variant is written after its product
    assert found("fernhill") == ["Moss Throw"]

    write_csv(
        tmp_path / "products.csv",
        [product_row("moss-throw", "Lichen Throw", **{"Variant SKU": "THR-0077", "Vendor": "Fernhill Mills"})],
    )
    catalog_import(paths=[path])
    assert found("lichen") == ["Lichen Throw"]
    assert found("moss") == []


@needs_postgres
def test_search_index_rebuild_recomputes_every_vector(db, capsys):
    product = ProductFactory(title="Copper Kettle")
    VariantFactory(product=product, sku="KETTLE-CU")
    Product.objects.update(search_vector=None)  # as after writes behind Django's back
    assert found("kettle") == []
    call_command("search_index_rebuild")
    assert "1 products" in capsys.readouterr().out
    assert found("kettle") == ["Copper Kettle"]
    assert found("KETTLE-CU") == ["Copper Kettle"]


def test_without_full_text_search_the_listing_matches_substrings(client, db, monkeypatch):
    # The embedded SQLite mode (make run without DATABASE_URL): catalog.search.full_text_search.
    monkeypatch.setattr("inventory.selectors.full_text_search", lambda: False)
    product = ProductFactory(title="Garden Hose", description="Green and long")
    VariantFactory(product=product, sku="HOSE-01")
    ProductFactory(title="Rake")
    assert page_titles(client, "hose") == ["Garden Hose"]
    assert page_titles(client, "een and") == ["Garden Hose"]
    assert page_titles(client, "se-0") == ["Garden Hose"]
    assert "Did you mean" not in client.get("/products/", {"q": "hoze"}).content.decode()
