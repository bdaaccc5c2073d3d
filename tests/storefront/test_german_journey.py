"""A purchase walked in German (Accept-Language: de) reads German from the home page to the
order confirmation email: every piece of text a shopper sees (text, labels, placeholders,
alt and aria texts, the email's subject and bodies) is compared with the same walk in English,
and nothing but the shop's own data (product, shop, address, prices) may read the same."""

import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django_countries import countries

from catalog.models import Category
from kernel.addresses import country_rules
from orders.models import Order
from tests.factories import ProductFactory, ShippingMethodFactory, stocked_variant
from tests.storefront.conftest import ADDRESS, Shopper

GERMAN_CATALOG = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.mo"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not GERMAN_CATALOG.exists(), reason="German catalog not compiled: run make translations"),
]

# Words German writes as English does.
SAME_IN_BOTH = {
    "Name",
    "Status",
    "Express",
    "E-Mail",
    "Standard",
    "Shop",
    "Login",
    "Design",
    "Start",
    "Sale",
    "optional",
}


class ShopperText(HTMLParser):
    """The text a shopper reads or hears in a page: text nodes outside scripts and styles,
    and the placeholder, alt, title, aria-label and button values."""

    SILENT = {"script", "style", "template"}
    SPOKEN = ("placeholder", "alt", "title", "aria-label")

    def __init__(self):
        super().__init__()
        self.pieces: set[str] = set()
        self._silent = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SILENT:
            self._silent += 1
        attrs = dict(attrs)
        for name in self.SPOKEN:
            if attrs.get(name):
                self.pieces.add(attrs[name].strip())
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.pieces.add(attrs["value"].strip())

    def handle_endtag(self, tag):
        if tag in self.SILENT:
            self._silent -= 1

    def handle_data(self, data):
        if not self._silent and data.strip():
            self.pieces.add(" ".join(data.split()))


def shopper_text(html: str) -> set[str]:
    parser = ShopperText()
    parser.feed(html)
    return parser.pieces


def _walk(client, variant, shipping, language: str) -> dict[str, str]:
    """The purchase journey's pages and the confirmation email, by name: their HTML."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    shopper = Shopper(client)
    pages = {}

    def get(name, path):
        response = client.get(path)
        assert response.status_code == 200, (language, name, path, response.status_code)
        pages[name] = response.content.decode()

    get("home", "/")
    get("listing", "/products/")
    get("search", "/products/?q=linen")
    get("search without results", "/products/?q=zzqqxx")
    get("product", variant.product.get_absolute_url())
    get("sign-up", "/accounts/signup/")
    get("log-in", "/accounts/login/")
    shopper.add(variant, 2)
    get("cart", "/cart/")
    get("checkout", "/checkout/")
    errors = client.post("/checkout/", {"email": "not an address", "country": "GB"})
    assert errors.status_code == 200
    pages["checkout with errors"] = errors.content.decode()
    assert shopper.checkout(shipping).status_code == 302
    get("review", "/checkout/review/")
    placed = shopper.place()
    get("payment", placed["Location"])
    dummy = client.post(placed["Location"], {"gateway": "dummy"})
    get("test payment", dummy["Location"])
    failed = shopper.pay(placed, outcome="fail")
    get("failed payment", failed["Location"])
    done = shopper.pay(placed)
    get("confirmation", done["Location"])
    return pages


@pytest.fixture
def catalog(db):
    product = ProductFactory(title="Linen Shirt", handle="linen-shirt", vendor="Hemp & Co", description="")
    variant = stocked_variant(on_hand=9, product=product, sku="LIN-1", price=Decimal("23.00"))
    shipping = ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
    return variant, shipping


def _data(variant, order: Order) -> list[str]:
    """What the shop's data makes of a page, the same in any language."""
    return [
        settings.SITE_NAME,
        settings.SHOP_BASE_URL,
        variant.product.title,
        variant.product.vendor,
        variant.sku,
        order.number,
        *(value for value in ADDRESS.values() if value),
        "United Kingdom",
        "Vereinigtes Königreich",
        *Category.objects.values_list("name", flat=True),
        "English",  # the switcher names each language in its own
        "Deutsch",
        # Proper names: countries as django-countries writes them in German (the same as in
        # English for many), the states of the country the form starts with.
        *_german_country_names(),
        *(name for _, name in country_rules(settings.SHOP_COUNTRY).country_area_choices),
    ]


def _german_country_names() -> list[str]:
    with translation.override("de"):
        names = [str(name) for _, name in countries]
    assert "Vereinigte Staaten" in names and "United States" not in names
    return names


def _leaks(german: set[str], english: set[str], data: list[str]) -> set[str]:
    """English pieces the German walk shows too, once the shop's data is taken out of them."""
    leaks = set()
    for piece in german & english:
        rest = piece
        for value in sorted(data, key=len, reverse=True):
            rest = rest.replace(value, " ")
        words = set(re.findall(r"[^\W\d_]{2,}", rest))
        if words - SAME_IN_BOTH:
            leaks.add(piece)
    return leaks


def test_a_purchase_in_german_shows_no_english(client, catalog, mailoutbox, django_capture_on_commit_callbacks):
    variant, shipping = catalog
    with django_capture_on_commit_callbacks(execute=True):
        english = _walk(client, variant, shipping, "en")
    english_order = Order.objects.get()
    english_mail = [message for message in mailoutbox if english_order.number in message.subject]
    client.cookies.clear()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        german = _walk(client, variant, shipping, "de-DE,de;q=0.9")
    german_order = Order.objects.exclude(pk=english_order.pk).get()
    assert german_order.language == "de"

    data = _data(variant, german_order) + [english_order.number]
    shown = {}
    for name, html in german.items():
        assert '<html lang="de">' in html, name
        if leaks := _leaks(shopper_text(html), shopper_text(english[name]), data):
            shown[name] = sorted(leaks)
    assert not shown, f"English on the German pages: {shown}"

    [confirmation] = [message for message in mailoutbox if german_order.number in message.subject]
    [english_confirmation] = english_mail
    assert confirmation.message()["Content-Language"] == "de"
    assert not _leaks({confirmation.subject}, {english_confirmation.subject.replace(english_order.number, "")}, data)
    body = {" ".join(line.split()) for line in confirmation.body.splitlines() if line.strip()}
    english_body = {" ".join(line.split()) for line in english_confirmation.body.splitlines() if line.strip()}
    assert not (leaks := _leaks(body, english_body, data)), f"the email's text shows English: {sorted(leaks)}"
    [(html, _)] = confirmation.alternatives
    [(english_html, _)] = english_confirmation.alternatives
    assert not (leaks := _leaks(shopper_text(html), shopper_text(english_html), data)), (
        f"the email's HTML shows English: {sorted(leaks)}"
    )
