"""Numbers in checkout's messages and summaries are written as the shopper's language writes
them (issue 16): a tax rate "7.5" / "7,5", a voucher's minimum spend "$50.00" / "50,00 $"."""

from decimal import Decimal

from django.utils import translation

from checkout.exceptions import VoucherError
from checkout.pricing import percent


def test_a_tax_rate_is_written_in_the_active_language():
    with translation.override("en"):
        assert [percent(Decimal(rate)) for rate in ("0.2000", "0.0750", "0.0550")] == ["20", "7.5", "5.5"]
    with translation.override("de"):
        assert [percent(Decimal(rate)) for rate in ("0.2000", "0.0750", "0.0550")] == ["20", "7,5", "5,5"]


def test_a_voucher_s_minimum_spend_is_written_as_a_price():
    def message() -> str:
        return VoucherError(
            "voucher_min_spend",
            voucher_code="SUMMER10",
            min_spend=Decimal("50.00"),
            missing=Decimal("9.99"),
            currency="EUR",
        ).message

    with translation.override("en"):
        assert message() == "The code “SUMMER10” needs goods of at least €50.00; add €9.99 more to use it."
    with translation.override("de"):
        assert "50,00\xa0€" in message() and "9,99\xa0€" in message()
