"""Tax per country, on prices entered with tax (PRICES_INCLUDE_TAX=true) or without it:
rounded half up per line and for shipping, the total tax the sum of those parts. Every
expected figure below was worked out by hand."""

from decimal import Decimal

import pytest

from checkout.models import TaxRate, Voucher
from checkout.pricing import PricingInput, allocate, checkout_pricing
from orders.models import Order
from tests.checkout.helpers import cart_of, place, price
from tests.factories import ShippingMethodFactory, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def gb_vat(db):
    return TaxRate.objects.create(country="GB", name="VAT", rate=Decimal("0.2000"))


@pytest.fixture
def inclusive(settings):
    settings.PRICES_INCLUDE_TAX = True


@pytest.fixture
def exclusive(settings):
    settings.PRICES_INCLUDE_TAX = False


@pytest.fixture
def shirt_and_mug(db):
    return stocked_variant(price=Decimal("19.99")), stocked_variant(price=Decimal("7.50"))


@pytest.fixture
def method(db):
    return ShippingMethodFactory(price=Decimal("4.50"))


@pytest.mark.usefixtures("inclusive", "gb_vat")
def test_tax_is_worked_out_of_inclusive_prices_per_line_and_for_shipping(shirt_and_mug, method):
    shirt, mug = shirt_and_mug
    # 3 × 19.99 = 59.97 → 59.97 − 59.97 / 1.2 = 9.995 → 10.00 (half up)
    # 1 × 7.50 → 7.50 − 6.25 = 1.25; shipping 4.50 → 4.50 − 3.75 = 0.75
    pricing = price(cart_of((shirt, 3), (mug, 1)), method)

    assert [(line.line_total, line.tax_rate, line.tax_amount) for line in pricing.lines] == [
        (Decimal("59.97"), Decimal("0.2000"), Decimal("10.00")),
        (Decimal("7.50"), Decimal("0.2000"), Decimal("1.25")),
    ]
    assert pricing.shipping_tax == Decimal("0.75")
    assert pricing.tax == Decimal("12.00")
    assert pricing.subtotal == Decimal("67.47")
    assert pricing.total == Decimal("71.97")  # the tax is inside the prices


@pytest.mark.usefixtures("exclusive", "gb_vat")
def test_tax_is_added_to_exclusive_prices_per_line_and_for_shipping(shirt_and_mug, method):
    shirt, mug = shirt_and_mug
    # 59.97 × 0.2 = 11.994 → 11.99; 7.50 × 0.2 = 1.50; shipping 4.50 × 0.2 = 0.90
    pricing = price(cart_of((shirt, 3), (mug, 1)), method)

    assert [line.tax_amount for line in pricing.lines] == [Decimal("11.99"), Decimal("1.50")]
    assert pricing.shipping_tax == Decimal("0.90")
    assert pricing.tax == Decimal("14.39")
    assert pricing.total == Decimal("86.36")  # 67.47 + 4.50 + 14.39


@pytest.mark.usefixtures("exclusive", "gb_vat")
def test_tax_is_rounded_per_line_not_on_the_sum():
    # Each 0.13 × 0.2 = 0.026 → 0.03, three times: 0.09. On the sum it would be
    # 0.39 × 0.2 = 0.078 → 0.08: the lines must add up to the total, so per line it is.
    lines = [PricingInput(variant_id=i, unit_price=Decimal("0.13"), quantity=1) for i in range(3)]

    pricing = checkout_pricing(lines=lines, country="GB")

    assert [line.tax_amount for line in pricing.lines] == [Decimal("0.03")] * 3
    assert pricing.tax == Decimal("0.09")
    assert pricing.total == Decimal("0.48")


@pytest.mark.usefixtures("inclusive")
def test_a_reduced_rate_is_worked_out_of_inclusive_prices_to_the_cent():
    TaxRate.objects.create(country="DE", name="MwSt", rate=Decimal("0.1900"))
    # 10.00 − 10.00 / 1.19 = 1.5966… → 1.60; 0.05 − 0.05 / 1.19 = 0.00798… → 0.01
    lines = [
        PricingInput(variant_id=1, unit_price=Decimal("10.00"), quantity=1),
        PricingInput(variant_id=2, unit_price=Decimal("0.05"), quantity=1),
    ]

    pricing = checkout_pricing(lines=lines, country="DE")

    assert [line.tax_amount for line in pricing.lines] == [Decimal("1.60"), Decimal("0.01")]
    assert pricing.tax == Decimal("1.61")
    assert pricing.total == Decimal("10.05")


@pytest.mark.usefixtures("inclusive", "gb_vat")
def test_a_country_without_a_tax_rate_pays_no_tax(shirt_and_mug, method):
    shirt, _mug = shirt_and_mug

    pricing = price(cart_of((shirt, 1)), method, country="US")

    assert (pricing.tax_rate, pricing.tax, pricing.total) == (Decimal("0.0000"), Decimal("0.00"), Decimal("24.49"))


@pytest.mark.usefixtures("exclusive", "gb_vat")
def test_tax_is_charged_on_the_discounted_lines():
    # 30.00 and 10.00, 10.00 off: shares 7.50 and 2.50 → taxed on 22.50 and 7.50:
    # 4.50 and 1.50; shipping 5.00 × 0.2 = 1.00.
    Voucher.objects.create(code="TEN", kind=Voucher.Kind.FIXED, value=Decimal("10.00"))
    cart = cart_of((stocked_variant(price=Decimal("30.00")), 1), (stocked_variant(price=Decimal("10.00")), 1))

    pricing = price(cart, ShippingMethodFactory(price=Decimal("5.00")), voucher_code="ten")

    assert [(line.discount, line.tax_amount) for line in pricing.lines] == [
        (Decimal("7.50"), Decimal("4.50")),
        (Decimal("2.50"), Decimal("1.50")),
    ]
    assert pricing.tax == Decimal("7.00")
    assert pricing.total == Decimal("42.00")  # 40.00 − 10.00 + 5.00 + 7.00


def test_the_discount_is_spread_over_the_lines_so_that_the_parts_add_up_to_it():
    # 10.00 over three equal lines: 3.333… each; rounded down 3.33 × 3 = 9.99, the cent
    # left goes to the first line.
    parts = allocate(Decimal("10.00"), [Decimal("10.00")] * 3, quantum=Decimal("0.01"))

    assert parts == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert allocate(Decimal("1.00"), [Decimal("2.00"), Decimal("1.00")], quantum=Decimal("0.01")) == [
        Decimal("0.67"),  # 0.666… loses more to rounding down than 0.333…
        Decimal("0.33"),
    ]


@pytest.mark.usefixtures("exclusive", "gb_vat")
def test_the_placed_order_carries_the_tax_of_every_line_and_the_totals_as_priced(shirt_and_mug, method):
    shirt, mug = shirt_and_mug
    cart = cart_of((shirt, 3), (mug, 1))
    reviewed = price(cart, method)

    order = place(cart, method)

    assert [(line.sku, line.line_total, line.tax_rate, line.tax_amount) for line in order.lines.all()] == [
        (shirt.sku, Decimal("59.97"), Decimal("0.2000"), Decimal("11.99")),
        (mug.sku, Decimal("7.50"), Decimal("0.2000"), Decimal("1.50")),
    ]
    order.refresh_from_db()
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        Decimal("67.47"),
        Decimal("0.00"),
        Decimal("4.50"),
        Decimal("14.39"),
        Decimal("86.36"),
    )
    assert order.prices_include_tax is False
    assert order.total == reviewed.total


@pytest.mark.usefixtures("inclusive", "gb_vat")
def test_an_inclusive_order_records_that_its_tax_is_contained_in_the_total(shirt_and_mug, method):
    shirt, _mug = shirt_and_mug

    order = place(cart_of((shirt, 3)), method)

    order.refresh_from_db()
    assert (order.tax_total, order.total, order.prices_include_tax) == (Decimal("10.75"), Decimal("64.47"), True)


class TestTaxOnThePages:
    @pytest.fixture(autouse=True)
    def _rates(self, settings, inclusive):
        settings.SHOP_COUNTRY = "GB"
        TaxRate.objects.create(country="GB", name="VAT", rate=Decimal("0.2000"))
        TaxRate.objects.create(country="DE", name="MwSt", rate=Decimal("0.1900"))

    def test_the_cart_shows_the_tax_in_total_for_the_shop_country(self, shopper, variant):
        shopper.add(variant, 2)  # 46.00 → 46.00 − 46.00 / 1.2 = 7.666… → 7.67

        response = shopper.client.get("/cart/")

        assert response.context["pricing"].tax == Decimal("7.67")
        page = response.content.decode()
        assert "$7.67" in page and "Including VAT (20 %, United Kingdom)" in page

    def test_the_cart_shows_the_tax_of_the_country_chosen_at_checkout(self, shopper, variant):
        shopper.add(variant, 2)  # 46.00 − 46.00 / 1.19 = 7.344… → 7.34
        shopper.checkout(ShippingMethodFactory(), country="DE", city="Berlin", postal_code="10117")

        page = shopper.client.get("/cart/").content.decode()

        assert "$7.34" in page and "Including MwSt (19 %, Germany)" in page

    def test_the_review_and_the_order_page_show_the_same_tax(self, shopper, variant):
        # 46.00 → 7.67 and shipping 5.00 → 5.00 − 4.1666… = 0.83: 8.50 in all.
        shopper.add(variant, 2)
        shopper.checkout(ShippingMethodFactory(price=Decimal("5.00")))

        review = shopper.client.get("/checkout/review/")
        assert review.context["pricing"].tax == Decimal("8.50")
        assert "Including VAT (20 %, United Kingdom)" in review.content.decode()

        placed = shopper.place()
        order = Order.objects.get()
        assert order.tax_total == Decimal("8.50")
        page = shopper.client.get(placed["Location"]).content.decode()  # the payment page
        # Its summary: the tax in total (each line's tax is on the invoice).
        assert "Including tax" in page and "$8.50" in page
