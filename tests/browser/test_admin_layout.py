"""The back office at 1280 px in a real browser: the shop's name in the header, "Reports and
tools" one line per tool, a product's page no wider than the window and its description
edited as formatted text, order and reservation lists whose every column is in view, and the
attention flag only on the orders that need it."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from catalog.models import Product, ProductImage
from orders.models import Order
from tests.factories import ProductFactory, UserFactory, stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"  # UserFactory's
WIDTH = 1280


@pytest.fixture
def shop(db):
    """A product with two options and six variants, an image, and two orders (one flagged)."""
    product = ProductFactory(
        title="Merino Crew Tee",
        option1_name="Size",
        option2_name="Color",
        description="<p>A light merino wool T-shirt that stays fresh for days.</p>",
    )
    variants = [
        stocked_variant(
            on_hand=5,
            product=product,
            sku=f"TEE-MERINO-{size}-{color.upper()}",
            option1_value=size,
            option2_value=color,
            price=Decimal("38.00"),
            compare_at_price=Decimal("45.00"),
            grams=170,
        )
        for size in ("S", "M", "L")
        for color in ("Oat", "Charcoal")
    ]
    ProductImage.objects.create(product=product, source_url="https://example.com/tee.jpg", alt="Merino Crew Tee")
    calm = place_order((variants[0], 1))
    flagged = place_order((variants[1], 2))
    Order.objects.filter(pk=flagged.pk).update(needs_attention=True)
    return product, calm, flagged


def log_in(page):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    page.goto(reverse("admin:index"))
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def assert_whole_table_in_view(page):
    """The change list's table is not cut off on the right: nothing to scroll sideways in its
    box, and its last column ends inside the window."""
    results = page.locator("#changelist .results")
    overflow = results.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, f"the list is {overflow} px wider than its box"
    last = page.locator("#result_list thead th").last.bounding_box()
    assert last["x"] + last["width"] <= WIDTH
    assert page_width(page) <= WIDTH


def test_the_back_office_fits_1280_px_and_shows_the_shop(page, shot, shop):
    product, calm, flagged = shop
    log_in(page)

    expect(page.locator("#site-name")).to_have_text("Small Shop")
    assert "Django" not in page.title()
    tools = page.locator("#shop-reports li > a")
    expect(tools).to_have_count(3)
    line_height = tools.first.evaluate("el => parseFloat(getComputedStyle(el).lineHeight) || 20")
    for i in range(3):
        box = tools.nth(i).bounding_box()
        assert box["height"] < 1.6 * line_height, f"{tools.nth(i).inner_text()!r} wraps: {box}"
        assert box["width"] > 60
    assert page_width(page) <= WIDTH
    shot("admin-home")

    page.goto(reverse("admin:catalog_product_change", args=[product.pk]))
    expect(page.locator("#productvariant_set-group, #variants-group").first).to_be_visible()
    assert page_width(page) <= WIDTH, f"the product page is {page_width(page)} px wide"
    shot("product-page")

    page.goto(reverse("admin:orders_order_changelist"))
    assert_whole_table_in_view(page)
    flagged_row = page.locator("#result_list tbody tr", has_text=flagged.number)
    calm_row = page.locator("#result_list tbody tr", has_text=calm.number)
    expect(flagged_row.locator("td.field-attention")).to_have_text("Needs attention")
    expect(calm_row.locator("td.field-attention")).to_have_text(re.compile(r"^\s*$"))
    expect(page.locator("#result_list img[src*='icon-no']")).to_have_count(0)
    expect(calm_row.locator("td.field-total_display")).to_have_text(re.compile(r"^\$\d+\.\d\d$"))
    shot("order-list")

    page.goto(reverse("admin:orders_order_change", args=[flagged.pk]))
    assert page_width(page) <= WIDTH
    shot("order-page")

    page.goto(reverse("admin:inventory_reservation_changelist"))
    assert_whole_table_in_view(page)
    shot("reservation-list")


def test_staff_edit_the_description_as_formatted_text_and_it_is_saved_as_clean_html(page, shot, shop):
    product, _calm, _flagged = shop
    log_in(page)
    page.goto(reverse("admin:catalog_product_change", args=[product.pk]))

    editor = page.get_by_role("textbox", name="Description")
    expect(editor).to_be_visible()
    expect(editor).to_contain_text("A light merino wool T-shirt")
    expect(page.locator("textarea[name=description]")).to_be_hidden()
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Bulleted list").click()
    page.keyboard.type("100% merino wool")
    page.keyboard.press("Enter")
    page.keyboard.type("Regular fit")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # out of the list
    page.get_by_role("button", name="Bold (Ctrl+B)").click()
    page.keyboard.type("Machine washable")
    shot("description-editor")

    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    saved = Product.objects.get(pk=product.pk).description
    assert "<p>A light merino wool T-shirt that stays fresh for days.</p>" in saved
    assert re.search(r"<ul><li>100% merino wool</li><li>Regular fit</li></ul>", saved), saved
    assert re.search(r"<(b|strong)>Machine washable</\1>", saved), saved
    expect(page.get_by_role("textbox", name="Description")).to_contain_text("Regular fit")
    shot("description-saved")
