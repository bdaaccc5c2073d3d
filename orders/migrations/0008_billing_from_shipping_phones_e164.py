"""Orders placed before the billing address existed were billed to their shipping address:
it is copied into the billing fields. Phone numbers become E.164 where they can be read with
the order's shipping country as the region; a number that cannot is kept exactly as it was
(see accounts 0005). Invoices keep the snapshot they were issued with (untouched here)."""

import phonenumbers
from django.db import migrations

FIELDS = ("name", "line1", "line2", "city", "postal_code", "country", "phone")


def e164(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def forwards(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    for order in Order.objects.filter(billing_line1="").iterator():
        raw = str(
            order.shipping_phone.raw_input if hasattr(order.shipping_phone, "raw_input") else order.shipping_phone or ""
        )
        phone = (e164(raw, str(order.shipping_country)) or raw) if raw else ""
        values = {f"billing_{field}": getattr(order, f"shipping_{field}") for field in FIELDS}
        values["billing_phone"] = phone
        values["shipping_phone"] = phone
        Order.objects.filter(pk=order.pk).update(**values)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_order_billing_address_fields_per_country"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
