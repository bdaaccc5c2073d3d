"""Content pages in the shop: /pages/<slug>/, the footer's list, the checkout's terms link."""

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pages.models import Page
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.storefront.conftest import Shopper

from .conftest import page

pytestmark = pytest.mark.django_db


def footer_links(html: str) -> list[str]:
    footer = html.split('<footer class="site-footer">', 1)[1]
    if "Help and policies" not in footer:
        return []
    nav = footer.split("Help and policies</h2>", 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="(/pages/[^"]+/)">([^<]+)</a>', nav)


def test_a_published_page_shows_its_title_and_body(client):
    page("shipping-returns", title="Shipping and returns", body="<h2>Returns</h2><ul><li>30 days</li></ul>")

    response = client.get("/pages/shipping-returns/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 class="page-title">Shipping and returns</h1>' in html
    assert '<div class="prose"><h2>Returns</h2><ul><li>30 days</li></ul></div>' in html
    assert "<title>Shipping and returns" in html


def test_an_unpublished_or_unknown_page_is_not_found(client):
    page("privacy", published=False)

    assert client.get("/pages/privacy/").status_code == 404
    assert client.get("/pages/no-such-page/").status_code == 404


def test_staff_see_an_unpublished_page_marked_as_such(staff_client):
    page("privacy", title="Privacy policy", published=False)

    response = staff_client.get("/pages/privacy/")

    assert response.status_code == 200
    assert "Not published: only staff see this page." in response.content.decode()


def test_the_footer_lists_the_published_footer_pages_in_their_order(client):
    page("contact", title="Contact", footer_position=40)
    page("terms", title="Terms and conditions", footer_position=10)
    page("privacy", title="Privacy policy", footer_position=20)
    page("draft", title="Draft", footer_position=0, published=False)
    page("careers", title="Careers", footer_position=0, in_footer=False)

    html = client.get("/products/").content.decode()

    assert footer_links(html) == [
        ("/pages/terms/", "Terms and conditions"),
        ("/pages/privacy/", "Privacy policy"),
        ("/pages/contact/", "Contact"),
    ]


def test_no_footer_pages_no_footer_list(client):
    page("careers", in_footer=False)

    assert footer_links(client.get("/products/").content.decode()) == []


def test_the_footer_list_is_cached_until_a_page_changes(client, settings, django_capture_on_commit_callbacks):
    settings.CATALOG_CACHE_SECONDS = 300
    cache.clear()
    terms = page("terms", title="Terms and conditions", footer_position=10)
    client.get("/products/")  # warms the cache

    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/products/").content.decode()
    assert footer_links(html) == [("/pages/terms/", "Terms and conditions")]
    assert not [q["sql"] for q in ctx.captured_queries if '"pages_page"' in q["sql"]]

    with django_capture_on_commit_callbacks(execute=True):  # the cached list retires on commit
        terms.title = "Terms of sale"
        terms.save()
        page("contact", title="Contact", footer_position=5)
    assert footer_links(client.get("/products/").content.decode()) == [
        ("/pages/contact/", "Contact"),
        ("/pages/terms/", "Terms of sale"),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        Page.objects.get(slug="contact").delete()
    assert footer_links(client.get("/products/").content.decode()) == [("/pages/terms/", "Terms of sale")]


@pytest.fixture
def at_review(client):
    """A shopper on the checkout's review page, one item in the cart."""
    shopper = Shopper(client)
    shipping = ShippingMethodFactory(name="Standard")
    shopper.add(stocked_variant(on_hand=3, product__title="Linen Shirt"))
    shopper.checkout(shipping)
    return lambda: client.get("/checkout/review/").content.decode()


def test_the_checkout_links_the_terms_next_to_place_order(at_review):
    page("terms", title="Terms and conditions", in_footer=False)

    html = at_review()

    assert "Place order</button>" in html
    assert 'By placing your order you agree to our <a href="/pages/terms/">Terms and conditions</a>.' in html


@pytest.mark.parametrize("terms", ["none", "unpublished"])
def test_no_published_terms_page_no_terms_link(at_review, terms):
    if terms == "unpublished":
        page("terms", title="Terms and conditions", published=False)

    html = at_review()

    assert "Place order</button>" in html
    assert "you agree to our" not in html
