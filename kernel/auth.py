"""Who is acting, as the services want it."""

from __future__ import annotations


def user_or_none(user):
    """`user` if it is a signed-in user, else None: request.user is an AnonymousUser for a
    guest, and services record a guest as no user at all (a nullable foreign key)."""
    return user if user is not None and user.is_authenticated else None
