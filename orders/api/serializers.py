"""Output shapes of the orders API (money as decimal strings in the order's currency)."""
from rest_framework import serializers

from orders.models import Order, OrderEvent, OrderLine, Shipment

MONEY = {"max_digits": 12, "decimal_places": 2}


class OrderListItemSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = Order
        fields = ("number", "status", "status_display", "currency", "total", "created_at", "paid_at")


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = (
            "id", "product_title", "variant_title", "sku", "quantity", "unit_price", "line_total",
            "tax_rate", "tax_amount", "shipped_quantity",
        )


class OrderEventSerializer(serializers.ModelSerializer):
    type_display = serializers.CharField(source="get_type_display")

    class Meta:
        model = OrderEvent
        fields = ("type", "type_display", "created_at")


class ShipmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = ("carrier", "tracking_number", "tracking_url", "created_at")


class ShippingAddressSerializer(serializers.Serializer):
    name = serializers.CharField(source="shipping_name")
    line1 = serializers.CharField(source="shipping_line1")
    line2 = serializers.CharField(source="shipping_line2")
    city = serializers.CharField(source="shipping_city")
    postal_code = serializers.CharField(source="shipping_postal_code")
    country = serializers.CharField(source="shipping_country")
    phone = serializers.CharField(source="shipping_phone")


class OrderDetailSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    shipping_address = ShippingAddressSerializer(source="*")
    lines = OrderLineSerializer(many=True)
    events = OrderEventSerializer(many=True)
    shipments = ShipmentSerializer(many=True)

    class Meta:
        model = Order
        fields = (
            "number", "status", "status_display", "email", "currency", "subtotal", "discount_total",
            "shipping_total", "tax_total", "total", "prices_include_tax", "refunded_total",
            "voucher_code", "shipping_method_name", "shipping_address", "reservation_expires_at",
            "paid_at", "created_at", "lines", "events", "shipments",
        )
