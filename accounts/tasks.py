"""Accounts' background jobs: the welcome email after sign-up (enqueued on commit by
user_register and the sign-up page), the link confirming a changed email address and the
notice to the old one (user_email_change), the invitation of an imported customer to choose
a password (customer_invite), and removing a deleted account's stored sessions. Accounts
sits below orders, so it sends through Django's mail API directly, with the shop's common
email layout (templates/emails/)."""

import functools
from collections.abc import Callable
from datetime import datetime

from anymail.exceptions import AnymailError
from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from kernel.i18n import language_or_default

from .services import (
    customer_invite_claim,
    customer_invite_expires_at,
    customer_invite_release,
    customer_invite_token,
    email_verification_token,
    user_sessions_delete,
)


def _absolute(path: str) -> str:
    return settings.SHOP_BASE_URL.rstrip("/") + path


def _in_users_language(task: Callable[..., int]) -> Callable[..., int]:
    """`task(user_pk, …)` run inside translation.override of the account's language
    (User.language; the shop's default when blank or no longer offered): subject, body and
    dates of its email in the customer's language. One query for the language."""

    @functools.wraps(task)
    def run(user_pk: int, *args, **kwargs) -> int:
        users = get_user_model()._default_manager.filter(pk=user_pk)
        language = users.values_list("language", flat=True).first()
        with translation.override(language_or_default(language)):
            return task(user_pk, *args, **kwargs)

    return run


def _send(*, to: str, subject: str, template: str, context: dict) -> int:
    """Sends `template` (.txt body, .html alternative, under templates/emails/) to `to` with
    the shop's name and address added to `context`; returns the number of messages sent."""
    context = {"shop_name": settings.SITE_NAME, "shop_url": settings.SHOP_BASE_URL.rstrip("/"), **context}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Content-Language": translation.get_language() or settings.LANGUAGE_CODE},
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    return message.send()


# Mail server or ESP trouble passes: retry with exponential backoff, as orders.tasks does.
mail_task = shared_task(
    autoretry_for=(OSError, AnymailError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)


@mail_task
@_in_users_language
def send_welcome_email(user_pk: int) -> int:
    """Welcomes a new account by email. Returns the number of messages sent (0 when the user
    is gone or has no address).

    Not guarded by a log of its own: a retry happens only when the send raised, so the one
    way to be welcomed twice is a worker dying between the send and the task's ack."""
    user = get_user_model()._default_manager.filter(pk=user_pk, is_active=True).first()
    if user is None or not user.email:
        return 0
    context = {
        "user": user,
        "orders_url": _absolute(reverse("orders:list")),
        "password_reset_url": _absolute(reverse("accounts:password_reset")),
        # Signed, good for 3 days (accounts.services.email_verification_token).
        "verify_url": _absolute(reverse("accounts:verify_email", args=[email_verification_token(user=user)])),
    }
    return _send(
        to=user.email,
        subject=_("Welcome to %(shop)s") % {"shop": settings.SITE_NAME},
        template="welcome",
        context=context,
    )


@mail_task
@_in_users_language
def send_email_verification(user_pk: int) -> int:
    """Mails the account's current address a link to confirm it, after the owner changed it
    (accounts.services.user_email_change). Returns the number of messages sent: 0 when the
    user is gone, or has changed the address again meanwhile and already verified it."""
    user = get_user_model()._default_manager.filter(pk=user_pk, is_active=True).first()
    if user is None or not user.email or user.email_verified_at is not None:
        return 0
    context = {
        "user": user,
        "account_url": _absolute(reverse("accounts:account")),
        "verify_url": _absolute(reverse("accounts:verify_email", args=[email_verification_token(user=user)])),
    }
    subject = _("Confirm your new email address for %(shop)s") % {"shop": settings.SITE_NAME}
    return _send(to=user.email, subject=subject, template="verify_email", context=context)


@mail_task
@_in_users_language
def send_email_changed_notice(user_pk: int, old_email: str) -> int:
    """Tells `old_email` that the account's email was changed (accounts.services
    .user_email_change), so that an owner whose session was taken over learns of it and can
    contact the shop. The new address is not written out in full. Returns the number of
    messages sent (0 when the user is gone)."""
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    if user is None or not old_email:
        return 0
    local, _at, domain = user.email.partition("@")
    context = {
        "old_email": old_email,
        "new_email_hint": f"{local[:1]}…@{domain}",
        "password_reset_url": _absolute(reverse("accounts:password_reset")),
    }
    subject = _("Your %(shop)s email address was changed") % {"shop": settings.SITE_NAME}
    return _send(to=old_email, subject=subject, template="email_changed", context=context)


@mail_task
@_in_users_language
def send_customer_invite(user_pk: int, invited_at: str) -> int:
    """Mails an imported customer the link to choose a password, for the invitation that
    accounts.services.customer_invite recorded at `invited_at` (ISO 8601). The link
    (CustomerInviteTokenGenerator) works for CUSTOMER_INVITE_DAYS days from the send, or
    until used. Returns the number of messages sent: 0 when there is nothing to send (see
    customer_invite_claim: already sent by an earlier run of this task, superseded by a newer
    invitation, the customer gone or with a password by now).

    Sends at most once per invitation: the claim commits before the send; a send that raises
    releases it, and the common retry policy (mail_task) tries again."""
    stamp = datetime.fromisoformat(invited_at)
    claim = customer_invite_claim(user_pk=user_pk, invited_at=stamp)
    if claim is None:
        return 0
    user, sent_at = claim
    path = reverse(
        "accounts:customer_invite",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": customer_invite_token.make_token(user)},
    )
    context = {
        "user": user,
        "invite_url": _absolute(path),
        "expires_at": customer_invite_expires_at(sent_at=sent_at),
        "days": settings.CUSTOMER_INVITE_DAYS,
        "orders_url": _absolute(reverse("orders:list")),
        "password_reset_url": _absolute(reverse("accounts:password_reset")),
    }
    subject = _("Your account has moved to %(shop)s: choose a password") % {"shop": settings.SITE_NAME}
    try:
        return _send(to=user.email, subject=subject, template="customer_invite", context=context)
    except BaseException:
        customer_invite_release(user_pk=user.pk, invited_at=stamp, sent_at=sent_at)
        raise


@shared_task
def delete_user_sessions(user_pk: int) -> int:
    """Removes the stored sessions of the deleted account `user_pk` (accounts.services
    .user_sessions_delete); returns how many. Safe to run twice: the second run finds none."""
    return user_sessions_delete(user_pk=user_pk)
