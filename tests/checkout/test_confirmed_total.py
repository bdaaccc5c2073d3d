"""The total the shopper confirmed on the review is the total charged. If anything it depends
on changes between the review and Place order (a price, the stock, the tax rate, the
shipping, the voucher, the address), nothing is placed: the shopper is sent back to the
review, sees the new total and a message, and confirms again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from checkout.models import TaxRate, Voucher
from inventory.models import Reservation
from inventory.services import StockLine, stock_reserve
from orders.models import Order
from payments.models import Payment
from tests.factories import ShippingMethodFactory

pytestmark = pytest.mark.django_db

CHANGED = "Your order changed since you reviewed it"


@pytest.fixture
def shipping(db):
    return ShippingMethodFactory(name="Standard", price=Decimal("5.00"))


@pytest.fixture
def reviewed(shopper, variant, shipping):
    """A shopper who reviewed 2 × 23.00 + 5.00 = 51.00 and is about to click Place order;
    returns the fingerprint of that review."""
    shopper.add(variant, 2)
    shopper.checkout(shipping)
    return shopper.fingerprint()


def assert_nothing_placed():
    assert not Order.objects.exists()
    assert not Reservation.objects.filter(owner__startswith="order:").exists()


def test_the_total_confirmed_on_the_review_is_the_total_of_the_order_and_of_its_payment(shopper, reviewed):
    review = shopper.client.get("/checkout/review/")
    confirmed = review.context["pricing"].total
    assert f"You will be charged ${confirmed}" in review.content.decode()

    placed = shopper.place(reviewed)
    shopper.pay(placed)

    order = Order.objects.get()
    assert confirmed == order.total == Payment.objects.get().amount == Decimal("51.00")


def test_a_price_changed_after_the_review_shows_the_new_total_and_places_nothing(shopper, variant, reviewed):
    variant.price = Decimal("25.00")
    variant.save(update_fields=["price"])

    response = shopper.place(reviewed)

    assert response["Location"] == "/checkout/review/"
    assert_nothing_placed()
    review = shopper.client.get(response["Location"])
    assert CHANGED in review.content.decode()
    assert review.context["pricing"].total == Decimal("55.00")  # 2 × 25.00 + 5.00
    assert "$55.00" in review.content.decode()


def test_the_shopper_who_confirms_the_new_total_gets_the_order_at_that_total(shopper, variant, reviewed):
    variant.price = Decimal("25.00")
    variant.save(update_fields=["price"])
    shopper.place(reviewed)

    shopper.place()  # confirms again, with the fingerprint of the new review

    assert Order.objects.get().total == Decimal("55.00")


def test_a_tax_rate_changed_after_the_review_is_refused(shopper, settings, variant, shipping):
    settings.PRICES_INCLUDE_TAX = False
    rate = TaxRate.objects.create(country="GB", name="VAT", rate=Decimal("0.2000"))
    shopper.add(variant, 2)
    shopper.checkout(shipping)
    fingerprint = shopper.fingerprint()  # 46.00 + 5.00 + 20 % = 61.20
    rate.rate = Decimal("0.2100")
    rate.save(update_fields=["rate"])

    response = shopper.place(fingerprint)

    assert_nothing_placed()
    review = shopper.client.get(response["Location"])
    assert CHANGED in review.content.decode()
    # 46.00 × 0.21 = 9.66; 5.00 × 0.21 = 1.05 → 51.00 + 10.71
    assert review.context["pricing"].total == Decimal("61.71")


def test_an_inclusive_tax_rate_changed_after_the_review_is_refused_although_the_total_stays(shopper, variant, shipping):
    # With prices including tax the total does not move, but the tax on the invoice would:
    # the shopper confirms that too.
    rate = TaxRate.objects.create(country="GB", name="VAT", rate=Decimal("0.2000"))
    shopper.add(variant, 2)
    shopper.checkout(shipping)
    fingerprint = shopper.fingerprint()
    TaxRate.objects.filter(pk=rate.pk).update(rate=Decimal("0.0500"))

    shopper.place(fingerprint)

    assert_nothing_placed()


def test_a_shipping_price_changed_after_the_review_is_refused(shopper, shipping, reviewed):
    shipping.price = Decimal("9.00")
    shipping.save(update_fields=["price"])

    response = shopper.place(reviewed)

    assert_nothing_placed()
    assert shopper.client.get(response["Location"]).context["pricing"].total == Decimal("55.00")


def test_stock_gone_after_the_review_is_refused_and_the_cart_says_what_is_short(shopper, variant, reviewed):
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:OTHER", ttl=timedelta(minutes=5))

    response = shopper.place(reviewed)

    assert not Order.objects.exists()
    assert response.status_code == 302
    page = shopper.client.get(response["Location"]).content.decode()
    assert "not available as they are" in page and "Only 1 left" in page


def test_a_voucher_that_expired_after_the_review_is_dropped_and_the_new_total_shown(shopper, variant, shipping):
    code = Voucher.objects.create(
        code="SUMMER10", kind=Voucher.Kind.PERCENT, value=Decimal("10"), ends_at=timezone.now() + timedelta(hours=1)
    )
    shopper.add(variant, 2)
    shopper.checkout(shipping)
    shopper.client.post("/checkout/voucher/", {"code": "SUMMER10"})
    fingerprint = shopper.fingerprint()  # 46.00 − 4.60 + 5.00 = 46.40
    Voucher.objects.filter(pk=code.pk).update(ends_at=timezone.now() - timedelta(seconds=1))

    response = shopper.place(fingerprint)

    assert_nothing_placed()
    code.refresh_from_db()
    assert code.used_count == 0
    review = shopper.client.get(response["Location"])
    page = review.content.decode()
    assert "The code “SUMMER10” has expired. It was removed from your order: please check the new total." in page
    assert review.context["pricing"].total == Decimal("51.00")


def test_a_voucher_used_up_after_the_review_is_refused(shopper, variant, shipping):
    code = Voucher.objects.create(code="LAST", kind=Voucher.Kind.FIXED, value=Decimal("5.00"), usage_limit=1)
    shopper.add(variant, 2)
    shopper.checkout(shipping)
    shopper.client.post("/checkout/voucher/", {"code": "LAST"})
    fingerprint = shopper.fingerprint()
    Voucher.objects.filter(pk=code.pk).update(used_count=1)  # someone else's order took it

    response = shopper.place(fingerprint)

    assert_nothing_placed()
    assert "The code “LAST” has been used up." in shopper.client.get(response["Location"]).content.decode()


def test_an_address_changed_in_another_tab_after_the_review_is_refused(shopper, reviewed, shipping):
    TaxRate.objects.create(country="DE", name="MwSt", rate=Decimal("0.1900"))
    shopper.checkout(shipping, country="DE", city="Berlin", postal_code="10117")  # the same session, another tab

    shopper.place(reviewed)

    assert_nothing_placed()


def test_a_tampered_fingerprint_places_nothing(shopper, reviewed):
    response = shopper.place("0" * 32)

    assert response["Location"] == "/checkout/review/"
    assert_nothing_placed()
