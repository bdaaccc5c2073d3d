"""Vouchers: what they take off, who may use them when, and that every use is counted once,
inside the transaction that places the order, even when many shoppers use one at once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from cart.selectors import cart_view
from checkout.exceptions import CheckoutError, VoucherError
from checkout.models import Voucher, VoucherRedemption
from checkout.selectors import checkout_fingerprint, voucher_check
from inventory.exceptions import InsufficientStock, StockBusy
from inventory.models import Reservation
from orders.models import Order
from orders.services import order_cancel
from tests.checkout.helpers import cart_of, place, price
from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant
from tests.i18n import german
from tests.inventory.helpers import assert_stock_consistent, run_together


def voucher(code="SUMMER10", **kwargs) -> Voucher:
    fields = {"kind": Voucher.Kind.PERCENT, "value": Decimal("10")} | kwargs
    return Voucher.objects.create(code=code, **fields)


@pytest.mark.django_db
class TestWhatAVoucherTakesOff:
    def test_a_percentage_is_taken_off_the_goods_rounded_half_up_to_the_cent(self):
        voucher(value=Decimal("10"))
        cart = cart_of((stocked_variant(price=Decimal("19.99")), 3))  # 59.97 → 5.997 → 6.00

        pricing = price(cart, ShippingMethodFactory(price=Decimal("5.00")), voucher_code="SUMMER10")

        assert (pricing.subtotal, pricing.discount, pricing.total) == (
            Decimal("59.97"),
            Decimal("6.00"),
            Decimal("58.97"),
        )

    def test_a_fixed_amount_never_takes_the_goods_below_zero_and_shipping_is_still_paid(self):
        voucher(kind=Voucher.Kind.FIXED, value=Decimal("100.00"))
        cart = cart_of((stocked_variant(price=Decimal("23.00")), 1))

        pricing = price(cart, ShippingMethodFactory(price=Decimal("5.00")), voucher_code="SUMMER10")

        assert (pricing.discount, pricing.total) == (Decimal("23.00"), Decimal("5.00"))

    def test_the_code_is_found_whatever_its_case(self):
        voucher(code="Summer10")
        cart = cart_of((stocked_variant(price=Decimal("20.00")), 1))

        pricing = price(cart, ShippingMethodFactory(), voucher_code="  sUMMER10 ")

        assert (pricing.voucher_code, pricing.discount) == ("Summer10", Decimal("2.00"))

    def test_two_vouchers_cannot_share_a_code_in_different_cases(self):
        voucher(code="SUMMER10")

        with pytest.raises(IntegrityError), transaction.atomic():
            voucher(code="summer10")


@pytest.mark.django_db
class TestWhoMayUseAVoucherWhen:
    SUBTOTAL = Decimal("40.00")

    def check(self, code="SUMMER10", *, subtotal=SUBTOTAL, email="ada@example.com"):
        return voucher_check(code, subtotal=subtotal, email=email, currency="USD")

    def refusal(self, code="SUMMER10", **kwargs) -> VoucherError:
        with pytest.raises(VoucherError) as exc:
            self.check(code, **kwargs)
        return exc.value

    def test_a_valid_code_is_accepted(self):
        expected = voucher(starts_at=timezone.now() - timedelta(days=1), ends_at=timezone.now() + timedelta(days=1))

        assert self.check() == expected

    def test_an_unknown_code_is_refused(self):
        error = self.refusal("NOPE")

        assert (error.code, error.message) == ("voucher_invalid", "“NOPE” is not a valid code.")

    def test_a_switched_off_code_is_refused_as_not_valid(self):
        voucher(active=False)

        assert self.refusal().message == "“SUMMER10” is not a valid code."

    def test_a_code_that_has_not_started_yet_is_refused_with_its_start(self):
        voucher(starts_at=datetime(2099, 6, 1, 9, 0, tzinfo=UTC))

        error = self.refusal()

        assert error.code == "voucher_not_yet_valid"
        assert error.message == "The code “SUMMER10” is not valid yet: it starts on 1 June 2099, 09:00 UTC."

    def test_a_german_shopper_reads_the_start_as_germans_write_dates(self):
        voucher(starts_at=datetime(2099, 6, 1, 9, 0, tzinfo=UTC))
        msgid = "The code “{code}” is not valid yet: it starts on {starts_at} UTC."

        german_text = "Der Code „{code}“ gilt noch nicht: Er beginnt am {starts_at} UTC."
        with german({msgid: german_text}), translation.override("de"):
            error = self.refusal()

        assert error.message == "Der Code „SUMMER10“ gilt noch nicht: Er beginnt am 1. Juni 2099, 09:00 UTC."

    def test_an_expired_code_is_refused(self):
        voucher(ends_at=timezone.now() - timedelta(seconds=1))

        error = self.refusal()

        assert (error.code, error.message) == ("voucher_expired", "The code “SUMMER10” has expired.")

    def test_a_code_below_its_minimum_spend_says_how_much_is_missing(self):
        voucher(min_spend=Decimal("50.00"))

        error = self.refusal(subtotal=Decimal("40.01"))

        assert error.code == "voucher_min_spend"
        assert error.message == "The code “SUMMER10” needs goods of at least $50.00; add $9.99 more to use it."
        assert self.check(subtotal=Decimal("50.00")).code == "SUMMER10"

    def test_a_used_up_code_is_refused(self):
        voucher(usage_limit=3, used_count=3)

        error = self.refusal()

        assert (error.code, error.message) == ("voucher_exhausted", "The code “SUMMER10” has been used up.")

    def test_a_code_this_customer_used_as_often_as_allowed_is_refused_for_them_only(self):
        code = voucher(per_customer_limit=1)
        place(
            cart_of((stocked_variant(), 1)), ShippingMethodFactory(), voucher_code="SUMMER10", email="Ada@Example.com"
        )

        error = self.refusal(email="ada@example.COM")

        assert (error.code, error.message) == (
            "voucher_customer_exhausted",
            "You have already used the code “SUMMER10” as often as it allows.",
        )
        assert self.check(email="grace@example.com") == code


@pytest.mark.django_db
class TestRedeemingAVoucher:
    def test_placing_an_order_counts_one_use_and_records_who_used_it_on_which_order(self):
        code = voucher(usage_limit=10)
        user = UserFactory(email="ada@example.com")
        cart = cart_of((stocked_variant(price=Decimal("20.00")), 2))

        order = place(cart, ShippingMethodFactory(price=Decimal("5.00")), voucher_code="summer10", user=user)

        code.refresh_from_db()
        assert code.used_count == 1
        redemption = VoucherRedemption.objects.get()
        assert (redemption.voucher, redemption.order, redemption.email, redemption.user) == (
            code,
            order,
            "ada@example.com",
            user,
        )
        order.refresh_from_db()
        assert (order.voucher_code, order.discount_total, order.total) == (
            "SUMMER10",
            Decimal("4.00"),
            Decimal("41.00"),
        )

    def test_a_place_order_refused_inside_its_transaction_uses_nothing_and_writes_nothing(self):
        # The per-customer limit is checked again under the voucher's lock, after the stock
        # is reserved and the order written: the refusal there must take all of it back.
        code = voucher(per_customer_limit=1)
        variant = stocked_variant(on_hand=5)
        first, second = cart_of((variant, 1)), cart_of((variant, 1))
        method = ShippingMethodFactory()
        reviewed = checkout_fingerprint(
            cart_view(second), method, country="GB", voucher_code="SUMMER10", email="ada@example.com"
        )
        place(first, method, voucher_code="SUMMER10")

        with pytest.raises(VoucherError) as exc:
            place(second, method, voucher_code="SUMMER10", fingerprint=reviewed)

        assert exc.value.code == "voucher_customer_exhausted"
        code.refresh_from_db()
        assert code.used_count == 1
        assert Order.objects.count() == 1 == VoucherRedemption.objects.count()
        assert Reservation.objects.count() == 1
        assert second.lines.count() == 1

    def test_a_cancelled_unpaid_order_does_not_give_its_use_back(self):
        # Decided: a use counts when the order is placed; uses are not returned when an
        # unpaid order is cancelled or expires (the count says how often the code was placed).
        code = voucher(usage_limit=1)
        order = place(cart_of((stocked_variant(), 1)), ShippingMethodFactory(), voucher_code="SUMMER10")

        order_cancel(order=order)

        code.refresh_from_db()
        assert code.used_count == 1
        assert VoucherRedemption.objects.filter(order=order).exists()


class TestTheReviewPage:
    @pytest.fixture(autouse=True)
    def _checked_out(self, shopper, variant):
        shopper.add(variant, 2)  # 46.00
        shopper.checkout(ShippingMethodFactory(price=Decimal("5.00")))

    def test_a_valid_code_is_applied_and_the_discount_shown(self, shopper):
        voucher(value=Decimal("10"))

        review = shopper.client.post("/checkout/voucher/", {"code": "summer10"}, follow=True)

        page = review.content.decode()
        assert "The code “SUMMER10” was applied." in page
        assert review.context["pricing"].discount == Decimal("4.60")
        assert "−$4.60" in page and "$46.40" in page  # 46.00 − 4.60 + 5.00

    @pytest.mark.parametrize(
        ("typed", "fields", "message"),
        [
            ("NOPE", {}, "“NOPE” is not a valid code."),
            ("summer10", {"ends_at": timezone.now() - timedelta(days=1)}, "The code “SUMMER10” has expired."),
            ("SUMMER10", {"min_spend": Decimal("50.00")}, "needs goods of at least $50.00; add $4.00 more"),
            ("SUMMER10", {"usage_limit": 1, "used_count": 1}, "The code “SUMMER10” has been used up."),
        ],
        ids=["invalid", "expired", "below-minimum", "exhausted"],
    )
    def test_a_code_that_cannot_be_used_is_refused_with_the_reason(self, shopper, typed, fields, message):
        voucher(**fields)

        review = shopper.client.post("/checkout/voucher/", {"code": typed}, follow=True)

        assert message in review.content.decode()
        assert review.context["pricing"].discount == Decimal("0.00")

    def test_a_code_can_be_removed_again(self, shopper):
        voucher()
        shopper.client.post("/checkout/voucher/", {"code": "SUMMER10"})

        review = shopper.client.post("/checkout/voucher/remove/", follow=True)

        assert review.context["pricing"].voucher_code == ""
        assert review.context["pricing"].total == Decimal("51.00")

    def test_placing_the_order_uses_the_code_and_charges_the_discounted_total(self, shopper):
        code = voucher(kind=Voucher.Kind.FIXED, value=Decimal("6.00"))
        shopper.client.post("/checkout/voucher/", {"code": "SUMMER10"})

        shopper.place()

        order = Order.objects.get()
        assert (order.discount_total, order.total, order.voucher_code) == (
            Decimal("6.00"),
            Decimal("45.00"),
            "SUMMER10",
        )
        code.refresh_from_db()
        assert code.used_count == 1
        assert "checkout_voucher" not in shopper.client.session


@pytest.mark.django_db(transaction=True)
class TestUnderConcurrency:
    def test_a_code_limited_to_5_uses_is_used_exactly_5_times_by_20_simultaneous_buyers(self):
        code = voucher(usage_limit=5)
        method = ShippingMethodFactory()
        carts = [cart_of((stocked_variant(on_hand=1), 1)) for _ in range(20)]
        emails = [f"buyer{i}@example.com" for i in range(20)]
        fingerprints = [
            checkout_fingerprint(cart_view(cart), method, country="GB", voucher_code="SUMMER10", email=email)
            for cart, email in zip(carts, emails, strict=True)
        ]

        outcomes = run_together(
            20,
            lambda i: place(carts[i], method, voucher_code="SUMMER10", email=emails[i], fingerprint=fingerprints[i]),
        )

        winners = [o.value for o in outcomes if o.error is None]
        refusals = [o.error for o in outcomes if o.error is not None]
        assert len(winners) == 5
        assert all(isinstance(e, VoucherError) and e.code == "voucher_exhausted" for e in refusals), refusals
        code.refresh_from_db()
        assert code.used_count == 5
        assert sorted(VoucherRedemption.objects.values_list("order_id", flat=True)) == sorted(o.pk for o in winners)
        assert Order.objects.count() == 5
        assert Reservation.objects.count() == 5  # the refused buyers reserved nothing
        assert sum(cart.lines.count() for cart in carts) == 15  # and keep their carts
        assert_stock_consistent()

    def test_a_code_allowed_twice_per_customer_is_used_twice_by_one_customer_clicking_in_10_tabs(self):
        code = voucher(per_customer_limit=2)
        method = ShippingMethodFactory()
        carts = [cart_of((stocked_variant(on_hand=1), 1)) for _ in range(10)]
        fingerprints = [
            checkout_fingerprint(
                cart_view(cart), method, country="GB", voucher_code="SUMMER10", email="ada@example.com"
            )
            for cart in carts
        ]

        outcomes = run_together(
            10, lambda i: place(carts[i], method, voucher_code="SUMMER10", fingerprint=fingerprints[i])
        )

        assert sum(o.error is None for o in outcomes) == 2
        assert {getattr(o.error, "code", None) for o in outcomes if o.error} == {"voucher_customer_exhausted"}
        code.refresh_from_db()
        assert code.used_count == 2
        assert VoucherRedemption.objects.filter(email="ada@example.com").count() == 2 == Order.objects.count()

    def test_buyers_who_lose_the_race_for_the_stock_use_no_voucher(self):
        code = voucher(usage_limit=100)
        variant = stocked_variant(on_hand=1)
        method = ShippingMethodFactory()
        carts = [cart_of((variant, 1)) for _ in range(8)]
        fingerprints = [
            checkout_fingerprint(
                cart_view(cart), method, country="GB", voucher_code="SUMMER10", email="ada@example.com"
            )
            for cart in carts
        ]

        outcomes = run_together(
            8, lambda i: place(carts[i], method, voucher_code="SUMMER10", fingerprint=fingerprints[i])
        )

        winners = [o for o in outcomes if o.error is None]
        assert len(winners) == 1
        # Losers are refused by the stock: at its lock, or already by the cart's check.
        for o in outcomes:
            if o.error is not None:
                assert isinstance(o.error, (InsufficientStock, StockBusy, CheckoutError)), o.error
                assert getattr(o.error, "code", "") in ("insufficient_stock", "stock_busy", "cart_problems"), o.error
        code.refresh_from_db()
        assert code.used_count == 1 == VoucherRedemption.objects.count()
