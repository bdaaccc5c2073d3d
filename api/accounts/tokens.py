"""The API's sign-in tokens (JWT, rest_framework_simplejwt with its token_blacklist app):
issue a pair, trade a refresh token for a new pair once, revoke one (log out).

They are the API's own: the pages sign in with a session. An account's tokens end with it
without anything done here: deleting the user sets OutstandingToken.user to NULL, which
_refresh_token_claim refuses, and its access tokens name a user that no longer exists. A
password change by any path ends them too (SIMPLE_JWT CHECK_REVOKE_TOKEN).
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.services import AccountError

User = get_user_model()

TOKEN_REFUSED = _(
    "This token is not valid: it has expired, was used or revoked already, or is not ours. Please sign in again."
)


class TokenRefused(AccountError):
    """A refresh token that cannot be used or revoked: malformed, expired, not an outstanding
    token of ours, used or revoked already, its account deleted or disabled, or the password
    changed since it was issued. One answer whatever the reason (401 `token_not_valid`): the
    client signs in again."""

    code = "token_not_valid"
    http_status = HTTPStatus.UNAUTHORIZED

    def __init__(self) -> None:
        super().__init__(TOKEN_REFUSED)


@dataclass(frozen=True)
class TokenPair:
    access: str  # Bearer token, good for SIMPLE_JWT ACCESS_TOKEN_LIFETIME
    refresh: str  # good once, for REFRESH_TOKEN_LIFETIME


def token_pair_issue(*, user: User) -> TokenPair:
    """A new access token and refresh token for `user`. The refresh token is recorded as
    outstanding (token_blacklist), and both carry the digest of the current password hash
    (SIMPLE_JWT CHECK_REVOKE_TOKEN), so a password change revokes them."""
    refresh = RefreshToken.for_user(user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _refresh_token_claim(raw: str) -> User:
    """Spends the refresh token `raw` (the encoded JWT) inside the caller's transaction:
    blacklists it and returns its user. Raises TokenRefused (nothing written) otherwise."""
    try:
        # Signature, expiry, type and a first look at the blacklist.
        token = RefreshToken(raw)
    except TokenError as exc:
        raise TokenRefused() from exc
    # Only a token we recorded when we issued it: one issued before the blacklist app, or
    # forged with our key, has no row and is refused rather than recorded now.
    outstanding = OutstandingToken.objects.filter(jti=token.get(jwt_settings.JTI_CLAIM)).first()
    if outstanding is None or outstanding.user_id is None:  # no row, or the account is gone
        raise TokenRefused()
    if str(outstanding.user_id) != str(token.get(jwt_settings.USER_ID_CLAIM)):
        raise TokenRefused()
    user = User._default_manager.filter(pk=outstanding.user_id, is_active=True).first()
    if user is None:
        raise TokenRefused()
    # A token issued before the password last changed (any path: page, API reset, admin,
    # changepassword) is revoked by that change. Tokens without the claim predate
    # CHECK_REVOKE_TOKEN and are refused too: we cannot tell when they were issued.
    if jwt_settings.CHECK_REVOKE_TOKEN and token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise TokenRefused()
    try:
        # The one use, decided by the database: BlacklistedToken.token is unique, so of any
        # number of concurrent claims of the same token exactly one INSERT succeeds; the
        # others wait on the unique index until it commits and then fail here. Checking the
        # blacklist first and inserting after (simplejwt's get_or_create) lets them all pass.
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError as exc:
        raise TokenRefused() from exc
    return user


def refresh_token_rotate(*, refresh: str) -> TokenPair:
    """Trades the refresh token `refresh` (encoded JWT) for a new pair: its one use. Of any
    number of concurrent calls with the same token exactly one succeeds.

    Raises TokenRefused (see there) for a token that cannot be used."""
    with transaction.atomic():
        user = _refresh_token_claim(refresh)
        return token_pair_issue(user=user)


def refresh_token_revoke(*, refresh: str) -> None:
    """Logs an API client out: blacklists the refresh token `refresh` (encoded JWT), which
    proves the right to do so. The access tokens issued with it are not tracked and stay
    good until they expire (SIMPLE_JWT ACCESS_TOKEN_LIFETIME, minutes).

    Raises TokenRefused for a token that is not valid, or used or revoked already."""
    with transaction.atomic():
        _refresh_token_claim(refresh)
