"""kernel.money.format_money and the `money` template filter: one way to write a price."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from kernel.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("38.00"), "USD", "$38.00"),
        (Decimal("38"), "USD", "$38.00"),
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("38.00"), "EUR", "€38.00"),
        (Decimal("19.99"), "GBP", "£19.99"),
        (Decimal("3800"), "JPY", "¥3,800"),
        (Decimal("3800.00"), "INR", "₹3,800.00"),
        (Decimal("0"), "USD", "$0.00"),
    ],
)
def test_it_writes_an_amount_with_the_currency_symbol_and_its_decimal_places(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_it_accepts_a_lower_case_currency_code():
    assert format_money(Decimal("5"), "eur") == "€5.00"


def test_it_writes_an_amount_for_another_locale_when_asked():
    # Non-breaking space between the amount and the symbol, as CLDR writes German.
    assert format_money(Decimal("1234.50"), "EUR", locale="de_DE") == "1.234,50\xa0€"


def test_the_money_filter_formats_like_format_money():
    html = Template('{% load money %}{{ price|money:"USD" }}|{{ jpy|money:"JPY" }}|{{ none|money:"USD" }}|').render(
        Context({"price": Decimal("79"), "jpy": Decimal("3800"), "none": None})
    )
    assert html == "$79.00|¥3,800||"


def test_the_money_filter_takes_the_currency_from_a_variable():
    html = Template("{% load money %}{{ price|money:currency }}").render(
        Context({"price": Decimal("38.00"), "currency": "INR"})
    )
    assert html == "₹38.00"
