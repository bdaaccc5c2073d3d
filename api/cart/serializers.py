"""Input and output shapes of the cart API (money as decimal strings in the shop currency)."""

from django.conf import settings
from rest_framework import serializers

from cart.models import MAX_LINE_QUANTITY

MONEY = {"max_digits": 12, "decimal_places": 2}
# Postgres integer ids: a larger number can name no row (and would overflow the query).
MAX_ID = 2**31 - 1


class CartItemAddInputSerializer(serializers.Serializer):
    variant_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, default=1)


class CartItemUpdateInputSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class CartLineSerializer(serializers.Serializer):
    """One line (a cart_view CartLineView): today's price, what is available to this cart,
    and `problem` ("" when the line can be ordered as it is)."""

    id = serializers.IntegerField(source="line.pk")
    variant_id = serializers.IntegerField(source="variant.pk")
    sku = serializers.CharField(source="variant.sku")
    product_title = serializers.CharField(source="variant.product.title")
    product_handle = serializers.CharField(source="variant.product.handle")
    variant_title = serializers.CharField(source="variant.title")
    quantity = serializers.IntegerField(source="line.quantity")
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)
    available = serializers.IntegerField(help_text="Units this cart could have now, its own hold included.")
    problem = serializers.CharField(help_text='"" when the line can be ordered as it is.')


class CartSerializer(serializers.Serializer):
    token = serializers.CharField(
        allow_null=True,
        help_text="A guest cart's token, also sent in the X-Cart-Token response header: send it back in "
        "X-Cart-Token. null for a signed-in shopper's cart.",
    )
    lines = CartLineSerializer(source="view.lines", many=True)
    quantity = serializers.IntegerField(source="view.quantity")
    subtotal = serializers.DecimalField(source="view.subtotal", help_text="Lines without a problem.", **MONEY)
    currency = serializers.SerializerMethodField()
    has_problems = serializers.BooleanField(source="view.has_problems")
    reserved_until = serializers.DateTimeField(
        source="view.reserved_until", allow_null=True, help_text="When the cart's stock hold lapses (null: none)."
    )
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="What a merge of a guest cart could not take over whole."
    )

    def get_currency(self, obj) -> str:
        return settings.SHOP_CURRENCY


class CartValidationLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="line.pk")
    variant_id = serializers.IntegerField(source="variant.pk")
    sku = serializers.CharField(source="variant.sku")
    quantity = serializers.IntegerField(source="line.quantity")
    available = serializers.IntegerField()
    unit_price = serializers.DecimalField(help_text="The catalog price now.", **MONEY)
    ok = serializers.BooleanField()
    problem = serializers.CharField()


class CartValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="Every line can be ordered as it is.")
    lines = CartValidationLineSerializer(many=True)
