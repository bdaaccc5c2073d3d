"""The shopper's language: the switcher's view, and the signed-in customer's choice kept.

- language_set (POST /i18n/setlang/, URL name "set_language"): Django's set_language (the
  language cookie, then a redirect to `next`), and for a signed-in customer the choice saved
  as accounts.User.language, so that it follows them to another browser and their emails are
  written in it.
- At sign-in (user_logged_in): a customer with a saved language gets it at once, for the
  rest of that request and, through LanguageCookieMiddleware, as the language cookie; a
  customer without one keeps the language they picked with the switcher before signing in,
  which is saved.

LocaleMiddleware reads the cookie on every later request (then Accept-Language); URLs carry
no language.

catalogs_compiled (a deployment check, `manage.py check --deploy`): each catalog under
LOCALE_PATHS is compiled and not older than its .po, or the release would show English where
a translation exists (`make translations`).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from kernel.i18n import language_offered

# Set on the request at sign-in: the language the response's cookie must carry.
_COOKIE_ATTR = "_language_cookie"


@csrf_exempt  # see templates/_language_switcher.html: the form is on cached pages
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (POST "language", optional "next": the redirect); a language the
    shop does not offer sets nothing (Django's accepts any it has a catalog for). A signed-in
    customer's accepted choice is saved on the account."""
    response = set_language(request)
    chosen = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen is None:
        return response
    if language_offered(chosen.value) != chosen.value:
        del response.cookies[settings.LANGUAGE_COOKIE_NAME]
        return response
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.language != chosen.value:
        user.language = chosen.value
        user.save(update_fields=["language"])
    return response


@receiver(user_logged_in, dispatch_uid="language_on_login")
def language_restore(sender, request, user, **kwargs) -> None:
    """The customer's saved language for the rest of the sign-in request and, as the cookie,
    for the next ones; without one saved, the language chosen before signing in (the cookie)
    is saved."""
    if request is None:
        return
    saved = language_offered(user.language)
    if not saved:
        chosen = language_offered(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        if chosen:
            user.language = chosen
            user.save(update_fields=["language"])
        return
    translation.activate(saved)
    request.LANGUAGE_CODE = saved  # type: ignore[attr-defined]
    setattr(request, _COOKIE_ATTR, saved)


class LanguageCookieMiddleware:
    """Sets the language cookie on the response of a sign-in (language_restore), with the
    attributes Django's set_language gives it (LANGUAGE_COOKIE_* settings)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        language = getattr(request, _COOKIE_ATTR, None)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


@register(Tags.translation, deploy=True)
def catalogs_compiled(app_configs=None, **kwargs) -> list[CheckWarning]:
    """storefront.W001 for each locale/<lang>/LC_MESSAGES/django.po without a django.mo as
    new as itself."""
    problems = []
    for root in settings.LOCALE_PATHS:
        for po in sorted(Path(root).glob("*/LC_MESSAGES/django.po")):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
                problems.append(
                    CheckWarning(
                        f"{po} is not compiled (or changed since): its language shows English.",
                        hint="Run `make translations` (pybabel compile) when building the release.",
                        id="storefront.W001",
                    )
                )
    return problems
