"""What the shop tells search engines (storefront/seo): the sitemap, robots.txt, canonical
links, descriptions, Open Graph, noindex, titles, and the product pages' JSON-LD, which must
say what the page says (price, availability) and run under the Content Security Policy."""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from catalog.models import Category, Product, ProductReview
from catalog.selectors import categories_with_products
from inventory.importer import catalog_import
from inventory.models import StockMovement
from inventory.services import stock_adjust, stock_policy_set
from kernel.money import format_money
from storefront.seo import sitemaps as seo_sitemaps
from tests.conftest import shopify_sample
from tests.factories import CategoryFactory, UserFactory, stocked_variant

pytestmark = pytest.mark.django_db

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
AVAILABILITY_WORDS = {
    "https://schema.org/InStock": ("In stock", "Only"),
    "https://schema.org/OutOfStock": ("Sold out",),
    "https://schema.org/BackOrder": ("Available on backorder",),
}


@pytest.fixture
def offline(monkeypatch):
    """Every image download fails as on a machine without internet: the import draws
    placeholders."""

    def urlopen(request, timeout=None):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


@pytest.fixture
def shared_catalog(offline):
    """The shared Shopify catalogs (apparel, home and garden) imported as a merchant would."""
    catalog_import(paths=shopify_sample("apparel.csv", "home-and-garden.csv"))
    assert Product.objects.filter(published=True).exists()


# -- helpers ---------------------------------------------------------------------------------


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def head_of(page: str) -> str:
    return page[page.index("<head>") : page.index("</head>")]


def meta(page: str, key: str) -> str | None:
    """The content of <meta name=key> or <meta property=key> in the <head>, unescaped."""
    found = re.search(rf'<meta (?:name|property)="{re.escape(key)}" content="([^"]*)">', head_of(page))
    return html.unescape(found.group(1)) if found else None


def canonical(page: str) -> str:
    return html.unescape(re.search(r'<link rel="canonical" href="([^"]*)">', head_of(page)).group(1))


def title(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))


def json_ld(page: str) -> list[dict]:
    """Every JSON-LD object of the page, parsed."""
    return [json.loads(text) for text in re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', page)]


def json_ld_of_type(page: str, kind: str) -> dict:
    [found] = [data for data in json_ld(page) if data["@type"] == kind]
    return found


def shown(page: str, attribute: str) -> str:
    """The text of the element marked `attribute` (data-price, data-availability, …)."""
    return html.unescape(re.search(rf"<[^>]*\b{attribute}\b[^>]*>([^<]*)<", page).group(1)).strip()


def sitemap_urls(client, url: str = "/sitemap.xml") -> list[tuple[str, str]]:
    """(path with query, lastmod) of every URL the sitemap names, following an index."""
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    if root.tag == f"{{{SITEMAP_NS['sm']}}}sitemapindex":
        urls = []
        for loc in root.findall("sm:sitemap/sm:loc", SITEMAP_NS):
            parts = urlsplit(loc.text)
            urls += sitemap_urls(client, parts.path + (f"?{parts.query}" if parts.query else ""))
        return urls
    found = []
    for entry in root.findall("sm:url", SITEMAP_NS):
        parts = urlsplit(entry.find("sm:loc", SITEMAP_NS).text)
        assert (parts.scheme, parts.netloc) == ("http", "testserver")  # absolute, on the host asked
        found.append(
            (parts.path + (f"?{parts.query}" if parts.query else ""), entry.find("sm:lastmod", SITEMAP_NS).text)
        )
    return found


def expected_sitemap() -> set[tuple[str, str]]:
    products = {(p.get_absolute_url(), f"{p.updated_at:%Y-%m-%d}") for p in Product.objects.filter(published=True)}
    categories = set()
    for category in categories_with_products():
        newest = max(p.updated_at for p in category.products.filter(published=True))
        categories.add((f"/products/?category={category.slug}", f"{newest:%Y-%m-%d}"))
    return products | categories


# -- the sitemap -----------------------------------------------------------------------------


def test_the_sitemap_lists_exactly_the_published_products_and_their_categories(client, shared_catalog):
    hidden = Product.objects.filter(published=True, category__isnull=False).order_by("handle").first()
    # A category whose only product is unpublished is not listed (the listing would be empty).
    lonely = Category.objects.create(name="Lonely", slug="lonely")
    hidden.category = lonely
    hidden.published = False
    hidden.save()

    listed = sitemap_urls(client)

    assert len(listed) == len(set(listed))
    assert set(listed) == expected_sitemap()
    paths = {path for path, _ in listed}
    assert hidden.get_absolute_url() not in paths
    assert "/products/?category=lonely" not in paths
    assert len(paths) == Product.objects.filter(published=True).count() + categories_with_products().count()


def test_a_large_sitemap_is_an_index_of_sections_of_at_most_limit_urls(client, shared_catalog, monkeypatch):
    monkeypatch.setattr(seo_sitemaps.ProductSitemap, "limit", 7)
    monkeypatch.setattr(seo_sitemaps.CategorySitemap, "limit", 7)

    index = ET.fromstring(client.get("/sitemap.xml").content)
    assert index.tag == f"{{{SITEMAP_NS['sm']}}}sitemapindex"
    locs = [urlsplit(loc.text) for loc in index.findall("sm:sitemap/sm:loc", SITEMAP_NS)]
    assert {loc.path for loc in locs} == {"/sitemap-products.xml", "/sitemap-categories.xml"}
    published = Product.objects.filter(published=True).count()
    assert sum(loc.path == "/sitemap-products.xml" for loc in locs) == -(-published // 7)
    for loc in locs:
        page = ET.fromstring(client.get(f"{loc.path}?{loc.query}").content)
        assert 1 <= len(page.findall("sm:url", SITEMAP_NS)) <= 7

    assert set(sitemap_urls(client)) == expected_sitemap()
    assert client.get("/sitemap-nothing.xml").status_code == 404


# -- robots.txt ------------------------------------------------------------------------------


def test_robots_txt_lets_crawlers_in_but_not_into_carts_accounts_the_admin_or_the_api(client, settings):
    settings.ADMIN_URL = "back-office-7f3a/"
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "max-age=86400" in response["Cache-Control"] and "public" in response["Cache-Control"]
    lines = response.content.decode().splitlines()
    assert lines[:2] == ["User-agent: *", "Allow: /"]
    disallowed = {line.split(": ", 1)[1] for line in lines if line.startswith("Disallow: ")}
    assert disallowed == {
        "/cart/",
        "/checkout/",
        "/accounts/",
        "/orders/",
        "/payments/",
        "/stock/",
        "/back-office-7f3a/",
        "/api/",
    }
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    for path in ("/", "/products/", "/products/a-shirt/"):
        assert not any(path.startswith(prefix) for prefix in disallowed)


# -- every page's <head> ---------------------------------------------------------------------


def test_a_filtered_or_sorted_listing_is_canonically_the_plain_listing_and_pages_keep_their_number(client):
    category = CategoryFactory(name="Shirts", slug="shirts")
    for n in range(settings.PRODUCTS_PER_PAGE + 1):
        stocked_variant(on_hand=1, product__category=category, product__title=f"Shirt {n:02d}")

    assert canonical(page_of(client, "/products/")) == "http://testserver/products/"
    assert canonical(page_of(client, "/products/?sort=-price&in_stock=on&min_price=1&q=shirt")) == (
        "http://testserver/products/"
    )
    assert canonical(page_of(client, "/products/?category=shirts&sort=newest&max_price=900")) == (
        "http://testserver/products/?category=shirts"
    )
    page2 = page_of(client, "/products/?sort=price&page=2&category=shirts")
    assert canonical(page2) == "http://testserver/products/?category=shirts&page=2"
    assert meta(page2, "og:url") == canonical(page2)
    assert canonical(page_of(client, "/products/?page=1")) == "http://testserver/products/"
    # The listing's trail, for search engines.
    crumbs = json_ld_of_type(page2, "BreadcrumbList")["itemListElement"]
    assert [(c["position"], c["name"], c["item"]) for c in crumbs] == [
        (1, "Home", "http://testserver/"),
        (2, "All products", "http://testserver/products/"),
        (3, "Shirts", "http://testserver/products/?category=shirts"),
    ]


def test_the_product_page_is_canonical_without_its_variant_choice(client):
    variant = stocked_variant(on_hand=2, product__handle="linen-shirt")
    page = page_of(client, f"/products/linen-shirt/?variant={variant.pk}")
    assert canonical(page) == "http://testserver/products/linen-shirt/"


@pytest.mark.parametrize("url", ["/", "/products/", "/products/linen-shirt/"])
def test_shop_pages_have_a_description_open_graph_and_no_noindex(client, url):
    stocked_variant(on_hand=2, product__handle="linen-shirt")
    page = page_of(client, url)

    assert meta(page, "description")
    assert meta(page, "og:title") and meta(page, "og:description") == meta(page, "description")
    assert meta(page, "og:site_name") == settings.SITE_NAME
    assert meta(page, "og:url") == canonical(page) == f"http://testserver{url}"
    assert meta(page, "twitter:card") in ("summary", "summary_large_image")
    assert meta(page, "robots") is None


def test_a_product_page_describes_the_product_for_search_engines_and_link_previews(client):
    variant = stocked_variant(
        on_hand=4,
        price=Decimal("38.00"),
        product__title="Merino Crew Tee",
        product__vendor="Wool & Co",
        product__description="<p>Soft <b>merino</b> wool,</p><p>knitted in Portugal. " + "Warm. " * 40 + "</p>",
    )
    product = variant.product
    product.images.create(alt="Front", thumbnails={"800": "products/merino/front-800.webp"})
    page = page_of(client, product.get_absolute_url())

    description = meta(page, "description")
    assert description.startswith("Soft merino wool, knitted in Portugal. Warm.")
    assert len(description) <= 155 and description.endswith("…")
    assert meta(page, "og:type") == "product"
    assert meta(page, "og:image") == "http://testserver/media/products/merino/front-800.webp"
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "twitter:image") == meta(page, "og:image")
    assert (meta(page, "product:price:amount"), meta(page, "product:price:currency")) == ("38.00", "USD")

    product.seo_description = "The merino tee: soft & warm."
    product.save()
    assert meta(page_of(client, product.get_absolute_url()), "description") == "The merino tee: soft & warm."


@pytest.mark.parametrize(
    "url, signed_in",
    [
        ("/cart/", True),
        ("/checkout/", True),
        ("/accounts/", True),
        ("/accounts/addresses/", True),
        ("/orders/", True),
        ("/accounts/login/", False),
        ("/accounts/signup/", False),
        ("/accounts/password-reset/", False),
        ("/accounts/password-reset/done/", False),
    ],
)
def test_a_shoppers_own_pages_are_noindex(client, shopper, variant, shipping, url, signed_in):
    if signed_in:
        client.force_login(UserFactory())
    shopper.add(variant)  # the cart and the checkout show a line
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert meta(page, "robots") == "noindex"
    assert meta(page, "description")


def test_an_order_page_is_noindex(client, shopper, variant, shipping):
    placed = shopper.buy(variant, shipping)
    response = shopper.pay(placed)
    order_page = client.get(response["Location"], follow=True)
    assert order_page.status_code == 200
    assert meta(order_page.content.decode(), "robots") == "noindex"


# -- titles ----------------------------------------------------------------------------------


def test_the_shops_name_is_in_every_title_once(client):
    shop = settings.SITE_NAME
    named = stocked_variant(on_hand=1, product__title="Merino Crew Tee", product__seo_title=f"Merino Crew Tee | {shop}")
    plain = stocked_variant(on_hand=1, product__title="Linen Shirt", product__category__name="Shirts")

    assert title(page_of(client, named.product.get_absolute_url())) == f"Merino Crew Tee | {shop}"
    assert title(page_of(client, plain.product.get_absolute_url())) == f"Linen Shirt – {shop}"
    assert title(page_of(client, "/")) == shop
    slug = plain.product.category.slug
    assert title(page_of(client, f"/products/?category={slug}")) == f"Shirts – {shop}"
    assert title(page_of(client, "/cart/")) == f"Your cart – {shop}"
    for url in ("/", "/products/", named.product.get_absolute_url(), "/cart/"):
        assert title(page_of(client, url)).count(shop) == 1, url


# -- JSON-LD ---------------------------------------------------------------------------------


def offer_of(data: dict, sku: str) -> dict:
    [offer] = [o for o in data["offers"] if o["sku"] == sku]
    return offer


def assert_offer_is_what_the_page_shows(page: str, data: dict) -> None:
    offer = offer_of(data, shown(page, "data-sku"))
    assert format_money(Decimal(offer["price"]), offer["priceCurrency"]) == shown(page, "data-price")
    assert offer["priceCurrency"] == settings.SHOP_CURRENCY
    assert shown(page, "data-availability").startswith(AVAILABILITY_WORDS[offer["availability"]])


def test_every_product_pages_json_ld_parses_and_says_what_the_page_shows(client, shared_catalog):
    products = Product.objects.filter(published=True).prefetch_related("variants", "images")
    assert products.count() >= 30
    for product in products:
        url = product.get_absolute_url()
        page = page_of(client, url)
        data = json_ld_of_type(page, "Product")
        assert data["@context"] == "https://schema.org"
        assert data["name"] == product.title
        assert data["url"] == f"http://testserver{url}"
        if product.vendor:
            assert data["brand"] == {"@type": "Brand", "name": product.vendor}
        assert data["image"] and all(image.startswith("http://testserver/media/") for image in data["image"])
        variants = list(product.variants.all())
        assert sorted(o["sku"] for o in data["offers"]) == sorted(v.sku for v in variants)
        if len(variants) == 1:
            assert data["sku"] == variants[0].sku
        # The variant shown first, then each variant chosen in turn.
        assert_offer_is_what_the_page_shows(page, data)
        for variant in variants:
            offer = offer_of(data, variant.sku)
            assert Decimal(offer["price"]) == variant.price
            assert offer["url"] == f"http://testserver{url}?variant={variant.pk}"
            assert_offer_is_what_the_page_shows(page_of(client, offer["url"]), data)
        crumbs = json_ld_of_type(page, "BreadcrumbList")["itemListElement"]
        assert crumbs[0]["item"] == "http://testserver/"
        assert crumbs[-1] == {"@type": "ListItem", "position": 3, "name": product.title, "item": data["url"]}
        assert "aggregateRating" not in data


def test_the_json_ld_availability_follows_live_stock(client):
    variant = stocked_variant(on_hand=3, price=Decimal("23.00"), sku="TEE-1")
    url = variant.product.get_absolute_url()

    def state() -> tuple[str, str]:
        page = page_of(client, url)
        offer = offer_of(json_ld_of_type(page, "Product"), "TEE-1")
        assert_offer_is_what_the_page_shows(page, json_ld_of_type(page, "Product"))
        return offer["availability"], shown(page, "data-availability")

    assert state() == ("https://schema.org/InStock", "Only 3 left")
    stock_adjust(variant=variant, quantity=-3, reason=StockMovement.Reason.ADJUSTMENT)
    assert state() == ("https://schema.org/OutOfStock", "Sold out")
    stock_policy_set(variant=variant, backorder_policy="continue")
    assert state() == ("https://schema.org/BackOrder", "Available on backorder")
    stock_adjust(variant=variant, quantity=40, reason=StockMovement.Reason.RECEIPT)
    assert state() == ("https://schema.org/InStock", "In stock")


def test_the_json_ld_rates_the_product_only_when_it_has_approved_reviews(client):
    variant = stocked_variant(on_hand=1)
    product = variant.product
    url = product.get_absolute_url()
    assert "aggregateRating" not in json_ld_of_type(page_of(client, url), "Product")

    for rating in (5, 4, 4):
        ProductReview.objects.create(
            product=product, user=UserFactory(), rating=rating, text="Good.", status=ProductReview.Status.APPROVED
        )
    ProductReview.objects.create(product=product, user=UserFactory(), rating=1, text="Pending.")
    rating = json_ld_of_type(page_of(client, url), "Product")["aggregateRating"]
    assert rating == {
        "@type": "AggregateRating",
        "ratingValue": "4.3",
        "reviewCount": 3,
        "bestRating": 5,
        "worstRating": 1,
    }


def test_the_json_ld_runs_under_the_csp_with_the_responses_nonce_and_cannot_end_its_script(client):
    hostile = "</script><script>alert(1)</script> & <!-- \u2028"
    variant = stocked_variant(on_hand=1, product__title=hostile, product__vendor="<b>Acme</b>")
    response = client.get(variant.product.get_absolute_url())
    page = response.content.decode()

    header = response["Content-Security-Policy"]
    nonce = re.search(r"script-src [^;]*'nonce-([^']+)'", header).group(1)
    scripts = re.findall(r'<script type="application/ld\+json"( nonce="[^"]*")?>', page)
    assert scripts and all(attribute == f' nonce="{nonce}"' for attribute in scripts)
    # Nothing in the data ends the element or opens a comment: <, > and & are JSON escapes.
    blocks = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', page, re.S)
    assert all("<" not in block and ">" not in block and "&" not in block for block in blocks)
    data = json_ld_of_type(page, "Product")
    assert data["name"] == hostile
    assert data["brand"]["name"] == "<b>Acme</b>"


def test_pages_without_json_ld_send_no_nonce(client):
    response = client.get("/cart/")
    assert "nonce-" not in response["Content-Security-Policy"]


def test_the_home_page_names_the_shop_and_its_search_for_search_engines(client):
    site = json_ld_of_type(page_of(client, "/"), "WebSite")
    assert (site["name"], site["url"]) == (settings.SITE_NAME, "http://testserver/")
    target = site["potentialAction"]["target"]["urlTemplate"]
    assert target == "http://testserver/products/?q={search_term_string}"
    assert site["potentialAction"]["query-input"] == "required name=search_term_string"
