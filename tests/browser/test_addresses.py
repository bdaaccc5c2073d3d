"""The address form in a real browser, at 390 and 1280 px: changing the country redraws the
fields for it (static/js/address.js, from /api/v1/address-rules/): labels, the subdivision
list, fields the country does not use; the billing address appears when "same as shipping"
is unticked; a US address without its state comes back with the error by the field; a
Japanese one goes through to the review in Japan's format. No sideways scroll, a clean
console (conftest)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import ShippingMethodFactory, stocked_variant

pytestmark = pytest.mark.browser


@pytest.fixture
def product():
    stocked_variant(
        on_hand=5, product__title="Olive Wood Spoon", product__handle="olive-spoon", sku="SPOON", price=Decimal("12.00")
    )
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


@pytest.mark.parametrize("width", [390, 1280])
def test_the_address_form_follows_the_country(page, shot, product, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/products/olive-spoon/")
    page.get_by_role("button", name="Add to cart").click()
    page.goto("/checkout/")
    expect(page.locator("label[for=id_country_area]")).to_have_text("State")
    expect(page.locator("label[for=id_postal_code]")).to_have_text("ZIP code")
    shot(f"us-{width}")

    page.get_by_label("Email").fill("taro@example.com")
    page.locator("#id_name").fill("Taro Yamada")
    page.locator("#id_line1").fill("1-1 Chiyoda")
    page.locator("#id_city").fill("Springfield")
    page.locator("#id_postal_code").fill("62701")
    page.get_by_role("button", name="Continue to review").click()
    # No state: the page again, the error by its field.
    expect(page.locator("#id_country_area_error")).to_have_text("This field is required.")
    shot(f"us-without-state-{width}")

    page.locator("#id_country").select_option("JP")
    expect(page.locator("label[for=id_country_area]")).to_have_text("Prefecture")
    expect(page.locator("label[for=id_postal_code]")).to_have_text("Postal code")
    expect(page.locator("[data-new-address] [data-address-wrapper=city]")).to_be_hidden()
    page.locator("#id_country_area").select_option(label="Tokyo")
    page.locator("#id_postal_code").fill("100-0001")

    expect(page.locator("[data-billing-address]")).to_be_hidden()
    page.get_by_label("Billing address: same as shipping").uncheck()
    expect(page.locator("[data-billing-address]")).to_be_visible()
    page.get_by_label("Billing address: same as shipping").check()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(f"japan-{width}")

    page.get_by_role("button", name="Continue to review").click()
    expect(page).to_have_url("/checkout/review/")
    expect(page.locator(".review-address").first).to_have_text(
        "Taro Yamada1-1 Chiyoda, Tokyo100-0001Japan", use_inner_text=False
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(f"review-{width}")


def test_a_country_chosen_before_the_script_ran_still_lays_the_form_out(page, product):
    """On a slow connection the shopper may pick a country before address.js has run: its
    change event is gone, and the script lays the form out for it when it arrives."""
    page.goto("/products/olive-spoon/")
    page.get_by_role("button", name="Add to cart").click()
    held = []
    page.route("**/js/address*.js", lambda route: held.append(route))  # held until released
    page.goto("/checkout/", wait_until="commit")
    page.locator("#id_country").select_option("GB")
    expect(page.locator("label[for=id_city]")).to_have_text("City")  # nothing ran yet
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("label[for=id_city]")).to_have_text("Town / city")
    expect(page.locator("label[for=id_postal_code]")).to_have_text("Postcode")
