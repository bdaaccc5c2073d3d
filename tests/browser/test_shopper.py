"""A guest shopper in a real browser: search, filter, open a product, pick a variant, add to
cart, change the quantity, check out, watch the countdown, pay with the dummy gateway, see
the confirmation and download the invoice."""

import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from orders.models import Order
from tests.factories import CategoryFactory, ProductFactory, ShippingMethodFactory, stocked_variant

pytestmark = pytest.mark.browser


@pytest.fixture
def catalog():
    """Two linen products in two categories (the shirt in sizes S and M) and a wool one."""
    shirts = CategoryFactory(name="Shirts", slug="shirts")
    trousers = CategoryFactory(name="Trousers", slug="trousers")
    shirt = ProductFactory(title="Linen Shirt", handle="linen-shirt", category=shirts, option1_name="Size")
    stocked_variant(on_hand=5, product=shirt, option1_value="S", sku="SHIRT-S", price=Decimal("23.00"))
    stocked_variant(on_hand=5, product=shirt, option1_value="M", sku="SHIRT-M", price=Decimal("25.00"))
    stocked_variant(on_hand=5, product__title="Linen Trousers", product__category=trousers, price=Decimal("40.00"))
    stocked_variant(on_hand=5, product__title="Wool Scarf", product__category=shirts, price=Decimal("15.00"))
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


def test_a_guest_finds_buys_pays_and_downloads_the_invoice(page, shot, catalog, tmp_path):
    page.goto("/")
    page.get_by_role("searchbox", name="Search products").fill("linen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Results for “linen”")).to_be_visible()
    expect(page.locator(".product-grid .product-card")).to_have_count(2)
    shot("search")

    page.locator(".filters").get_by_label("Category").select_option("shirts")
    page.locator(".filters").get_by_role("button", name="Apply").click()
    expect(page.locator(".product-grid .product-card")).to_have_count(1)
    shot("filter")

    page.get_by_role("link", name=re.compile("Linen Shirt")).click()
    expect(page.get_by_role("heading", name="Linen Shirt")).to_be_visible()
    # One button per size (a styled radio): choosing M shows M's price.
    page.get_by_role("radio", name="M", exact=True).check()
    expect(page.locator("[data-price]")).to_have_text("$25.00")
    shot("product-variant-m")

    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator(".message")).to_contain_text("Added 1 × Linen Shirt")
    shot("cart")

    # The stepper's + sets 2, and the line updates by itself (static/js/cart.js).
    page.get_by_role("button", name=re.compile("Increase quantity of Linen Shirt")).click()
    expect(page.locator(".message")).to_have_text("Cart updated.")
    expect(page.get_by_role("spinbutton", name=re.compile("Quantity of Linen Shirt"))).to_have_value("2")
    expect(page.locator("[data-subtotal]")).to_contain_text("50.00")  # 2 × 25.00 (size M)
    shot("cart-quantity-2")

    page.get_by_role("link", name="Check out").click()
    page.get_by_label("Email").fill("ada@example.com")
    address = page.locator("[data-checkout-address]")  # the billing address is the same (hidden)
    address.get_by_label("Country / region").select_option("GB")
    address.get_by_label("Full name").fill("Ada Lovelace")
    address.get_by_label("Address", exact=True).fill("12 St James's Square")
    address.get_by_label("Town / city").fill("London")  # the form follows the country
    address.get_by_label("Postcode").fill("SW1Y 4JH")
    page.get_by_role("radio", name=re.compile("Standard")).check()
    shot("checkout-details")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.locator("[data-total]")).to_contain_text("55.00")
    shot("review")
    page.get_by_role("button", name="Place order").click()

    order = Order.objects.get()
    expect(page.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
    countdown = page.locator("[data-countdown]")
    # countdown.js replaces the server's "14 minutes" with a ticking m:ss.
    expect(countdown).to_have_text(re.compile(r"^1[45]:\d\d$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)
    shot("pay-countdown")

    page.get_by_role("radio", name=re.compile("test", re.I)).check()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", name="Test payment")).to_be_visible()
    shot("dummy-gateway")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page.locator("[data-order-status]")).to_have_text("Paid")
    expect(page.get_by_text("Thank you for your order!")).to_be_visible()
    shot("confirmation")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID

    with page.expect_download() as download_info:
        page.locator("[data-invoice-link]").click()
    pdf = tmp_path / "invoice.pdf"
    download_info.value.save_as(pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert order.number in text
