"""The error pages look like the shop; the ones served when something is wrong read nothing
from the database."""

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from tests.factories import stocked_variant


@pytest.mark.django_db
def test_an_unknown_product_is_a_404_page_in_the_shops_style_with_a_search(client):
    stocked_variant(on_hand=1, product__category__name="Mugs")
    response = client.get("/products/no-such-thing/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert 'role="search"' in page and 'class="site-header"' in page
    assert "Mugs" in page  # the shop's navigation


def test_the_500_page_renders_without_a_request_or_the_database(settings):
    # No django_db mark: any query would fail the test.
    settings.SITE_NAME = "Small Shop"
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page and "Small Shop" in page
    assert "/static/css/shop.css" in page
