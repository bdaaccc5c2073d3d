"""Money is a Decimal amount in a currency's units plus the currency's ISO code, never a float.

- round_money / currency_quantum: amounts rounded half up to the precision the shop prices a
  currency in (two places at most: orders store two).
- to_minor / from_minor: the integer minor units (cents, paise) that payment providers speak.
  They belong to the gateways (payments/gateways/) and the amounts they report; everywhere
  else an amount is a Decimal in currency units.
- format_money: an amount as a shopper reads it ("$38.00", "€38.00", "¥3,800", "₹3,800.00"),
  in pages, emails and documents alike; templates use the `money` filter
  (kernel/templatetags/money.py), which calls it.

Exponents follow ISO 4217 as Stripe applies it:
https://docs.stripe.com/currencies#zero-decimal and #three-decimal.
"""

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

# The locale money is written in until shoppers have their own (format_money takes one).
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


def format_money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """`amount` of `currency` written for a reader of `locale` (default "en"), with the
    currency's symbol and CLDR's digits for it: Decimal("38"), "USD" → "$38.00";
    "EUR" → "€38.00"; Decimal("3800"), "JPY" → "¥3,800"; "INR" → "₹3,800.00".

    Babel (the Unicode CLDR data) knows each currency's symbol, its decimal places and where
    a locale puts them, so no template writes "38.00 USD" by hand. Display only: the amount
    is not rounded for storage here (round_money is)."""
    return format_currency(Decimal(amount), currency.upper(), locale=locale or DEFAULT_LOCALE)
