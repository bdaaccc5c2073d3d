"""The account area in a real browser, on a phone (390 px) and a desktop (1280 px): sign up,
edit the profile, save two addresses and make the second the default, check out with it
filled in, change the password, log out and log in again with the new one. No page scrolls
sideways, every step leaves a screenshot, and the console stays clean (conftest.page)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Address, User
from kernel.addresses import address_from
from orders.models import Order
from tests.factories import ShippingMethodFactory, stocked_variant

pytestmark = pytest.mark.browser

EMAIL = "hedy@example.com"
PASSWORD = "a long and unusual passphrase 42"
NEW_PASSWORD = "frequency hopping since 1942"


@pytest.fixture
def mug():
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
    return stocked_variant(on_hand=5, product__title="Blue Mug", product__handle="blue-mug", price=Decimal("9.00"))


def fits(page, width: int) -> None:
    """The page is no wider than the viewport: nothing scrolls sideways."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide in a {width}px viewport"


def account_nav(page):
    return page.get_by_role("navigation", name="Account area")


@pytest.mark.parametrize("width", [390, 1280])
def test_a_customer_keeps_their_account_addresses_and_password_in_the_account_area(page, shot, mug, width):
    page.set_viewport_size({"width": width, "height": 844 if width < 900 else 900})

    def settle() -> None:
        # The page in view finishes loading (its favicon too) before the next step leaves it:
        # leaving mid-way aborts its requests, which the page fixture reports as failures.
        page.wait_for_load_state("networkidle")

    def step(name: str) -> None:
        settle()
        fits(page, width)
        shot(name)

    def go(path: str) -> None:
        settle()
        page.goto(path)

    # Sign up.
    go("/accounts/signup/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    step("signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".alert--success")).to_contain_text("Your account is ready")

    # The overview, with its own navigation.
    go("/accounts/")
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    expect(account_nav(page).get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    step("account")

    # Profile.
    account_nav(page).get_by_role("link", name="Profile").click()
    page.get_by_label("First name").fill("Hedy")
    page.get_by_label("Last name").fill("Lamarr")
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".field--invalid")).to_contain_text("Enter a valid phone number")
    step("profile-invalid-phone")
    page.get_by_label("Phone").fill("+1 213 555 0142")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".alert--success")).to_have_text("Your profile is saved.")
    step("profile-saved")
    user = User.objects.get(email=EMAIL)
    assert (user.get_full_name(), str(user.phone)) == ("Hedy Lamarr", "+12135550142")

    # Two addresses; the second becomes the default.
    account_nav(page).get_by_role("link", name="Addresses").click()
    expect(page.get_by_text("You have no saved addresses")).to_be_visible()
    step("addresses-empty")
    page.get_by_role("link", name="Add an address").click()
    settle()  # static/js/address.js listens for the change of country once loaded
    page.get_by_label("Country / region").select_option("GB")
    page.get_by_label("Full name").fill("Hedy Lamarr")
    page.get_by_label("Address", exact=True).fill("12 St James's Square")
    page.get_by_label("Town / city").fill("London")  # the form follows the country
    page.get_by_label("Postcode").fill("SW1Y 4JHX")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".field--invalid")).to_contain_text("postcode")
    step("address-invalid-postcode")
    page.get_by_label("Postcode").fill("SW1Y 4JH")
    step("address-form-gb")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".alert--success")).to_have_text("The address is saved.")

    page.get_by_role("link", name="Add an address").click()
    settle()  # static/js/address.js listens for the change of country once loaded
    page.get_by_label("Country / region").select_option("US")
    page.get_by_label("Full name").fill("Hedy Lamarr")
    page.get_by_label("Address", exact=True).fill("742 Evergreen Terrace")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("State").select_option("IL")
    page.get_by_label("ZIP code").fill("62701")
    step("address-form-us")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".alert--success")).to_have_text("The address is saved.")
    expect(page.locator("[data-address]")).to_have_count(2)
    expect(page.locator("[data-address]").first).to_contain_text("Default")
    step("addresses-two")
    page.get_by_role("button", name=re.compile("Make default.*Evergreen Terrace")).click()
    expect(page.locator(".alert--success")).to_have_text("That is now your default address.")
    expect(page.locator("[data-address]").first).to_contain_text("Springfield, IL 62701")
    expect(page.locator("[data-address]").first).to_contain_text("Default")
    step("addresses-default-moved")
    assert list(Address.objects.filter(user=user, is_default=True).values_list("city", flat=True)) == ["Springfield"]

    # Delete asks first.
    page.get_by_role("link", name=re.compile("Delete.*St James")).click()
    expect(page.get_by_role("heading", name="Delete this address?")).to_be_visible()
    step("address-delete-confirm")
    page.get_by_role("link", name="Keep it").click()
    expect(page.locator("[data-address]")).to_have_count(2)

    # Check out: the default address is the one chosen, and the order lands in the account.
    go(mug.product.get_absolute_url())
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    settle()
    page.get_by_role("link", name="Check out").click()
    saved = page.get_by_role("radiogroup", name="Your saved addresses")
    expect(saved.get_by_role("radio", name=re.compile("742 Evergreen Terrace"))).to_be_checked()
    expect(saved.get_by_role("radio", name=re.compile("St James"))).not_to_be_checked()
    expect(page.get_by_label("Email")).to_have_value(EMAIL)
    step("checkout-default-address")
    page.get_by_role("radio", name=re.compile("Standard")).check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.get_by_text("742 Evergreen Terrace").first).to_be_visible()
    step("checkout-review")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("[data-countdown]")).to_be_visible()
    order = Order.objects.get()
    shipped_to = address_from(order, "shipping_")
    assert (shipped_to["line1"], shipped_to["city"], shipped_to["country_area"], shipped_to["country"]) == (
        "742 Evergreen Terrace",
        "Springfield",
        "IL",
        "US",
    )
    go("/accounts/")
    expect(page.locator(".account-orders__item")).to_have_count(1)
    expect(page.locator(".account-orders__item")).to_contain_text("Pending payment")
    step("account-with-order")

    # Privacy and data.
    go("/accounts/privacy/")
    expect(page.get_by_role("link", name="Download my data")).to_be_visible()
    step("privacy")
    page.get_by_role("link", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible()
    step("delete-account")

    # Password.
    account_nav(page).get_by_role("link", name="Password").click()
    page.get_by_label("Old password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".field--invalid")).to_contain_text("Your old password was entered incorrectly")
    step("password-wrong")
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".alert--success")).to_contain_text("Your password is changed.")
    step("password-changed")

    # Log out from the account navigation, and back in with the new password.
    account_nav(page).get_by_role("button", name="Log out").click()
    go("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    step("login")
    page.get_by_role("button", name="Log in").click()
    go("/accounts/")
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    expect(page.get_by_text(f"Signed in as {EMAIL}")).to_be_visible()
    step("logged-in-again")
