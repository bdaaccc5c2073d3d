"""Writes to accounts: sign-up, profile and the address book."""
from __future__ import annotations

from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from .forms import DUPLICATE_EMAIL_ERROR
from .models import Address
from .tasks import send_welcome_email

User = get_user_model()

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country", "phone")


class AccountError(Exception):
    """An account change that cannot be made; `message` is for the shopper and `field` names
    the input it is about (or is empty)."""

    code = "account_error"

    def __init__(self, message: str, *, code: str | None = None, field: str = ""):
        self.message = message
        self.field = field
        if code:
            self.code = code
        super().__init__(message)


def user_register(*, email: str, password: str) -> User:
    """Creates an active account signing in with `email` (normalised) and `password` (run
    through AUTH_PASSWORD_VALIDATORS by the caller's input validation).

    Raises AccountError(code="email_taken", field="email") when an account already uses the
    email in any letter case, also when a concurrent sign-up wins the race to the index."""
    email = User.objects.normalize_email(email.strip())
    if User._default_manager.filter(email__iexact=email).exists():
        raise AccountError(DUPLICATE_EMAIL_ERROR, code="email_taken", field="email")
    try:
        # The unique index on lower(email) decides between two sign-ups racing past the check.
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            transaction.on_commit(partial(send_welcome_email.delay, user.pk), robust=True)
            return user
    except IntegrityError as exc:
        raise AccountError(DUPLICATE_EMAIL_ERROR, code="email_taken", field="email") from exc


def user_update(*, user: User, first_name: str | None = None, last_name: str | None = None) -> User:
    """Changes the names given (None: unchanged). The email is the login and stays as it is."""
    changed = []
    if first_name is not None:
        user.first_name = first_name
        changed.append("first_name")
    if last_name is not None:
        user.last_name = last_name
        changed.append("last_name")
    if changed:
        user.save(update_fields=changed)
    return user


def password_check(*, password: str, email: str = "") -> None:
    """Runs AUTH_PASSWORD_VALIDATORS (raises django.core.exceptions.ValidationError)."""
    validate_password(password, user=User(email=email))


def _lock_addresses(user: User) -> None:
    # Serialises changes to one user's address book, so that "is_default" moves atomically
    # from one row to another even when two requests change it at once.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


def address_create(*, user: User, is_default: bool = False, **fields: str) -> Address:
    """Adds an address; the first one, or one created with is_default, becomes the default."""
    with transaction.atomic():
        _lock_addresses(user)
        first = not Address.objects.filter(user=user).exists()
        if is_default and not first:
            Address.objects.filter(user=user, is_default=True).update(is_default=False)
        return Address.objects.create(
            user=user, is_default=is_default or first, **{k: v for k, v in fields.items() if k in ADDRESS_FIELDS}
        )


def address_update(*, address: Address, is_default: bool | None = None, **fields: str) -> Address:
    """Changes the given fields. is_default=True makes it the default (the old one stops
    being); is_default=False is ignored for the default: there is always one while any exist."""
    with transaction.atomic():
        _lock_addresses(address.user)
        for name, value in fields.items():
            if name in ADDRESS_FIELDS:
                setattr(address, name, value)
        if is_default and not address.is_default:
            Address.objects.filter(user=address.user, is_default=True).update(is_default=False)
            address.is_default = True
        address.save()
    return address


def address_delete(*, address: Address) -> None:
    """Removes the address; if it was the default, the oldest remaining one takes over."""
    with transaction.atomic():
        _lock_addresses(address.user)
        address.delete()
        if address.is_default:
            successor = Address.objects.filter(user=address.user).order_by("pk").first()
            if successor is not None:
                Address.objects.filter(pk=successor.pk).update(is_default=True)
