from django.conf import settings
from django.contrib.auth import get_user_model


def staff_alert_recipients() -> list[str]:
    """Who gets operational alerts (orders needing attention, low stock): STAFF_ALERT_EMAILS
    when set, else every active staff member with an email address."""
    if settings.STAFF_ALERT_EMAILS:
        return list(settings.STAFF_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))
