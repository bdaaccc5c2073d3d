"""The purchase journey after the product page in a real browser, at a phone's 390 px and a
desktop's 1280 px: the cart (two lines with thumbnails), checkout, review, the payment page,
the dummy gateway, a failed payment and its "Try again" on the same order, the confirmation
and the order list. No page scrolls sideways; the console stays clean (conftest)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inventory.models import Reservation
from orders.models import Order
from payments.models import Payment
from tests.factories import ProductFactory, ShippingMethodFactory, UserFactory, stocked_variant

pytestmark = pytest.mark.browser

PASSWORD = "a-long-enough-passphrase-42"


@pytest.fixture
def products():
    tee = ProductFactory(title="Merino Crew Tee", handle="merino-crew-tee", option1_name="Size", option2_name="Colour")
    stocked_variant(
        on_hand=5, product=tee, option1_value="M", option2_value="Oat", sku="TEE-M-OAT", price=Decimal("38.00")
    )
    stocked_variant(
        on_hand=5, product__title="Olive Wood Spoon", product__handle="olive-spoon", sku="SPOON", price=Decimal("12.00")
    )
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
    ShippingMethodFactory(name="Express", price=Decimal("15.00"))


def no_sideways_scroll(page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at {width} px"


@pytest.mark.parametrize("width", [390, 1280])
def test_a_failed_payment_is_tried_again_on_the_same_order(page, shot, products, width):
    user = UserFactory(email="ada@example.com")
    user.set_password(PASSWORD)
    user.save()
    page.set_viewport_size({"width": width, "height": 900})
    seen = []

    def step(name: str) -> None:
        page.wait_for_load_state("load")
        no_sideways_scroll(page, width)
        seen.append(name)
        shot(f"{name}-{width}")

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    for handle in ("merino-crew-tee", "olive-spoon"):
        page.goto(f"/products/{handle}/")
        page.get_by_role("button", name="Add to cart").click()
        expect(page).to_have_url(re.compile(r"/cart/$"))
        page.wait_for_load_state("load")  # its thumbnails, before leaving the page

    lines = page.locator(".cart-line")
    expect(lines).to_have_count(2)
    for index in range(2):
        expect(lines.nth(index).locator("img.thumb")).to_be_visible()
    expect(page.get_by_text("TEE-M-OAT")).to_have_count(0)
    step("cart")

    page.get_by_role("link", name="Check out").click()
    address = page.locator("[data-checkout-address]")
    address.get_by_label("Country / region").select_option("GB")
    address.get_by_label("Full name").fill("Ada Lovelace")
    address.get_by_label("Address", exact=True).fill("12 St James's Square")
    address.get_by_label("Town / city").fill("London")
    address.get_by_label("Postcode").fill("SW1Y 4JH")
    page.get_by_role("radio", name=re.compile("Express")).check()
    expect(page.locator(".checkout-summary .summary-line")).to_have_count(2)
    # The side panel follows the method chosen (static/js/checkout.js).
    expect(page.locator(".checkout-summary [data-shipping]")).to_have_text("$15.00")
    expect(page.locator(".checkout-summary [data-total]")).to_have_text("$65.00")
    step("checkout")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.locator("[data-total]")).to_have_text("$65.00")  # 38 + 12 + 15
    step("review")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    step("pay")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", name="Test payment")).to_be_visible()
    step("dummy")
    page.get_by_role("button", name="Fail the payment").click()

    expect(page.get_by_role("heading", name="Your payment did not go through")).to_be_visible()
    expect(page.locator("[data-retry-window] [data-countdown]")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    step("failed")
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING_PAYMENT
    page.get_by_role("button", name=re.compile("^Try again")).click()
    expect(page.get_by_role("heading", name="Test payment")).to_be_visible()
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    expect(page.locator(".payment-item")).to_have_count(2)
    step("confirmation")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and Order.objects.count() == 1
    assert Payment.objects.filter(status=Payment.Status.CAPTURED).count() == 1
    # One hold per line, taken at Place order, sold once: none taken again for the retry.
    holds = Reservation.objects.filter(owner=order.reservation_owner)
    assert sorted(holds.values_list("status", flat=True)) == [Reservation.Status.COMMITTED] * 2
    assert Reservation.objects.count() == 2

    page.goto("/orders/")
    expect(page.get_by_role("link", name=order.number)).to_be_visible()
    step("order-list")
    assert seen == ["cart", "checkout", "review", "pay", "dummy", "failed", "confirmation", "order-list"]
