from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from kernel.addresses import address_from

from .models import Address


def staff_alert_recipients() -> list[str]:
    """Who gets operational alerts (orders needing attention, low stock): STAFF_ALERT_EMAILS
    when set, else every active staff member with an email address."""
    if settings.STAFF_ALERT_EMAILS:
        return list(settings.STAFF_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def stored_email(email: str) -> str | None:
    """The email of the account matching `email` in any letter case, as stored (None if no
    account has it): what to authenticate with, since the auth backend matches exactly."""
    return (
        get_user_model()
        ._default_manager.filter(email__iexact=email.strip())
        .order_by("pk")
        .values_list("email", flat=True)
        .first()
    )


def addresses_for_user(user) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default", "pk")


def phone_region_for_user(user) -> str | None:
    """The country (ISO 3166 code) in which a phone number the user types without its
    +country code is read: the country of their default address, None without one (the number
    must then start with its +country code). The profile page and the API read phones so."""
    country = Address.objects.filter(user=user, is_default=True).values_list("country", flat=True).first()
    return str(country) if country else None


def address_for_user(*, user, pk: int) -> Address | None:
    """The user's address `pk`, or None (someone else's address is None too)."""
    return Address.objects.filter(user=user, pk=pk).first()


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def user_data(*, user) -> dict:
    """What accounts holds about `user`, for the data export (checkout.privacy.customer_data):
    {"profile": {...}, "addresses": [{...}, ...]}, times as ISO 8601 strings. Never the
    password hash or tokens."""
    profile = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "date_joined": _when(user.date_joined),
        "last_login": _when(user.last_login),
        "email_verified_at": _when(user.email_verified_at),
        "phone": str(user.phone or ""),
    }
    addresses = [
        {
            **address_from(address),
            "is_default": address.is_default,
            "created_at": _when(address.created_at),
        }
        for address in addresses_for_user(user)
    ]
    return {"profile": profile, "addresses": addresses}
