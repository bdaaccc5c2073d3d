"""Conversions between Decimal amounts in currency units and the integer minor units (cents,
paise) that payment providers speak. Used only inside payments/.

Exponents follow ISO 4217 as Stripe applies it:
https://docs.stripe.com/currencies#zero-decimal and #three-decimal.
"""
from decimal import ROUND_HALF_UP, Decimal

ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
    "VUV", "XAF", "XOF", "XPF",
}
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal("23.50"), "USD" → 2350. Rounds half up to the currency's precision."""
    scale = Decimal(10) ** exponent(currency)
    return int((Decimal(amount) * scale).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_minor(amount: int, currency: str) -> Decimal:
    """2350, "USD" → Decimal("23.50")."""
    places = exponent(currency)
    return (Decimal(int(amount)) / (Decimal(10) ** places)).quantize(Decimal(1).scaleb(-places))
