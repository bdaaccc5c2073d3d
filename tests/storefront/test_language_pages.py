"""The shopper's pages in the language asked for (Accept-Language): each renders, says its
language in <html lang>, and in English reads as it always did."""

import pytest

from tests.storefront.conftest import Shopper


def _walk(client, variant, shipping, **headers):
    """Home, listing, search, product, cart, checkout, review and payment pages: their HTML."""
    shopper = Shopper(client)
    pages = {}
    for path in ("/", "/products/", "/products/?q=nothing+matches+this", variant.product.get_absolute_url()):
        response = client.get(path, **headers)
        assert response.status_code == 200, path
        pages[path] = response.content.decode()
    shopper.add(variant, 2)
    for path in ("/cart/", "/checkout/"):
        response = client.get(path, **headers)
        assert response.status_code == 200, path
        pages[path] = response.content.decode()
    shopper.checkout(shipping)
    response = client.get("/checkout/review/", **headers)
    assert response.status_code == 200
    pages["/checkout/review/"] = response.content.decode()
    placed = client.post("/checkout/place/", {"fingerprint": shopper.fingerprint()}, follow=True, **headers)
    assert placed.status_code == 200
    pages["payment"] = placed.content.decode()
    return pages


@pytest.mark.django_db
def test_pages_render_in_german_and_say_so(client, variant, shipping):
    pages = _walk(client, variant, shipping, HTTP_ACCEPT_LANGUAGE="de")
    for path, html in pages.items():
        assert '<html lang="de">' in html, path


@pytest.mark.django_db
def test_pages_in_english_read_as_before(client, variant, shipping):
    pages = _walk(client, variant, shipping, HTTP_ACCEPT_LANGUAGE="en")
    for path, html in pages.items():
        assert '<html lang="en">' in html, path
    assert "1 product" in pages["/products/"]
    assert "No products match." in pages["/products/?q=nothing+matches+this"]
    assert "Add to cart" in pages[variant.product.get_absolute_url()]
    assert "Decrease quantity of Linen Shirt" in pages["/cart/"]
    assert "Total before shipping" in pages["/cart/"]
    assert "Continue to review" in pages["/checkout/"]
    assert "Place order" in pages["/checkout/review/"]
    assert "Your items are reserved for" in pages["payment"]
