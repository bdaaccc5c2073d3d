"""{% load money %}{{ amount|money:currency }}: every price on pages, in emails and documents.

The filter is kernel.money.format_money, so a price reads the same everywhere, written for
the active language ("$38.00" in English, "38,00 $" in German; the currency is the one given).
"""

from decimal import Decimal, InvalidOperation

from django import template

from kernel.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | int | str | None, currency: str | None = None) -> str:
    """{{ variant.price|money:"USD" }} → "$38.00" (English), "38,00 $" (German). Empty for no amount (a product without
    variants has no price) or no currency; an amount that is not a number is shown as given
    rather than breaking the page."""
    if amount is None or amount == "" or not currency:
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    return format_money(value, str(currency))
