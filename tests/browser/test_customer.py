"""A returning customer in a real browser: signs up, logs out, fills a guest cart, logs in
(the guest cart merges into theirs), checks out, views their orders and cancels one."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orders.models import Order
from tests.factories import ShippingMethodFactory, stocked_variant

pytestmark = pytest.mark.browser

EMAIL = "grace@example.com"
PASSWORD = "a long and unusual passphrase 42"


@pytest.fixture
def products():
    """(mug, teapot): two single-variant products in stock, and a shipping method."""
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
    return (
        stocked_variant(on_hand=5, product__title="Blue Mug", product__handle="blue-mug", price=Decimal("9.00")),
        stocked_variant(on_hand=5, product__title="Teapot", product__handle="teapot", price=Decimal("30.00")),
    )


def add_to_cart(page, variant) -> None:
    page.goto(variant.product.get_absolute_url())
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))


def check_out_and_place(page) -> None:
    """From the cart: fills the address (the email is the account's), places the order and
    waits for the payment page."""
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("Email").fill(EMAIL)
    address = page.locator("[data-checkout-address]")  # the billing address is the same (hidden)
    address.get_by_label("Country / region").select_option("US")
    address.get_by_label("Full name").fill("Grace Hopper")
    address.get_by_label("Address", exact=True).fill("1 Navy Yard")
    address.get_by_label("City").fill("Arlington")
    address.get_by_label("State").select_option("VA")
    address.get_by_label("ZIP code").fill("22202")
    page.get_by_role("radio", name=re.compile("Standard")).check()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("[data-countdown]")).to_be_visible()


def test_a_customer_signs_up_merges_carts_orders_and_cancels(page, shot, products):
    mug, teapot = products
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    shot("signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".message")).to_contain_text("Your account is ready")
    shot("signed-up")

    add_to_cart(page, mug)  # into the account's cart
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    add_to_cart(page, teapot)  # into a guest cart
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    shot("guest-cart")

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    shot("login")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".message")).to_contain_text("We added the items from your guest cart")
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.locator(".cart-line[data-line]")).to_have_count(2)
    expect(page.locator("[data-subtotal]")).to_contain_text("39.00")  # 9.00 + 30.00
    shot("merged-cart")

    check_out_and_place(page)  # an order for both, left unpaid
    first = Order.objects.get()
    add_to_cart(page, mug)
    check_out_and_place(page)  # a second order, for one mug
    second = Order.objects.exclude(pk=first.pk).get()

    page.get_by_role("link", name="Orders").click()
    expect(page.get_by_role("heading", name="Your orders")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)
    shot("orders")

    page.get_by_role("link", name=first.number).click()
    expect(page.locator("[data-order-status]")).to_have_text("Pending payment")
    page.get_by_label("Why are you cancelling?").fill("Ordered the teapot twice.")
    shot("cancel-form")
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator(".message")).to_have_text(f"Order {first.number} is cancelled.")
    expect(page.locator("[data-order-status]")).to_have_text("Cancelled")
    shot("cancelled")

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Order.Status.CANCELLED and first.user.email == EMAIL
    assert second.status == Order.Status.PENDING_PAYMENT
