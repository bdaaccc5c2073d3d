"""The catalog page cache keeps one entry per language (issue 16): its HTML holds translated
words and prices written for the active locale, so a page built for a German shopper must
never be served to an English one, nor the other way round."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shirt():
    return stocked_variant(
        on_hand=3, product__title="Linen Shirt", product__handle="linen-shirt", price=Decimal("30.00")
    )


@pytest.mark.parametrize("url", ["/", "/products/", "/products/?q=linen", "/products/linen-shirt/"])
def test_each_language_gets_its_own_cached_page(client, shirt, url):
    german = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    german_again = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "30,00\xa0$" in german and "$30.00" not in german
    assert "$30.00" in english and "30,00" not in english
    assert "30,00\xa0$" in german_again and "$30.00" not in german_again


def test_the_language_cookie_chooses_the_entry_over_accept_language(client, settings, shirt):
    client.get("/products/linen-shirt/", HTTP_ACCEPT_LANGUAGE="en-US")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = client.get("/products/linen-shirt/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert "30,00\xa0$" in page.content.decode()
    assert page["Content-Language"] == "de"
