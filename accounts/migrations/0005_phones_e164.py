"""Phone numbers typed before they were validated become E.164 where they can be read.

Each is parsed with its address's country as the region ("020 7946 0958" in a GB address is
+442079460958); a number that parses as a valid one is rewritten in E.164. One that does not
(a typo, an extension in words) is left exactly as it was typed, never blanked: the
PhoneNumberField keeps an unparseable value as its raw text, and the address form asks for
a valid number the next time the address is edited. Users had no phone before 0004.
"""

import phonenumbers
from django.db import migrations


def e164(raw: str, region: str) -> str | None:
    """`raw` in E.164 if it is a valid number (read with `region` when it has no +prefix)."""
    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def forwards(apps, schema_editor):
    Address = apps.get_model("accounts", "Address")
    for address in Address.objects.exclude(phone="").only("pk", "phone", "country").iterator():
        raw = str(address.phone.raw_input if hasattr(address.phone, "raw_input") else address.phone)
        normal = e164(raw, str(address.country))
        if normal and normal != raw:
            Address.objects.filter(pk=address.pk).update(phone=normal)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_address_fields_per_country_user_phone"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
