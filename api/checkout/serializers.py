"""Input and output shapes of the checkout API. The details a client sends are validated by
the web shop's own CheckoutForm (checkout.forms), so the API and the pages accept exactly
the same addresses, countries and shipping methods; a voucher code by voucher_check, as the
review page's "Apply" does."""

from __future__ import annotations

import contextlib

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.addresses import AddressFieldsSerializer, AddressOutputSerializer
from api.orders.serializers import OrderDetailSerializer
from cart.selectors import CartView, cart_view
from checkout.exceptions import VoucherError
from checkout.forms import CheckoutForm
from checkout.pricing import cart_goods
from checkout.selectors import CheckoutSummary, voucher_check
from checkout.services import CHECKOUT_DETAIL_FIELDS, checkout_missing
from kernel.addresses import ADDRESS_FIELDS, phone_e164

MONEY = {"max_digits": 12, "decimal_places": 2}
MAX_ID = 2**31 - 1
_FORM_FIELDS = CheckoutForm.base_fields


def _max_length(name: str) -> int | None:
    return getattr(_FORM_FIELDS[name], "max_length", None)


class CheckoutUpdateInputSerializer(serializers.Serializer):
    """Any of the checkout's details. Types are checked here; the rules (required, lengths,
    email, country, whether the method ships this cart there) are CheckoutForm's, applied to
    the checkout as it will be after the change. A detail not sent and not yet set is not an
    error: a checkout may be filled in over several requests."""

    cart_view: CartView | None = None  # the cart as validate() read it, for the answer

    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("name"))
    company = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("company"))
    line1 = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("line1"))
    line2 = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("line2"))
    city = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("city"))
    city_area = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("city_area"))
    postal_code = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("postal_code"))
    sorting_code = serializers.CharField(required=False, allow_blank=True, max_length=_max_length("sorting_code"))
    country_area = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=_max_length("country_area"),
        help_text="State, province, prefecture…: see /api/v1/address-rules/{country}/.",
    )
    country = serializers.CharField(required=False, max_length=2, help_text="ISO 3166-1 alpha-2, e.g. GB; any country.")
    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=_max_length("phone"), help_text="Stored E.164."
    )
    billing_address = AddressFieldsSerializer(
        required=False,
        allow_null=True,
        help_text="Where the invoice is addressed; null (the default) for the shipping address.",
    )
    shipping_method = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="A shipping method id (see shipping_methods)."
    )
    voucher_code = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text='A discount code; "" removes it.'
    )

    def validate(self, attrs):
        checkout = self.context["checkout"]
        detail_names = [*CHECKOUT_DETAIL_FIELDS, "shipping_method"]
        data = {name: str(getattr(checkout, name) or "") for name in CHECKOUT_DETAIL_FIELDS}
        data["shipping_method"] = checkout.shipping_method_id or ""
        data.update({name: value for name, value in attrs.items() if name in detail_names})
        view = cart_view(checkout.cart)
        # Kept for the answer (checkout_session_summary): the update writes only the checkout.
        self.cart_view = view
        goods = cart_goods(view)
        form = CheckoutForm(
            data, weight_grams=goods.weight_grams, goods_after_discount=goods.subtotal, offer_methods=False
        )
        form.is_valid()
        # Only what the client sent, or what is already set, must be valid now.
        errors = {
            name: [str(message) for message in messages]
            for name, messages in form.errors.items()
            if name in attrs or (name in data and data[name] not in ("", None))
        }
        if errors:
            raise serializers.ValidationError(errors)
        changes = {name: form.cleaned_data[name] for name in attrs if name in detail_names}
        if changes.get("phone") and not str(changes["phone"]).startswith("+"):
            # Valid (or its error was raised above), but not yet E.164 when the address is
            # still incomplete: read with the country, as the form does once it is whole.
            # Without a country yet to read it with, kept: checked again when the address is whole.
            with contextlib.suppress(ValueError):
                changes["phone"] = phone_e164(str(changes["phone"]), form.cleaned_data.get("country") or None)
        if "billing_address" in attrs:
            # Validated by AddressFieldsSerializer (kernel.addresses); None: the shipping one.
            changes["billing_address"] = attrs["billing_address"] or {}
        code = attrs.get("voucher_code")
        if code is not None:
            changes["voucher_code"] = ""
            if code.strip():
                email = form.cleaned_data.get("email") or data["email"]
                try:
                    voucher = voucher_check(code, subtotal=goods.subtotal, email=email)
                except VoucherError as exc:
                    raise serializers.ValidationError({"voucher_code": [exc.message]}) from exc
                changes["voucher_code"] = voucher.code
        return changes


class PlaceOrderInputSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(
        max_length=64, help_text="The `fingerprint` of the checkout as the shopper reviewed it (GET checkout/<id>/)."
    )


class CheckoutAddressSerializer(AddressOutputSerializer):
    """The checkout's shipping address (kernel.addresses.ADDRESS_FIELDS), with the country's
    name and the lines it prints."""


class CheckoutLineSerializer(serializers.Serializer):
    cart_line_id = serializers.IntegerField()
    variant_id = serializers.IntegerField()
    sku = serializers.CharField()
    product_title = serializers.CharField()
    variant_title = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY)
    tax_rate = serializers.DecimalField(max_digits=6, decimal_places=4, help_text="A fraction: 0.2000 is 20 %.")
    tax_amount = serializers.DecimalField(**MONEY)


class ShippingOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price = serializers.DecimalField(**MONEY)


class CheckoutSerializer(serializers.Serializer):
    """A CheckoutSummary: the checkout priced now by checkout.pricing."""

    id = serializers.UUIDField(source="checkout.public_id")
    email = serializers.CharField(source="checkout.email")
    shipping_address = CheckoutAddressSerializer(source="checkout")
    billing_address = serializers.SerializerMethodField()
    shipping_method_id = serializers.IntegerField(source="checkout.shipping_method_id", allow_null=True)
    voucher_code = serializers.CharField(source="checkout.voucher_code")
    country = serializers.CharField(
        source="pricing.country", help_text="The country taxed for (SHOP_COUNTRY until chosen)."
    )
    currency = serializers.CharField(source="pricing.currency")
    prices_include_tax = serializers.BooleanField(source="pricing.prices_include_tax")
    tax_name = serializers.CharField(source="pricing.tax_name")
    lines = serializers.SerializerMethodField()
    subtotal = serializers.DecimalField(source="pricing.subtotal", **MONEY)
    discount = serializers.DecimalField(source="pricing.discount", **MONEY)
    shipping = serializers.DecimalField(source="pricing.shipping", **MONEY)
    shipping_tax = serializers.DecimalField(source="pricing.shipping_tax", **MONEY)
    tax = serializers.DecimalField(source="pricing.tax", **MONEY)
    total = serializers.DecimalField(source="pricing.total", **MONEY)
    shipping_methods = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()
    reservation_expires_at = serializers.DateTimeField(
        source="reserved_until", allow_null=True, help_text="When the stock held for it lapses (null: none held)."
    )
    fingerprint = serializers.SerializerMethodField()
    order_number = serializers.CharField(source="checkout.order.number", allow_null=True, default=None)
    created_at = serializers.DateTimeField(source="checkout.created_at")
    updated_at = serializers.DateTimeField(source="checkout.updated_at")

    @extend_schema_field(CheckoutLineSerializer(many=True))
    def get_lines(self, summary: CheckoutSummary):
        items = {item.line.pk: item for item in summary.cart.lines}
        return CheckoutLineSerializer(
            [
                {
                    "cart_line_id": line.cart_line_id,
                    "variant_id": line.variant_id,
                    "sku": items[line.cart_line_id].variant.sku,
                    "product_title": items[line.cart_line_id].variant.product.title,
                    "variant_title": items[line.cart_line_id].variant.title,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "line_total": line.line_total,
                    "discount": line.discount,
                    "tax_rate": line.tax_rate,
                    "tax_amount": line.tax_amount,
                }
                for line in summary.pricing.lines
            ],
            many=True,
        ).data

    @extend_schema_field(ShippingOfferSerializer(many=True))
    def get_shipping_methods(self, summary: CheckoutSummary):
        return ShippingOfferSerializer(
            [{"id": method.pk, "name": method.name, "price": price} for method, price in summary.shipping_methods],
            many=True,
        ).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_problems(self, summary: CheckoutSummary) -> list[str]:
        """What keeps it from being placed as shown: cart lines, voucher, shipping method."""
        problems = [f"{item.variant}: {item.problem}" for item in summary.cart.lines if item.problem]
        return problems + [p for p in (summary.voucher_problem, summary.shipping_problem) if p]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_missing(self, summary: CheckoutSummary) -> list[str]:
        """Details still to fill in before the order can be placed."""
        return checkout_missing(summary.checkout)

    @extend_schema_field(CheckoutAddressSerializer(allow_null=True))
    def get_billing_address(self, summary: CheckoutSummary):
        """The billing address; null when it is the shipping address."""
        billing = summary.checkout.billing_address
        if not billing:
            return None
        return CheckoutAddressSerializer({name: billing.get(name, "") for name in ADDRESS_FIELDS}).data

    def get_fingerprint(self, summary: CheckoutSummary) -> str:
        """Send it back to place-order: the order is placed only if nothing changed."""
        return summary.pricing.fingerprint()


class PlacedOrderSerializer(serializers.Serializer):
    order = OrderDetailSerializer()
    order_token = serializers.CharField(
        source="order.access_token", help_text="The order's access token: X-Order-Token for a guest."
    )
