"""Prices written for the shopper's language (issue 16): format_money and the `money` filter
take the active language's locale when none is given; the currency stays the one given.
CLDR puts a no-break space (\\xa0) between a German amount and its symbol."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from kernel.money import DEFAULT_LOCALE, babel_locale, format_money


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en-us", Decimal("38.00"), "USD", "$38.00"),
        ("en", Decimal("38.00"), "USD", "$38.00"),
        ("de", Decimal("38.00"), "USD", "38,00\xa0$"),
        ("de", Decimal("38.00"), "EUR", "38,00\xa0€"),
        ("de-de", Decimal("1234.50"), "EUR", "1.234,50\xa0€"),
        ("en-in", Decimal("3800"), "INR", "₹3,800.00"),
        ("en-in", Decimal("3800000"), "INR", "₹38,00,000.00"),
        ("en-us", Decimal("3800000"), "INR", "₹3,800,000.00"),
    ],
)
def test_a_price_is_written_the_way_the_active_language_writes_it(language, amount, currency, expected):
    with translation.override(language):
        assert format_money(amount, currency) == expected


def test_an_explicit_locale_wins_over_the_active_language():
    with translation.override("de"):
        assert format_money(Decimal("38"), "USD", locale="en_US") == "$38.00"


def test_no_active_language_writes_the_default_locale():
    with translation.override(None):
        assert format_money(Decimal("38"), "USD") == "$38.00"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-us", "en_US"), ("de", "de"), ("en-in", "en_IN"), ("de-xx", "de"), ("xx", DEFAULT_LOCALE), (None, "en")],
)
def test_babel_locale_maps_django_language_codes(language, expected):
    assert babel_locale(language) == expected


def test_the_money_filter_follows_the_active_language():
    template = Template('{% load money %}{{ price|money:"USD" }}|{{ price|money:"EUR" }}')
    context = Context({"price": Decimal("38")})
    with translation.override("de"):
        assert template.render(context) == "38,00\xa0$|38,00\xa0€"
    with translation.override("en"):
        assert template.render(context) == "$38.00|€38.00"
