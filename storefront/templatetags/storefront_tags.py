import nh3
from django import template
from django.conf import settings
from django.utils.safestring import mark_safe

register = template.Library()  # {% load storefront_tags %}


@register.filter
def clean_html(value: str) -> str:
    """Product descriptions are HTML from imports and staff: keep formatting tags, drop
    scripts, event handlers and other active content (nh3's default allow-list)."""
    return mark_safe(nh3.clean(value or ""))


@register.simple_tag
def shop_name() -> str:
    """The shop's name, for pages rendered without context processors (the 503 page)."""
    return settings.SITE_NAME


@register.simple_tag
def shop_currency() -> str:
    """The shop's currency code, for pages rendered without context processors."""
    return settings.SHOP_CURRENCY
