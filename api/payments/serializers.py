"""Input and output shapes of the payments API. `amount` for Razorpay is in minor units
(paise, cents), as Razorpay's SDKs take it; everything else is decimal currency units."""

from rest_framework import serializers

from api.orders.serializers import OrderDetailSerializer
from orders.forms import OrderCancelForm

MONEY = {"max_digits": 12, "decimal_places": 2}


class PaymentStartInputSerializer(serializers.Serializer):
    gateway = serializers.CharField(max_length=20, help_text="An enabled gateway: dummy, stripe or razorpay.")


class PaymentStartSerializer(serializers.Serializer):
    """What a native SDK needs to go on paying. stripe / dummy: `redirect_url` (open it in a
    browser); razorpay: `razorpay_order_id`, `key_id`, `amount`, `currency` for Checkout."""

    payment_reference = serializers.CharField()
    gateway = serializers.CharField()
    redirect_url = serializers.CharField(required=False, help_text="stripe, dummy: where the shopper pays.")
    razorpay_order_id = serializers.CharField(required=False)
    key_id = serializers.CharField(required=False, help_text="razorpay: the public key id.")
    amount = serializers.IntegerField(required=False, help_text="razorpay: in minor units (paise).")
    currency = serializers.CharField(required=False)


class RazorpayVerifyInputSerializer(serializers.Serializer):
    razorpay_order_id = serializers.CharField(max_length=255)
    razorpay_payment_id = serializers.CharField(max_length=255)
    razorpay_signature = serializers.CharField(max_length=255)


class PaymentResultSerializer(serializers.Serializer):
    payment_reference = serializers.CharField(source="reference")
    payment_status = serializers.CharField(source="status", help_text="pending, captured, failed, …")
    order_number = serializers.CharField(source="order.number")
    order_status = serializers.CharField(source="order.status")


class OrderCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=OrderCancelForm.base_fields["reason"].max_length)


class OrderCancelSerializer(serializers.Serializer):
    order = OrderDetailSerializer()
    refunded = serializers.DecimalField(help_text="Refunded by this cancellation (order currency).", **MONEY)
    refund_failed = serializers.BooleanField(
        help_text="A provider refused a refund: the order is cancelled and our staff will refund it."
    )
