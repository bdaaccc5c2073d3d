"""Money is a Decimal amount in a currency's units plus the currency's ISO code, never a float.

- round_money / currency_quantum: amounts rounded half up to the precision the shop prices a
  currency in (two places at most: orders store two).
- to_minor / from_minor: the integer minor units (cents, paise) that payment providers speak.
  They belong to the gateways (payments/gateways/) and the amounts they report; everywhere
  else an amount is a Decimal in currency units.
- format_money: an amount as a shopper reads it, written the way the active language writes
  it ("$38.00", "€38.00", "¥3,800", "₹3,800.00" in English; "38,00 $", "38,00 €" in German),
  in pages, emails and documents alike; templates use the `money` filter
  (kernel/templatetags/money.py), which calls it. The currency is always the one given (the
  shop's): only symbol placement, separators and grouping follow the reader.

Exponents follow ISO 4217 as Stripe applies it:
https://docs.stripe.com/currencies#zero-decimal and #three-decimal.
"""

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django.utils import translation

# The locale money is written in when no language is active (a shell, a task outside any
# translation.override) or the active one is unknown to Babel.
DEFAULT_LOCALE = "en"

ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


def exponent(currency: str) -> int:
    """Decimal places of `currency`'s minor unit: 2 for USD, 0 for JPY, 3 for KWD."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def currency_quantum(currency: str) -> Decimal:
    """The smallest amount of `currency` we price in: Decimal("0.01") for USD, Decimal("1")
    for JPY. Three-decimal currencies are priced in two places, as orders store two."""
    return Decimal(1).scaleb(-min(exponent(currency), 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to the precision of `currency`."""
    return amount.quantize(currency_quantum(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal("23.50"), "USD" → 2350. Rounds half up to the currency's precision."""
    scale = Decimal(10) ** exponent(currency)
    return int((Decimal(amount) * scale).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_minor(amount: int, currency: str) -> Decimal:
    """2350, "USD" → Decimal("23.50")."""
    places = exponent(currency)
    return (Decimal(int(amount)) / (Decimal(10) ** places)).quantize(Decimal(1).scaleb(-places))


@lru_cache(maxsize=64)
def babel_locale(language: str | None) -> str:
    """The Babel (CLDR) locale for a Django language code: "en-us" → "en_US", "de" → "de",
    "en-in" → "en_IN"; DEFAULT_LOCALE for None or a code Babel does not know (its language
    alone when Babel knows that: "de-xx" → "de")."""
    if not language:
        return DEFAULT_LOCALE
    name = translation.to_locale(language)
    for candidate in (name, name.split("_")[0]):
        try:
            return str(Locale.parse(candidate))
        except (UnknownLocaleError, ValueError):
            continue
    return DEFAULT_LOCALE


def format_money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """`amount` of `currency` written for a reader of `locale` (a Babel locale, "de_DE"), by
    default the active language's (babel_locale(translation.get_language())), with the
    currency's symbol and CLDR's digits for it. In English: Decimal("38"), "USD" → "$38.00";
    "EUR" → "€38.00"; Decimal("3800"), "JPY" → "¥3,800"; "INR" → "₹3,800.00" (en-IN groups
    lakhs: "₹38,00,000.00"). In German: "38,00 $", "38,00 €", "3.800,00 ₹".

    Babel (the Unicode CLDR data) knows each currency's symbol, its decimal places and where
    a locale puts them, so no template writes "38.00 USD" by hand. Display only: the amount
    is not rounded for storage here (round_money is)."""
    return _formatted(Decimal(amount), currency.upper(), locale or babel_locale(translation.get_language()))


@lru_cache(maxsize=4096)
def _formatted(amount: Decimal, currency: str, locale: str) -> str:
    """Babel's writing of an amount, remembered: a listing writes the same few prices again
    and again, and each format_currency takes about 0.1 ms (equal amounts write alike: the
    currency's decimal places decide the digits, not the Decimal's exponent)."""
    return format_currency(amount, currency, locale=locale)
