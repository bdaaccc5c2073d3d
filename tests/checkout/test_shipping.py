"""Shipping methods: flat or by weight band, limited to countries, free over a threshold; the
checkout form offers only the methods that can take the cart."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cart.models import Cart
from cart.selectors import cart_view
from checkout.exceptions import ShippingUnavailable
from checkout.models import ShippingMethod, ShippingMethodCountry, ShippingRateBand, TaxRate, Voucher
from checkout.pricing import cart_pricing
from checkout.selectors import shipping_methods_for
from inventory.models import Reservation
from kernel.money import format_money
from orders.models import Order
from tests.checkout.helpers import cart_of, place, price
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.storefront.conftest import ADDRESS

pytestmark = pytest.mark.django_db


def by_weight(*bands, name="Parcel", **kwargs) -> ShippingMethod:
    """A weight-based method with bands given as (max_grams, "price")."""
    method = ShippingMethodFactory(name=name, kind=ShippingMethod.Kind.WEIGHT, price=Decimal("0.00"), **kwargs)
    for max_grams, band_price in bands:
        ShippingRateBand.objects.create(method=method, max_grams=max_grams, price=Decimal(band_price))
    return method


def ships_to(method: ShippingMethod, *countries: str) -> ShippingMethod:
    for country in countries:
        ShippingMethodCountry.objects.create(method=method, country=country)
    return method


def test_a_flat_method_costs_its_price_whatever_the_weight():
    method = ShippingMethodFactory(price=Decimal("4.50"))
    cart = cart_of((stocked_variant(grams=25_000), 2))

    assert price(cart, method).shipping == Decimal("4.50")


@pytest.mark.parametrize(
    ("grams", "quantity", "expected"),
    [
        (400, 2, Decimal("4.00")),  # 800 g: first band
        (500, 2, Decimal("4.00")),  # 1000 g: a band includes its upper limit
        (500, 3, Decimal("9.00")),  # 1500 g: second band
        (2500, 2, Decimal("9.00")),  # 5000 g: the last band's limit
    ],
)
def test_a_weight_based_method_charges_the_first_band_that_holds_the_cart_weight(grams, quantity, expected):
    method = by_weight((5000, "9.00"), (1000, "4.00"))
    cart = cart_of((stocked_variant(grams=grams), quantity))

    assert price(cart, method).shipping == expected


def test_the_cart_weight_is_the_sum_of_grams_times_quantity_over_all_lines():
    method = by_weight((1000, "4.00"), (2000, "7.00"))
    cart = cart_of((stocked_variant(grams=300), 2), (stocked_variant(grams=450), 1))  # 1050 g

    pricing = price(cart, method)

    assert pricing.weight_grams == 1050
    assert pricing.shipping == Decimal("7.00")


def test_a_cart_heavier_than_the_last_band_cannot_use_the_method():
    method = by_weight((1000, "4.00"))
    variant = stocked_variant(on_hand=5, grams=600)
    cart = cart_of((variant, 2))  # 1200 g

    assert shipping_methods_for(country="GB", weight_grams=1200, goods_after_discount=Decimal("40.00")) == []
    with pytest.raises(ShippingUnavailable) as exc:
        price(cart, method)
    assert "does not ship" in exc.value.message


def test_placing_an_order_with_a_method_that_cannot_take_the_cart_writes_nothing():
    light, heavy = by_weight((1000, "4.00")), by_weight((5000, "9.00"), name="Heavy")
    variant = stocked_variant(on_hand=5, grams=600)
    cart = cart_of((variant, 2))
    reviewed = price(cart, heavy).fingerprint()

    with pytest.raises(ShippingUnavailable):
        place(cart, light, fingerprint=reviewed)

    assert not Order.objects.exists()
    assert not Reservation.objects.exists()


def test_a_method_limited_to_countries_ships_only_there():
    islands = ships_to(ShippingMethodFactory(name="Islands", price=Decimal("6.00")), "GB", "IE")
    cart = cart_of((stocked_variant(), 1))

    assert price(cart, islands, country="IE").shipping == Decimal("6.00")
    with pytest.raises(ShippingUnavailable):
        price(cart, islands, country="DE")


def test_a_method_without_countries_ships_everywhere():
    anywhere = ShippingMethodFactory(price=Decimal("12.00"))
    cart = cart_of((stocked_variant(), 1))

    assert price(cart, anywhere, country="JP").shipping == Decimal("12.00")


def test_only_active_methods_that_can_take_the_cart_there_are_offered_with_their_price():
    standard = ShippingMethodFactory(name="Standard", price=Decimal("5.00"), position=1)
    ShippingMethodFactory(name="Retired", price=Decimal("1.00"), active=False)
    ships_to(ShippingMethodFactory(name="Domestic", price=Decimal("3.00")), "US")
    parcel = by_weight((1000, "4.00"), position=2)
    by_weight((100, "2.00"), name="Letter")

    offers = shipping_methods_for(country="GB", weight_grams=800, goods_after_discount=Decimal("20.00"))

    assert offers == [(standard, Decimal("5.00")), (parcel, Decimal("4.00"))]


def test_the_offers_read_rate_bands_only_when_a_method_is_priced_by_weight():
    standard = ShippingMethodFactory(name="Standard", price=Decimal("5.00"), position=1)
    ShippingMethodFactory(name="Express", price=Decimal("15.00"), position=2)

    with CaptureQueriesContext(connection) as flat_only:
        shipping_methods_for(country="GB", weight_grams=800, goods_after_discount=Decimal("20.00"))
    parcel = by_weight((1000, "4.00"), position=3)
    with CaptureQueriesContext(connection) as with_weight:
        offers = shipping_methods_for(country="GB", weight_grams=800, goods_after_discount=Decimal("20.00"))

    assert not [q["sql"] for q in flat_only if "checkout_shippingrateband" in q["sql"]]
    assert len(flat_only) == 2
    assert len(with_weight) == 3
    assert offers[0] == (standard, Decimal("5.00"))
    assert offers[-1] == (parcel, Decimal("4.00"))


@pytest.mark.parametrize(
    ("unit_price", "expected"),
    [(Decimal("49.99"), Decimal("5.00")), (Decimal("50.00"), Decimal("0.00")), (Decimal("80.00"), Decimal("0.00"))],
    ids=["below", "at-threshold", "above"],
)
def test_a_method_ships_free_once_the_goods_reach_its_threshold(unit_price, expected):
    method = ShippingMethodFactory(price=Decimal("5.00"), free_over=Decimal("50.00"))
    cart = cart_of((stocked_variant(price=unit_price), 1))

    assert price(cart, method).shipping == expected


def test_the_free_shipping_threshold_counts_the_goods_after_the_voucher_discount():
    method = ShippingMethodFactory(price=Decimal("5.00"), free_over=Decimal("50.00"))
    Voucher.objects.create(code="TENOFF", kind=Voucher.Kind.FIXED, value=Decimal("10.00"))
    cart = cart_of((stocked_variant(price=Decimal("55.00")), 1))

    assert price(cart, method).shipping == Decimal("0.00")
    with_code = price(cart, method, voucher_code="TENOFF")
    assert (with_code.discount, with_code.shipping) == (Decimal("10.00"), Decimal("5.00"))


def test_free_shipping_applies_to_weight_based_methods_too():
    method = by_weight((1000, "4.00"), free_over=Decimal("30.00"))
    cart = cart_of((stocked_variant(price=Decimal("30.00"), grams=200), 1))

    assert price(cart, method).shipping == Decimal("0.00")


def offered(page: str) -> list[tuple[str, str]]:
    """The shipping methods the checkout page offers: (name, price) of each radio card."""
    return re.findall(
        r'<span class="radio-card__label">([^<]*)</span>\s*<span class="radio-card__price">([^<]*)</span>', page
    )


class TestTheCheckoutForm:
    @pytest.fixture
    def heavy_cart(self, shopper):
        variant = stocked_variant(on_hand=5, grams=800, product__title="Cast Iron Pan")
        shopper.add(variant, 2)  # 1600 g
        return variant

    def test_it_offers_only_the_methods_for_the_country_and_the_cart_weight(self, shopper, heavy_cart):
        ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
        ships_to(ShippingMethodFactory(name="Domestic Express", price=Decimal("9.00")), "GB")
        ships_to(ShippingMethodFactory(name="Stateside", price=Decimal("3.00")), "US")
        by_weight((1000, "4.00"), name="Small Parcel")
        by_weight((2000, "7.50"), name="Big Parcel")
        session = shopper.client.session
        session["checkout_details"] = {**ADDRESS, "shipping_method": 0}  # country GB chosen before
        session.save()

        page = shopper.client.get("/checkout/").content.decode()

        # One radio card per method, with its price for this cart there.
        assert sorted(offered(page)) == [("Big Parcel", "$7.50"), ("Domestic Express", "$9.00"), ("Standard", "$5.00")]
        assert "Stateside" not in page and "Small Parcel" not in page

    def test_each_card_carries_the_checkout_priced_with_its_method_and_the_summary_the_chosen_ones(
        self, shopper, heavy_cart
    ):
        TaxRate.objects.create(country="GB", name="VAT", rate=Decimal("0.2000"))
        standard = ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
        express = ShippingMethodFactory(name="Express", price=Decimal("15.00"))
        session = shopper.client.session
        session["checkout_details"] = {**ADDRESS, "shipping_method": express.pk}
        session.save()
        view = cart_view(Cart.objects.get())

        with CaptureQueriesContext(connection) as queries:
            page = shopper.client.get("/checkout/").content.decode()

        for method in (standard, express):
            pricing = cart_pricing(view, country="GB", shipping_method=method)
            card = re.search(rf'value="{method.pk}"[^>]*>', page).group(0)
            assert f'data-summary-shipping="{format_money(pricing.shipping, "USD")}"' in card
            assert f'data-summary-tax="{format_money(pricing.tax, "USD")}"' in card
            assert f'data-summary-total="{format_money(pricing.total, "USD")}"' in card
        # The summary beside them: the checkout priced with the method chosen before.
        chosen = cart_pricing(view, country="GB", shipping_method=express)
        assert re.search(rf"data-total>{re.escape(format_money(chosen.total, 'USD'))}<", page)
        # The methods are read once, the tax rate once, whatever the number of methods.
        reads = [query["sql"] for query in queries.captured_queries]
        assert sum('FROM "checkout_shippingmethod"' in sql for sql in reads) == 1
        assert sum('FROM "checkout_taxrate"' in sql for sql in reads) == 1

    def test_details_accepted_go_on_to_the_review_without_listing_the_methods(self, shopper, heavy_cart):
        standard = ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
        ShippingMethodFactory(name="Express", price=Decimal("15.00"))

        with CaptureQueriesContext(connection) as queries:
            response = shopper.checkout(standard)

        assert response["Location"] == "/checkout/review/"
        # The method posted is read to check it (with its countries); no list of offers.
        reads = [query["sql"] for query in queries.captured_queries]
        assert sum('FROM "checkout_shippingmethod"' in sql for sql in reads) == 1

    def test_a_method_that_does_not_ship_to_the_chosen_country_gets_a_clear_error(self, shopper, heavy_cart):
        domestic = ships_to(ShippingMethodFactory(name="Domestic Express", price=Decimal("9.00")), "GB")
        ShippingMethodFactory(name="Standard", price=Decimal("5.00"))

        response = shopper.checkout(domestic, country="DE")

        assert response.status_code == 200
        assert response.context["form"].errors["shipping_method"] == [
            "Domestic Express does not ship to Germany for this cart; please choose another shipping method."
        ]
        page = response.content.decode()
        assert offered(page) == [("Standard", "$5.00")]  # the methods for Germany

    def test_a_method_too_light_for_the_cart_gets_a_clear_error(self, shopper, heavy_cart):
        small = by_weight((1000, "4.00"), name="Small Parcel")

        response = shopper.checkout(small)

        assert "Small Parcel does not ship" in response.context["form"].errors["shipping_method"][0]
        assert "We have no shipping method for this cart" in response.content.decode()

    def test_a_method_switched_off_after_the_details_sends_the_shopper_back_with_the_reason(self, shopper, heavy_cart):
        method = ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
        shopper.checkout(method)
        ShippingMethod.objects.filter(pk=method.pk).update(active=False)

        review = shopper.client.get("/checkout/review/", follow=True)

        assert review.redirect_chain[-1][0] == "/checkout/?recheck=1"
        assert "no longer offered" in review.content.decode()

    def test_a_cart_grown_too_heavy_for_the_method_after_the_details_is_refused_at_place_order(
        self, shopper, heavy_cart
    ):
        parcel = by_weight((2000, "7.50"), name="Big Parcel")
        shopper.checkout(parcel)
        fingerprint = shopper.fingerprint()
        shopper.add(heavy_cart, 1)  # 2400 g now

        response = shopper.place(fingerprint)

        assert response["Location"] == "/checkout/?recheck=1"
        assert not Order.objects.exists()
        page = shopper.client.get(response["Location"]).content.decode()
        assert "Big Parcel does not ship to United Kingdom for this cart" in page


def test_the_review_shows_the_shipping_price_for_the_cart(shopper, variant):
    method = by_weight((1000, "4.00"))
    variant.grams = 300
    variant.save(update_fields=["grams"])
    shopper.add(variant, 2)
    shopper.checkout(method)

    review = shopper.client.get("/checkout/review/")

    assert review.context["pricing"].shipping == Decimal("4.00")
    assert review.context["pricing"].total == Decimal("50.00")  # 2 × 23.00 + 4.00
