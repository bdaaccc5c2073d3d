"""The product page's picker (one control group per option, resolving to one variant), its
prices with the compare-at price and the sale badge, and the listing cards' badges."""

import re
from decimal import Decimal

import pytest

from tests.factories import ProductFactory, stocked_variant

pytestmark = pytest.mark.django_db

SIZES = ("S", "M", "L")
COLOURS = ("Oat", "Charcoal")


@pytest.fixture
def tee():
    """A tee in 3 sizes × 2 colours, $38.00 (compare at $45.00); L in Oat is sold out."""
    product = ProductFactory(title="Merino Tee", handle="merino-tee", option1_name="Size", option2_name="Color")
    variants = {}
    for colour in COLOURS:
        for size in SIZES:
            variants[size, colour] = stocked_variant(
                on_hand=0 if (size, colour) == ("L", "Oat") else 8,
                product=product,
                option1_value=size,
                option2_value=colour,
                sku=f"TEE-{size}-{colour}",
                price=Decimal("38.00"),
                compare_at_price=Decimal("45.00"),
            )
    return product, variants


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_product_with_size_and_colour_shows_one_group_per_option_not_one_radio_per_combination(client, tee):
    product, _ = tee
    html = page(client, product.get_absolute_url())

    assert re.findall(r"<legend>(\w+):", html) == ["Size", "Color"]
    assert html.count('type="radio" name="option1"') == len(SIZES)
    assert html.count('type="radio" name="option2"') == len(COLOURS)
    assert 'type="radio" name="variant"' not in html
    # Colours are swatches, sizes are buttons.
    assert html.count("swatch swatch--") == len(COLOURS)
    assert 'class="swatch swatch--oat"' in html


def test_the_first_variant_in_stock_is_chosen_and_what_is_sold_out_with_it_is_marked(client, tee):
    product, _ = tee
    html = page(client, product.get_absolute_url())

    assert re.search(r'name="option1" value="S" checked', html)
    assert re.search(r'name="option2" value="Oat" checked', html)
    # L with Oat is sold out; M with Oat and S with Charcoal are not.
    large = re.search(r'<label class="([^"]*)">\s*<input type="radio" name="option1" value="L"', html)
    medium = re.search(r'<label class="([^"]*)">\s*<input type="radio" name="option1" value="M"', html)
    assert "option--unavailable" in large.group(1)
    assert "option--unavailable" not in medium.group(1)
    assert "Add to cart</button>" in html


def test_choosing_a_sold_out_variant_by_link_shows_it_sold_out_with_one_notify_form(client, tee):
    product, variants = tee
    sold_out = variants["L", "Oat"]
    html = page(client, f"{product.get_absolute_url()}?variant={sold_out.pk}")

    assert re.search(r'name="option1" value="L" checked', html)
    assert re.search(r"<button[^>]*data-add-button disabled>Sold out</button>", html)
    assert html.count('action="/stock/notify/"') == 1
    assert f'name="variant" value="{sold_out.pk}" data-notify-variant' in html
    assert "Email me when L / Oat is back" in html


def test_the_chosen_options_add_their_variant_to_the_cart_without_javascript(client, tee):
    product, variants = tee
    response = client.post(product.get_absolute_url(), {"option1": "M", "option2": "Charcoal", "quantity": 2})
    assert response.status_code == 302
    cart = page(client, "/cart/")
    assert "TEE-M-Charcoal" in cart or "M / Charcoal" in cart


def test_a_combination_that_does_not_exist_is_a_form_error(client):
    product = ProductFactory(option1_name="Size", option2_name="Color")
    for size, colour in (("S", "Oat"), ("M", "Oat"), ("S", "Charcoal")):  # no M in Charcoal
        stocked_variant(on_hand=5, product=product, option1_value=size, option2_value=colour)
    response = client.post(product.get_absolute_url(), {"option1": "M", "option2": "Charcoal", "quantity": 1})
    assert response.status_code == 200
    html = response.content.decode()
    assert "That combination is not available" in html
    assert 'role="alert"' in html


def test_a_missing_option_is_a_form_error(client, tee):
    product, _ = tee
    response = client.post(product.get_absolute_url(), {"option1": "M", "quantity": 1})
    assert response.status_code == 200
    assert "Choose a color." in response.content.decode()


def test_the_product_page_shows_the_price_the_compare_at_price_struck_through_and_a_sale_badge(client, tee):
    product, _ = tee
    html = page(client, product.get_absolute_url())

    assert re.search(r'<span class="price price--sale" data-price>\$38\.00</span>', html)
    assert re.search(r'<s class="price price--compare" data-compare>\$45\.00</s>', html)
    assert re.search(r'<span class="badge badge--sale" data-sale-badge>Sale</span>', html)
    # Never "38.00 USD" on the page (the <head>'s product:price:currency and JSON-LD say "USD" to machines).
    assert "USD" not in re.sub(r"Prices in USD", "", html[html.index("<body") :])


def test_a_product_not_on_sale_has_no_compare_at_price_or_sale_badge_showing(client):
    variant = stocked_variant(on_hand=9, product__title="Plain Mug", price=Decimal("12.50"))
    html = page(client, variant.product.get_absolute_url())

    assert re.search(r'<span class="price" data-price>\$12\.50</span>', html)
    assert re.search(r"<s [^>]*data-compare hidden>", html)
    assert re.search(r"data-sale-badge hidden>", html)


def test_listing_cards_show_the_sale_price_with_the_compare_at_price_and_badges(client, tee):
    stocked_variant(on_hand=2, product__title="Last Lamp", price=Decimal("80.00"))
    gone = stocked_variant(on_hand=0, product__title="Gone Vase", price=Decimal("30.00"))
    html = page(client, "/products/")

    card = re.search(r'<li class="product-card">(?:(?!</li>).)*Merino Tee(?:(?!</li>).)*</li>', html, re.S).group(0)
    assert '<span class="badge badge--sale">Sale</span>' in card
    assert '<span class="price price--sale">$38.00</span>' in card
    assert '<s class="price price--compare">$45.00</s>' in card

    lamp = re.search(r'<li class="product-card">(?:(?!</li>).)*Last Lamp(?:(?!</li>).)*</li>', html, re.S).group(0)
    assert "Only 2 left" in lamp and "Sale" not in lamp
    vase = re.search(r'<li class="product-card">(?:(?!</li>).)*Gone Vase(?:(?!</li>).)*</li>', html, re.S).group(0)
    assert "Sold out" in vase
    assert gone.product.get_absolute_url() in vase


def test_the_listing_heading_is_the_categorys_name(client, tee):
    product, _ = tee
    html = page(client, f"/products/?category={product.category.slug}")
    assert f"<h1>{product.category.name}</h1>" in html
