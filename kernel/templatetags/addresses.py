"""{% load addresses %}: addresses printed the same way on pages, in emails and documents.

    {{ order.shipping_address|address_lines }}          the lines, a list (loop over them)
    {{ order.billing_address|address_br }}              the lines joined by <br> (escaped)
    {{ order.shipping_address|address_br:"phone" }}     … with the phone number last
    {{ order.shipping_address|address_text }}           the lines joined by newlines (plain-text emails)
    {{ address.country|country_name }}                  "US" → "United States"
    {{ address.phone|phone }}                           "+12175550100" → "+1 217-555-0100"

An address is a dict of kernel.addresses.ADDRESS_FIELDS (Order.shipping_address,
Order.billing_address, an invoice snapshot's buyer / ship_to) or an object with those
attributes (accounts.Address). Its lines follow its country's format (kernel.addresses)."""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from kernel.addresses import country_name as _country_name
from kernel.addresses import format_address, format_phone

register = template.Library()


@register.filter
def address_lines(address, options: str = "") -> list[str]:
    if not address:
        return []
    return format_address(address, phone="phone" in options)


@register.filter
def address_br(address, options: str = "") -> SafeString:
    # Each line escaped, then joined: markup typed into an address stays text.
    return mark_safe("<br>".join(conditional_escape(line) for line in address_lines(address, options)))


@register.filter
def address_text(address, options: str = "") -> str:
    return "\n".join(address_lines(address, options))


@register.filter
def country_name(code) -> str:
    return _country_name(str(code or ""))


@register.filter
def phone(value) -> str:
    return format_phone(value)
