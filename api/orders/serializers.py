"""Output shapes of the orders API (money as decimal strings in the order's currency)."""

import copy

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.addresses import AddressOutputSerializer
from orders.models import CreditNote, Invoice, Order, OrderEvent, OrderLine, Shipment

MONEY = {"max_digits": 12, "decimal_places": 2}


class FieldsBuiltOnce:
    """For a ModelSerializer: the fields DRF works out from the model, again for every
    instance (about 40% of answering an order), are built once per class and copied for each
    instance, as Serializer copies its declared fields. They depend on the class alone: its
    Meta and declared fields (none of these builds a field from the context)."""

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()  # type: ignore[misc]
            type(self)._fields_built = built  # type: ignore[attr-defined]
        return copy.deepcopy(built)


class ChoiceLabelField(serializers.CharField):
    """The label of a choice in the request's language, as Model.get_<field>_display() gives
    it (the value itself when it is no choice), without that method's building a dict of
    every choice, each label translated, on every call."""

    def __init__(self, choices: type[models.TextChoices], **kwargs):
        self.choices = choices
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        try:
            return str(self.choices(value).label)
        except ValueError:
            return str(value)


class OrderListItemSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    status_display = ChoiceLabelField(Order.Status, source="status")

    class Meta:
        model = Order
        fields = ("number", "status", "status_display", "currency", "total", "created_at", "paid_at")


class OrderLineSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = (
            "id",
            "product_title",
            "variant_title",
            "sku",
            "quantity",
            "unit_price",
            "line_total",
            "tax_rate",
            "tax_amount",
            "shipped_quantity",
        )


class OrderEventSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    type_display = ChoiceLabelField(OrderEvent.Type, source="type")

    class Meta:
        model = OrderEvent
        fields = ("type", "type_display", "created_at")


class ShipmentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = ("carrier", "tracking_number", "tracking_url", "created_at")


class OrderAddressSerializer(AddressOutputSerializer):
    """An address of the order as it was placed (kernel.addresses.ADDRESS_FIELDS), with the
    country's name and the lines it prints."""


class InvoiceSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """An issued invoice; its PDF at orders/<number>/invoice/."""

    total = serializers.DecimalField(source="snapshot.total", read_only=True, **MONEY)

    class Meta:
        model = Invoice
        fields = ("number", "issued_at", "total")


class CreditNoteSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A credit note: `amount` credited (tax included, the order currency), `tax_amount` the
    tax within it; its PDF at orders/<number>/credit-notes/<credit note number>/."""

    invoice_number = serializers.CharField(source="invoice.number")

    class Meta:
        model = CreditNote
        fields = ("number", "invoice_number", "issued_at", "amount", "tax_amount", "reason")


class OrderDetailSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    status_display = ChoiceLabelField(Order.Status, source="status")
    shipping_address = OrderAddressSerializer()
    billing_address = OrderAddressSerializer(help_text="Where the invoice is addressed (the shipping one by default).")
    lines = OrderLineSerializer(many=True)
    events = OrderEventSerializer(many=True)
    shipments = ShipmentSerializer(many=True)
    invoice = serializers.SerializerMethodField()
    credit_notes = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = (
            "number",
            "status",
            "status_display",
            "email",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
            "total",
            "prices_include_tax",
            "refunded_total",
            "voucher_code",
            "shipping_method_name",
            "shipping_address",
            "billing_address",
            "reservation_expires_at",
            "paid_at",
            "created_at",
            "lines",
            "events",
            "shipments",
            "invoice",
            "credit_notes",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._invoices: dict[int, Invoice | None] = {}  # by order id: read once for both fields

    def _invoice(self, order: Order) -> Invoice | None:
        """The order's invoice: null until it is issued (when the payment's follow-up runs, or
        at the first download). An order never paid has none: no query for it (an order
        placed just now is answered with none)."""
        if order.paid_at is None:
            return None
        if order.pk not in self._invoices:
            self._invoices[order.pk] = Invoice.objects.filter(order=order).first()
        return self._invoices[order.pk]

    @extend_schema_field(InvoiceSerializer(allow_null=True))
    def get_invoice(self, order: Order) -> dict | None:
        invoice = self._invoice(order)
        return InvoiceSerializer(invoice).data if invoice else None

    @extend_schema_field(CreditNoteSerializer(many=True))
    def get_credit_notes(self, order: Order) -> list[dict]:
        # Every credit note corrects the order's invoice (CreditNote.invoice): none without it,
        # and no query then (a paid order until its follow-up has issued the invoice).
        if self._invoice(order) is None:
            return []
        notes = CreditNote.objects.filter(order=order).select_related("invoice").order_by("year", "sequence")
        return CreditNoteSerializer(notes, many=True).data
