"""Writes to accounts: sign-up, email verification, profile, the address book, the
accounts part of deleting an account (checkout.privacy runs the whole flow) and inviting
imported customers to choose a password (invite_customers). The API's
tokens are the API's own (api.accounts.tokens)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.contrib.sessions.models import Session
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import Promise
from django.utils.http import base36_to_int
from django.utils.translation import gettext_lazy as _

from kernel.addresses import ADDRESS_FIELDS, address_from, validate_address
from kernel.errors import DomainError
from kernel.tasks import enqueue_on_commit

from .models import Address, User

DUPLICATE_EMAIL_ERROR = _("An account with this email address already exists. Try logging in instead.")


class AccountError(DomainError):
    """An account change that cannot be made; `message` is for the shopper and `field` names
    the input it is about (or is empty)."""

    code = "account_error"
    http_status = HTTPStatus.BAD_REQUEST
    message: str

    def __init__(self, message: str | Promise, *, code: str | None = None, field: str = ""):
        # Translated now, in the language of the request or email being served.
        self.message = str(message)
        self.field = field
        if code:
            self.code = code
        super().__init__(self.message)


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
            enqueue_on_commit("accounts.tasks.send_welcome_email", user.pk)
            return user
    except IntegrityError as exc:
        raise AccountError(DUPLICATE_EMAIL_ERROR, code="email_taken", field="email") from exc


EMAIL_VERIFICATION_MAX_AGE = timedelta(days=3)
_EMAIL_VERIFICATION_SALT = "accounts.email-verification"
INVALID_VERIFICATION_LINK = _("This verification link is not valid. Please copy the whole link from the email.")
EXPIRED_VERIFICATION_LINK = _(
    "This verification link has expired: links work for 3 days. Please contact us for a new one."
)


def email_verification_token(*, user: User) -> str:
    """A URL-safe token proving that whoever holds it received mail at `user.email`, good for
    EMAIL_VERIFICATION_MAX_AGE. It signs the address too, so it stops working if the
    account's email changes."""
    signer = signing.TimestampSigner(salt=_EMAIL_VERIFICATION_SALT)
    return signer.sign_object({"u": user.pk, "e": user.email.lower()})


def email_verify(*, token: str) -> User:
    """Marks the account's email as verified (email_verified_at, set once; opening the link
    again changes nothing) and returns the user.

    Raises AccountError(code="expired_link") for a token older than EMAIL_VERIFICATION_MAX_AGE,
    AccountError(code="invalid_link") for anything else that is not a token we signed for a
    current account and address."""
    signer = signing.TimestampSigner(salt=_EMAIL_VERIFICATION_SALT)
    try:
        data = signer.unsign_object(token, max_age=EMAIL_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise AccountError(EXPIRED_VERIFICATION_LINK, code="expired_link") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise AccountError(INVALID_VERIFICATION_LINK, code="invalid_link") from exc
    user = (
        User._default_manager.filter(pk=data["u"], email__iexact=data.get("e", ""), is_active=True).first()
        if isinstance(data, dict) and data.get("u") is not None
        else None
    )
    if user is None:
        raise AccountError(INVALID_VERIFICATION_LINK, code="invalid_link")
    # Compare-and-set: two clicks at once record the first time only.
    User._default_manager.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
    user.refresh_from_db(fields=["email_verified_at"])
    return user


def user_update(
    *, user: User, first_name: str | None = None, last_name: str | None = None, phone: str | None = None
) -> User:
    """Changes the names and phone given (None: unchanged; the phone as validated by the
    caller's PhoneNumberField, stored E.164, "" for none). The email is the login:
    user_email_change."""
    changed = []
    for name, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if value is not None:
            setattr(user, name, value)
            changed.append(name)
    if changed:
        user.save(update_fields=changed)
    return user


def user_email_change(*, user: User, email: str) -> bool:
    """Makes `email` (normalised: trimmed, domain in lower case) the account's email, which is
    also its login. Returns True when it names another mailbox.

    The verification rules of sign-up hold for the new address: unless it is only the current
    address in another letter case (the same mailbox, still verified), email_verified_at is
    cleared and, once the change commits, accounts.tasks.send_email_verification mails a
    signed link to the new address (email_verify sets email_verified_at again) and
    accounts.tasks.send_email_changed_notice tells the old address, so that an owner whose
    session was taken over learns of it. Links sent to the old address stop working
    (email_verification_token signs the address).

    Raises AccountError(code="email_taken", field="email") when another account uses the
    email in any letter case, also when a concurrent change or sign-up wins the race to the
    unique index on lower(email)."""
    email = User.objects.normalize_email(email.strip())
    old_email = user.email
    if email == old_email:
        return False
    if User._default_manager.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise AccountError(DUPLICATE_EMAIL_ERROR, code="email_taken", field="email")
    new_mailbox = email.lower() != old_email.lower()
    user.email = email
    fields = ["email", "username"]  # User.save mirrors the email into the username
    if new_mailbox:
        user.email_verified_at = None
        fields.append("email_verified_at")
    try:
        with transaction.atomic():
            user.save(update_fields=fields)
            if new_mailbox:
                enqueue_on_commit("accounts.tasks.send_email_verification", user.pk)
                enqueue_on_commit("accounts.tasks.send_email_changed_notice", user.pk, old_email)
    except IntegrityError as exc:
        user.refresh_from_db(fields=["email", "username", "email_verified_at"])
        raise AccountError(DUPLICATE_EMAIL_ERROR, code="email_taken", field="email") from exc
    return new_mailbox


def user_profile_update(
    *,
    user: User,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> bool:
    """The profile (the account page, the API's PATCH auth/me/): the names, phone and email
    given (None: unchanged) in one go, all or nothing. Returns user_email_change's answer
    (True when the email now names another mailbox, which is then unverified; False when no
    email was given). Raises AccountError(code="email_taken", field="email") before changing
    anything when another account has the email."""
    new_mailbox = False
    with transaction.atomic():
        # The email first: refused, it leaves the names as they were too.
        if email is not None:
            new_mailbox = user_email_change(user=user, email=email)
        user_update(user=user, first_name=first_name, last_name=last_name, phone=phone)
    return new_mailbox


def password_check(*, password: str, email: str = "") -> None:
    """Runs AUTH_PASSWORD_VALIDATORS (raises django.core.exceptions.ValidationError)."""
    validate_password(password, user=User(email=email))


def _lock_addresses(user: User) -> None:
    # Serialises changes to one user's address book, so that "is_default" moves atomically
    # from one row to another even when two requests change it at once.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


def _address_fields(fields: dict) -> dict[str, str]:
    """The address fields of `fields`, validated for their country (kernel.addresses): the
    forms and the API have checked them already, and anything else (an import, a script)
    gets the same check, so a stored address is always one its country accepts and its
    phone E.164. Raises AddressInvalid (a DomainError, its errors per field)."""
    return validate_address({name: fields.get(name, "") for name in ADDRESS_FIELDS})


def address_create(*, user: User, is_default: bool = False, **fields: str) -> Address:
    """Adds an address (validated for its country, see _address_fields); the first one, or
    one created with is_default, becomes the default."""
    with transaction.atomic():
        _lock_addresses(user)
        first = not Address.objects.filter(user=user).exists()
        if is_default and not first:
            Address.objects.filter(user=user, is_default=True).update(is_default=False)
        return Address.objects.create(user=user, is_default=is_default or first, **_address_fields(fields))


def address_update(*, address: Address, is_default: bool | None = None, **fields: str) -> Address:
    """Changes the given fields. is_default=True makes it the default (the old one stops
    being); is_default=False is ignored for the default: there is always one while any exist."""
    with transaction.atomic():
        _lock_addresses(address.user)
        if any(name in ADDRESS_FIELDS for name in fields):
            for name, value in _address_fields({**address_from(address), **fields}).items():
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


# -- deleting an account ---------------------------------------------------------------------

WRONG_PASSWORD = _("That is not your current password.")
STAFF_SELF_DELETE = _("A staff account cannot be deleted here: another administrator can delete it in the back office.")


def password_confirm(*, user: User, password: str) -> None:
    """Checks that `password` is the current password of `user`, before a change that needs
    it (deleting the account). Raises AccountError(code="wrong_password", field="password")."""
    if not password or not user.check_password(password):
        raise AccountError(WRONG_PASSWORD, code="wrong_password", field="password")


def user_delete(*, user: User) -> None:
    """The accounts part of deleting an account, run last by checkout.privacy.customer_delete
    once the apps above have let go of the user: deletes the address book and the user row,
    and once that commits, the user's stored sessions (a task: see user_sessions_delete). The
    rows of other apps that still point at the user follow their foreign keys (product
    reviews are deleted, admin log entries too).

    The account is dead at once: access tokens and sessions name a user that no longer
    exists, so JWTAuthentication and django.contrib.auth treat them as signed out, and its
    refresh tokens lose their user (token_blacklist's OutstandingToken.user is SET NULL),
    which the API's token claim refuses (api.accounts.tokens)."""
    user_pk = user.pk
    with transaction.atomic():
        Address.objects.filter(user=user).delete()
        user.delete()
        enqueue_on_commit("accounts.tasks.delete_user_sessions", user_pk)


def user_sessions_delete(*, user_pk: int) -> int:
    """Deletes every unexpired stored session signed in as user `user_pk`, through the
    configured session store (database, and its cache with cached_db); returns how many.

    Reads every unexpired session: Django keeps no index from a user to their sessions. That
    is why this runs in a task after the account is gone, not in the deleting request:
    those sessions are already signed out (their user no longer exists), so the task only
    removes what is left of them."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    deleted = 0
    rows = Session.objects.filter(expire_date__gt=timezone.now()).values_list("session_key", "session_data")
    for key, data in rows.iterator(chunk_size=2000):
        if str(store().decode(data).get(SESSION_KEY)) == str(user_pk):
            store(session_key=key).delete()
            deleted += 1
    return deleted


# -- inviting imported customers to choose a password ----------------------------------------

# The signal Django gives an account with no password: Django's "!" + random text
# (set_unusable_password); an empty password verifies nothing either.
_NO_PASSWORD = Q(password__startswith=UNUSABLE_PASSWORD_PREFIX) | Q(password="")


class CustomerInviteTokenGenerator(PasswordResetTokenGenerator):
    """The token in the invitation link (invite_customers): Django's password reset token
    (the user's pk, password hash, last login and email, signed with SECRET_KEY) under a salt
    of its own, so that neither kind of link opens the other's page, and good for
    settings.CUSTOMER_INVITE_DAYS days instead of PASSWORD_RESET_TIMEOUT.

    Setting the password changes the hash, so a link works once; signing in changes the last
    login, which ends it too."""

    key_salt = "accounts.services.CustomerInviteTokenGenerator"

    def timeout_seconds(self) -> int:
        """How long a link works, in seconds (read at each check, so a changed setting counts)."""
        return settings.CUSTOMER_INVITE_DAYS * 24 * 60 * 60

    def token_state(self, user: User | None, token: str | None) -> str:
        """ "valid", "expired" (ours, for this account as it is now, but older than
        CUSTOMER_INVITE_DAYS) or "invalid" (anything else: not ours, for another account,
        already used since the password or last login changed, or malformed)."""
        if not (user and token):
            return "invalid"
        try:
            ts_b36, _ = token.split("-")
            timestamp = base36_to_int(ts_b36)
        except ValueError:
            return "invalid"
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return "invalid"
        if self._num_seconds(self._now()) - timestamp > self.timeout_seconds():
            return "expired"
        return "valid"

    def check_token(self, user, token) -> bool:
        return self.token_state(user, token) == "valid"


customer_invite_token = CustomerInviteTokenGenerator()


def customers_to_invite(*, again: bool = False) -> QuerySet[User]:
    """The customers invite_customers writes to: imported (imported_at set), active, not
    staff, with no usable password, and never invited yet unless `again`; those never invited
    first, then the longest ago, then by pk (so --limit takes the same ones a dry run shows)."""
    users = User._default_manager.filter(_NO_PASSWORD, imported_at__isnull=False, is_active=True, is_staff=False)
    if not again:
        users = users.filter(invited_at__isnull=True)
    return users.order_by(F("invited_at").asc(nulls_first=True), "pk")


def customer_invite(*, user_pk: int, again: bool = False) -> datetime | None:
    """Invites one customer of customers_to_invite(again=again) to choose a password: sets
    invited_at to now and, in the same transaction, enqueues accounts.tasks
    .send_customer_invite on commit with that moment (enqueue_on_commit). So the invitation
    is recorded exactly when its email is queued: a crash before the commit leaves neither,
    and a second run (or a concurrent one: the row is locked, and a locked row is skipped)
    does not queue it again.

    Returns the invited_at written (an aware datetime), or None when the customer is no
    longer one to invite (gone, has set a password, was invited meanwhile without `again`,
    or is being invited by another run right now). Raises nothing of its own; database errors
    propagate with nothing written."""
    with transaction.atomic():
        user = customers_to_invite(again=again).select_for_update(skip_locked=True).filter(pk=user_pk).first()
        if user is None:
            return None
        invited_at = timezone.now()
        User._default_manager.filter(pk=user.pk).update(invited_at=invited_at)
        enqueue_on_commit("accounts.tasks.send_customer_invite", user.pk, invited_at.isoformat())
    return invited_at


def customers_invite(
    *,
    limit: int | None = None,
    again: bool = False,
    dry_run: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[str]:
    """Invites up to `limit` (None: all) customers of customers_to_invite(again=again), one
    customer_invite each (one transaction and one queued email each: an interrupted run
    keeps what it did, and running it again invites the rest). Returns the emails invited,
    in order; with `dry_run`, the emails that would be, writing and queueing nothing.
    `progress(stage, done, total)` is called as it goes (kernel.csvfiles.progress_bar).

    Raises ValueError for a negative `limit`."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    candidates = list(customers_to_invite(again=again).values_list("pk", "email")[:limit])
    if dry_run:
        return [email for _, email in candidates]
    invited = []
    for done, (pk, email) in enumerate(candidates, start=1):
        if customer_invite(user_pk=pk, again=again) is not None:
            invited.append(email)
        if progress:
            progress("Inviting", done, len(candidates))
    return invited


def customer_invite_expires_at(*, sent_at: datetime) -> datetime:
    """When a link sent at `sent_at` stops working: CUSTOMER_INVITE_DAYS days later."""
    return sent_at + timedelta(days=settings.CUSTOMER_INVITE_DAYS)


def customer_invite_claim(*, user_pk: int, invited_at: datetime) -> tuple[User, datetime] | None:
    """Claims the sending of the invitation customer_invite recorded at `invited_at`, just
    before accounts.tasks.send_customer_invite sends it: moves invited_at on to the sending
    moment, compare-and-set, and commits. Returns (user, sent_at), or None when there is
    nothing to send: the claim was taken already (the task delivered twice, or a run with
    --again superseded this invitation), the user is gone or inactive, or has a password now.

    So a task run twice sends at most once. The price: a worker dying between this claim and
    the send leaves the invitation unsent; `invite_customers --again` sends it anew. Release
    the claim with customer_invite_release when the send fails, so the retry can send."""
    sent_at = max(timezone.now(), invited_at + timedelta(microseconds=1))
    claimed = (
        User._default_manager.filter(_NO_PASSWORD, pk=user_pk, is_active=True, invited_at=invited_at)
        .exclude(email="")
        .update(invited_at=sent_at)
    )
    if not claimed:
        return None
    return User._default_manager.get(pk=user_pk), sent_at


def customer_invite_release(*, user_pk: int, invited_at: datetime, sent_at: datetime) -> None:
    """Undoes customer_invite_claim after a failed send, so that the task's retry with the
    same `invited_at` claims and sends it (unless something else changed invited_at since)."""
    User._default_manager.filter(pk=user_pk, invited_at=sent_at).update(invited_at=invited_at)


def customer_invite_accepted(*, user: User) -> None:
    """Records what opening an invitation and choosing a password proves: the customer
    receives mail at the account's email (the token signs it), so it is verified from now
    unless it was already (email_verified_at is set once)."""
    User._default_manager.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
