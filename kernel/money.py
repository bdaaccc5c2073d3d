"""Money is a Decimal amount in a currency's units plus the currency's ISO code, never a float.

- round_money / currency_quantum: amounts rounded half up to the precision the shop prices a
  currency in (two places at most: orders store two).
- to_minor / from_minor: the integer minor units (cents, paise) that payment providers speak.
  They belong to the gateways (payments/gateways/) and the amounts they report; everywhere
  else an amount is a Decimal in currency units.

Exponents follow ISO 4217 as Stripe applies it:
https://docs.stripe.com/currencies#zero-decimal and #three-decimal.
"""

from decimal import ROUND_HALF_UP, Decimal

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
