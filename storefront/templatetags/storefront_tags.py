import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()  # {% load storefront_tags %}


@register.filter
def clean_html(value: str) -> str:
    """Product descriptions are HTML from imports and staff: keep formatting tags, drop
    scripts, event handlers and other active content (nh3's default allow-list)."""
    return mark_safe(nh3.clean(value or ""))
