"""Cart.token: the API's handle on a guest cart. Existing carts each get their own token
before the column becomes unique and required."""

import secrets

from django.db import migrations, models

import cart.models


def fill_tokens(apps, schema_editor):
    Cart = apps.get_model("cart", "Cart")
    for row in Cart.objects.filter(token__isnull=True).only("pk").iterator():
        Cart.objects.filter(pk=row.pk).update(token=secrets.token_urlsafe(24))


class Migration(migrations.Migration):
    dependencies = [
        ("cart", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="cart",
            name="token",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="cart",
            name="token",
            field=models.CharField(default=cart.models.new_cart_token, editable=False, max_length=64, unique=True),
        ),
    ]
