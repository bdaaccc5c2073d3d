"""Accounts' background jobs: the welcome email after sign-up (enqueued on commit by
user_register and the sign-up page), and removing a deleted account's stored sessions. Accounts sits below orders,
so it sends through Django's mail API directly, with the shop's common email layout
(templates/emails/)."""

from anymail.exceptions import AnymailError
from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from .services import email_verification_token, user_sessions_delete


def _absolute(path: str) -> str:
    return settings.SHOP_BASE_URL.rstrip("/") + path


# Mail server or ESP trouble passes: retry with exponential backoff, as orders.tasks does.
@shared_task(
    autoretry_for=(OSError, AnymailError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
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
        "shop_name": settings.SITE_NAME,
        "shop_url": settings.SHOP_BASE_URL.rstrip("/"),
        "orders_url": _absolute(reverse("orders:list")),
        "password_reset_url": _absolute(reverse("accounts:password_reset")),
        # Signed, good for 3 days (accounts.services.email_verification_token).
        "verify_url": _absolute(reverse("accounts:verify_email", args=[email_verification_token(user=user)])),
    }
    message = EmailMultiAlternatives(
        subject=f"Welcome to {settings.SITE_NAME}",
        body=render_to_string("emails/welcome.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string("emails/welcome.html", context), "text/html")
    return message.send()


@shared_task
def delete_user_sessions(user_pk: int) -> int:
    """Removes the stored sessions of the deleted account `user_pk` (accounts.services
    .user_sessions_delete); returns how many. Safe to run twice: the second run finds none."""
    return user_sessions_delete(user_pk=user_pk)
