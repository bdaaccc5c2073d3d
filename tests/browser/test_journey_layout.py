"""Every page of the purchase journey and of the account area, in a real browser at a phone's
width (390 × 844) and a laptop's (1280 × 800): no page scrolls sideways, the console stays
clean (the `page` fixture fails the test on any console error, uncaught exception, failed
request or HTTP error from our origin), and each page leaves a full-page screenshot named
after the page and the width (.test-artifacts/browser/<test>/NN-<page>-<width>.png).

Plus what the storefront must look like on those screens: at 390 px the listing shows two
product cards side by side (three or four at 1280), every cart line shows the product's image,
a product with two options (size, colour) offers one group of choices per option rather than
one radio button per combination, and the header fits in one row with a menu button on a
phone (the category navigation shows on a laptop).

A page that scrolls sideways is reported with its measured width and the elements that stick
out past the viewport (those whose right edge is beyond it with no clipping ancestor), widest
first, so that the template or the rule responsible can be found; the journey checks every
page before it fails, so one run lists them all.

Product images: the live server does not serve MEDIA_ROOT (production's web server does), so
each test's page answers /media/ requests from it (`_serve_media`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Address
from cart.services import cart_add, cart_for_shopper
from catalog.images import make_thumbnails, placeholder_image
from catalog.models import ProductImage
from orders.models import Order
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ShippingMethodFactory,
    UserFactory,
    stocked_variant,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
WIDTHS = pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390", "1280"])
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's

# What makes the page scroll sideways: the elements past the right edge of the viewport that
# nothing clips, as "where it breaks out, furthest inside" pairs, furthest right first.
OVERFLOW_JS = """() => {
  const limit = window.innerWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.documentElement; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'hidden' || o === 'auto' || o === 'scroll' || o === 'clip') return true;
    }
    return false;
  };
  const describe = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) s += '#' + e.id;
      const cls = (typeof e.className === 'string' ? e.className : '').trim().split(/\\s+/).filter(Boolean);
      if (cls.length) s += '.' + cls.slice(0, 3).join('.');
      parts.unshift(s);
    }
    const r = el.getBoundingClientRect();
    return `${parts.join(' > ')} (right edge ${Math.round(r.right)} px, width ${Math.round(r.width)} px)`;
  };
  const out = [...document.body.querySelectorAll('*')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > limit + 0.5 && getComputedStyle(el).position !== 'fixed' && !clipped(el);
  });
  const inside = new Set(out);
  const right = (el) => el.getBoundingClientRect().right;
  // Where the layout breaks out of its container (an element sticking out whose parent does
  // not), and within it the innermost element reaching furthest right (often the cause:
  // a long word, a fixed width, a table's min-content).
  const roots = out.filter((el) => !inside.has(el.parentElement)).sort((a, b) => right(b) - right(a));
  const culprits = roots.slice(0, 3).map((root) => {
    const leaves = out.filter((el) => root.contains(el) && ![...el.children].some((c) => inside.has(c)));
    leaves.sort((a, b) => right(b) - right(a));
    const leaf = leaves[0];
    return leaf && leaf !== root ? `${describe(root)}, furthest inside: ${describe(leaf)}` : describe(root);
  });
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, culprits};
}"""

# Product cards (.product-card, or a .card): the outermost ones that link to a product page
# (/products/<handle>/), with their boxes.
PRODUCT_CARDS_JS = """() => {
  const all = [...document.querySelectorAll('main .product-card, main .card')];
  return all
    .filter((card) => !all.some((other) => other !== card && other.contains(card)))
    .filter((card) => [card, ...card.querySelectorAll('a[href]')].some(
      (a) => a.href && /^\\/products\\/[^\\/]+\\/$/.test(new URL(a.href, location.href).pathname)))
    .map((card) => { const r = card.getBoundingClientRect();
                     return {top: Math.round(r.top), left: Math.round(r.left), width: Math.round(r.width)}; });
}"""


# -- the shop --------------------------------------------------------------------------------


def _image(product, position: int = 1) -> None:
    """A generated picture for `product` with its WebP thumbnails, as the importer makes."""
    image = ProductImage(product=product, alt=f"{product.title}, view {position}", position=position)
    data = placeholder_image(title=product.title, seed=f"{product.handle}-{position}")
    image.image.save(f"{product.handle}-{position}.jpg", ContentFile(data), save=False)
    image.thumbnails = make_thumbnails(image)
    image.save()


@pytest.fixture
def shop():
    """Two categories and six products with images: a tee in three sizes and two colours (one
    combination sold out, one on sale), a mug with one variant and four more; a shipping
    method; a customer with a default address in the US and a cart of the tee and the mug."""
    apparel = CategoryFactory(name="Apparel", slug="apparel")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    tee = ProductFactory(
        title="Merino Crew Tee",
        handle="merino-crew-tee",
        category=apparel,
        option1_name="Size",
        option2_name="Colour",
        description="<p>A light merino wool T-shirt that stays fresh for days.</p>",
    )
    variants = {}
    for size in ("S", "M", "L"):
        for colour in ("Oat", "Charcoal"):
            on_hand = 0 if (size, colour) == ("L", "Oat") else 5
            variants[size, colour] = stocked_variant(
                on_hand=on_hand,
                product=tee,
                option1_value=size,
                option2_value=colour,
                sku=f"TEE-{size}-{colour.upper()}",
                price=Decimal("38.00"),
                compare_at_price=Decimal("45.00") if colour == "Oat" else None,
            )
    _image(tee, 1)
    _image(tee, 2)
    mug = stocked_variant(
        on_hand=20, product__title="Enamel Camp Mug", product__handle="enamel-camp-mug", product__category=kitchen
    )
    _image(mug.product)
    for title, category, price in (
        ("Linen Overshirt", apparel, "79.00"),
        ("Ribbed Wool Beanie", apparel, "24.00"),
        ("Cast Iron Skillet", kitchen, "49.00"),
        ("Olive Wood Spoon Set", kitchen, "29.00"),
    ):
        variant = stocked_variant(on_hand=8, product__title=title, product__category=category, price=Decimal(price))
        _image(variant.product)
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))

    customer = UserFactory(email="ada@example.com")
    Address.objects.create(
        user=customer,
        name="Ada Lovelace",
        line1="100 Main Street",
        city="Springfield",
        country_area="IL",
        postal_code="62701",
        country="US",
        is_default=True,
    )
    cart = cart_for_shopper(user=customer, create=True)
    cart_add(cart=cart, variant_id=variants["M", "Charcoal"].pk, quantity=1)
    cart_add(cart=cart, variant_id=mug.pk, quantity=2)
    return {"tee": tee, "mug": mug.product, "customer": customer}


# -- helpers ---------------------------------------------------------------------------------


def _serve_media(page, live_server) -> None:
    """Answers the page's /media/… requests from MEDIA_ROOT, as production's web server does."""

    def fulfill(route):
        relative = unquote(urlsplit(route.request.url).path)[len("/media/") :]
        root = Path(settings.MEDIA_ROOT).resolve()
        path = (root / relative).resolve()
        if root in path.parents and path.is_file():
            route.fulfill(path=path)
        else:
            route.fulfill(status=404, body="not found")

    page.route(f"{live_server.url}/media/**", fulfill)


@pytest.fixture
def screen(page, live_server, request):
    """The page at the test's viewport (the `viewport` parameter), with media served."""
    page.set_viewport_size(request.node.callspec.params["viewport"])
    _serve_media(page, live_server)
    return page


def _log_in(page, live_server, user) -> None:
    """Signs `user` in for the browser: a session made by Django's test client, its cookie
    handed to the browser context (the sign-in form itself is visited by the account test)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


class Layout:
    """Checks each page of a walk for sideways scrolling and takes its screenshot; `problems`
    collects what failed so that one run reports every page."""

    def __init__(self, page, shot, width: int):
        self.page = page
        self.shot = shot
        self.width = width
        self.problems: list[str] = []

    def visit(self, name: str, path: str) -> None:
        """Opens `path`, which must answer 200 without a redirect, and checks it."""
        response = self.page.goto(path)
        status = response.status if response else "no response"
        assert status == 200 and urlsplit(self.page.url).path == urlsplit(path).path, (
            f"{name} at {self.width} px: {path} answered {status} at {self.page.url}"
        )
        self.check(name)

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        measured = self.page.evaluate(OVERFLOW_JS)
        if measured["scrollWidth"] > measured["innerWidth"]:
            culprits = "; ".join(measured["culprits"])
            self.problems.append(
                f"{name} at {self.width} px ({self.page.url}): scrollWidth {measured['scrollWidth']} > "
                f"innerWidth {measured['innerWidth']}; sticking out: {culprits or 'nothing found'}"
            )
        self.shot(f"{name}-{self.width}")

    def fail_if_any(self) -> None:
        if self.problems:
            pytest.fail("pages scroll sideways:\n" + "\n".join(self.problems), pytrace=False)


def _form_errors(page) -> str:
    return " | ".join(
        " ".join(text.split()) for text in page.locator(".field__errors, .errorlist, .alert--error").all_inner_texts()
    )


# -- the purchase journey --------------------------------------------------------------------


@WIDTHS
def test_the_purchase_journey_fits_the_screen(screen, shot, live_server, shop, viewport):
    page, layout = screen, Layout(screen, shot, viewport["width"])
    _log_in(page, live_server, shop["customer"])

    layout.visit("home", "/")
    layout.visit("listing", "/products/")
    layout.visit("category", "/products/?category=apparel")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Apparel")
    layout.visit("product", shop["tee"].get_absolute_url())
    expect(page.get_by_role("heading", name="Merino Crew Tee", level=1)).to_be_visible()
    layout.visit("cart", "/cart/")
    expect(page.locator("[data-line]")).to_have_count(2)
    layout.visit("checkout", "/checkout/")
    method = page.get_by_role("radio", name=re.compile("Standard"))
    if not method.is_checked():
        method.check()
    page.get_by_role("button", name="Continue to review").click()
    assert urlsplit(page.url).path == "/checkout/review/", (
        f"the checkout with the default address pre-filled did not continue to the review: {_form_errors(page)}"
    )
    layout.check("review")

    page.get_by_role("button", name="Place order").click()
    expect(page.locator("[data-countdown]")).to_be_visible()
    layout.check("payment")
    test_gateway = page.get_by_role("radio", name=re.compile("test", re.I))
    if test_gateway.count() and not test_gateway.is_checked():
        test_gateway.check()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("button", name="Fail the payment")).to_be_visible()
    layout.check("gateway")
    page.get_by_role("button", name="Pay", exact=True).click()

    order = Order.objects.get()
    expect(page.locator("[data-order-status]")).to_have_text("Paid")
    layout.check("confirmation")
    layout.visit("orders", "/orders/")
    expect(page.get_by_role("link", name=order.number)).to_be_visible()
    layout.fail_if_any()


@WIDTHS
def test_the_account_area_fits_the_screen(screen, shot, live_server, shop, viewport):
    page, layout = screen, Layout(screen, shot, viewport["width"])
    for name, path in (("login", "/accounts/login/"), ("signup", "/accounts/signup/")):
        layout.visit(name, path)
        expect(page.get_by_role("main").get_by_label(re.compile(r"^Email")).first).to_be_visible()

    _log_in(page, live_server, shop["customer"])
    for name, path in (
        ("account", "/accounts/"),
        ("profile", "/accounts/profile/"),
        ("addresses", "/accounts/addresses/"),
        ("address-add", "/accounts/addresses/add/"),
        ("password-change", "/accounts/password/change/"),
    ):
        layout.visit(name, path)
    layout.fail_if_any()


# -- what the pages must look like -----------------------------------------------------------


@WIDTHS
def test_the_listing_shows_two_cards_a_row_on_a_phone_and_three_or_four_on_a_laptop(screen, shop, viewport):
    screen.goto("/products/")
    cards = screen.evaluate(PRODUCT_CARDS_JS)
    assert len(cards) == 6, cards
    first_row = [card for card in cards if abs(card["top"] - cards[0]["top"]) <= 2]
    if viewport["width"] == PHONE["width"]:
        assert len(first_row) == 2, f"cards on the first row at 390 px: {first_row} (all: {cards})"
        # Side by side: same top, the second starting right of the first.
        assert first_row[1]["left"] >= first_row[0]["left"] + first_row[0]["width"] - 1, cards
    else:
        assert len(first_row) in (3, 4), f"cards on the first row at 1280 px: {first_row}"


@WIDTHS
def test_every_cart_line_shows_the_products_image(screen, live_server, shop, viewport):
    _log_in(screen, live_server, shop["customer"])
    screen.goto("/cart/")
    lines = screen.locator("[data-line]")
    expect(lines).to_have_count(2)
    for line in lines.all():
        image = line.locator("img").first
        expect(image).to_be_visible()
        image.scroll_into_view_if_needed()
        handle = image.element_handle()
        screen.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=handle)
        src = image.get_attribute("src") or ""
        assert "/media/products/" in src, f"the cart line's image is not the product's: {src}"


@pytest.mark.parametrize("viewport", [PHONE], ids=["390"])
def test_a_product_with_two_options_offers_one_group_per_option(screen, shop, viewport):
    screen.goto(shop["tee"].get_absolute_url())
    form = screen.locator("form", has=screen.get_by_role("button", name="Add to cart"))
    groups = form.locator("fieldset")
    expect(groups).to_have_count(2)
    legends = [" ".join(text.split()) for text in groups.locator("legend").all_inner_texts()]
    assert legends[0].startswith("Size") and legends[1].startswith("Colour"), legends
    # One control per value (three sizes, two colours), not one per combination (six).
    controls = "input[type=radio], [role=radio], button[aria-pressed]"
    assert groups.nth(0).locator(controls).count() == 3
    assert groups.nth(1).locator(controls).count() == 2
    choices = [" ".join(text.split()) for text in form.locator("label").all_inner_texts()]
    assert not [choice for choice in choices if " / " in choice], choices


@WIDTHS
def test_the_header_fits_one_row_with_a_menu_button_on_a_phone(screen, shop, viewport):
    screen.goto("/")
    header = screen.locator("body > header, header.site-header").first
    menu = screen.get_by_role("button", name=re.compile("menu", re.I))
    categories = screen.get_by_role("navigation", name=re.compile("categor", re.I))
    if viewport["width"] == PHONE["width"]:
        height = header.bounding_box()["height"]
        assert height < 80, f"the header is {height} px high at 390 px: more than one row"
        expect(menu).to_be_visible()
        menu.click()
        expect(categories).to_be_visible()
    else:
        expect(categories).to_be_visible()
        expect(categories.get_by_role("link", name="Apparel")).to_be_visible()
