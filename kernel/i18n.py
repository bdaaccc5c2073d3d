"""The shop's languages (settings.LANGUAGES) as the domain stores them: a customer's chosen
language (accounts.User.language) and the language an order was placed in
(orders.Order.language) are Django language codes ("en", "de"), blank for the shop's default
(settings.LANGUAGE_CODE). Emails and documents are written inside
translation.override(language_or_default(code)).
"""

from django.conf import settings
from django.utils import translation


def language_offered(code: str | None) -> str:
    """`code` as one of settings.LANGUAGES ("de-at" → "de" when only "de" is offered; "en-us"
    → "en"), or "" when the shop offers no variant of it (or `code` is empty)."""
    if not code:
        return ""
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return ""


def language_active() -> str:
    """The active language (a request's, a translation.override's) as one of
    settings.LANGUAGES, or "" when none of them is active."""
    return language_offered(translation.get_language())


def language_or_default(code: str | None) -> str:
    """The language to write in for a stored `code`: itself when the shop still offers it,
    else the shop's default (settings.LANGUAGE_CODE)."""
    return language_offered(code) or settings.LANGUAGE_CODE
