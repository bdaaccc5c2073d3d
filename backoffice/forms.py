"""Forms of the back office's pages (refund, ship). They validate input only; the services
check everything again under their locks."""

import uuid
from decimal import Decimal

from django import forms

from kernel.money import exponent
from payments.models import Payment


class RefundForm(forms.Form):
    """Amount and reason of a refund of `payment`, and per order line the units to put back on
    hand. `left` is what is left to refund; restock fields only for a captured payment (a
    rejected one sold nothing)."""

    required_css_class = "required"

    amount = forms.DecimalField(max_digits=12, decimal_places=2)  # set per currency in __init__
    reason = forms.CharField(max_length=255, help_text="Why: kept with the refund and shown on the order's timeline.")
    # One refund per form shown: a new token each time the page is rendered, sent as the
    # refund's idempotency key, so the same form posted twice (a double click, a resubmission
    # after a timeout) finds the refund it made instead of making another.
    intent = forms.RegexField(
        regex=r"^[0-9a-f]{32}$",
        widget=forms.HiddenInput,
        initial=lambda: uuid.uuid4().hex,
        error_messages={"invalid": "This form has expired; reload the page."},
    )

    def __init__(self, *args, payment: Payment, left: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.left = left
        # The currency's precision, and never more than the column stores (2 places).
        self.fields["amount"] = forms.DecimalField(
            label=f"Amount ({payment.currency})",
            max_digits=12,
            decimal_places=min(exponent(payment.currency), 2),
            initial=left,
            help_text=f"At most {left} {payment.currency}, what is left to refund.",
        )
        self.restock_lines = []
        if payment.status == Payment.Status.CAPTURED:
            for line in payment.order.lines.all():
                left_to_restock = line.quantity - line.restocked_quantity
                if line.variant_id is None or left_to_restock <= 0:
                    continue
                name = f"restock_{line.pk}"
                title = " – ".join(filter(None, [line.product_title, line.variant_title]))
                self.fields[name] = forms.IntegerField(
                    label=f"Restock {line.sku}",
                    required=False,  # empty: none
                    min_value=0,
                    max_value=left_to_restock,
                    initial=0,
                    help_text=(
                        f"{title}: {line.quantity} sold, "
                        f"{line.restocked_quantity} restocked already. Units back on hand, "
                        f"0 to {left_to_restock}."
                    ),
                )
                self.restock_lines.append((name, line))

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("Enter an amount above zero.", code="not_positive")
        if amount > self.left:
            raise forms.ValidationError(
                "At most %(left)s %(currency)s is left to refund.",
                code="too_much",
                params={"left": self.left, "currency": self.payment.currency},
            )
        return amount

    @property
    def restock(self) -> dict[int, int]:
        """{order line id: units} of the lines with units to restock (after is_valid())."""
        return {line.pk: self.cleaned_data[name] for name, line in self.restock_lines if self.cleaned_data.get(name)}


class ShipmentForm(forms.Form):
    """Staff's shipment of `order`: carrier, tracking number, optional tracking URL, and per
    line with units left to ship a field "ship_<line id>" (0 to what is left, defaulting to
    all of it). Validates input only; orders.services.order_ship checks it again under the
    order's lock."""

    required_css_class = "required"

    carrier = forms.CharField(max_length=100)
    tracking_number = forms.CharField(max_length=100)
    tracking_url = forms.URLField(
        label="Tracking URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="Optional: the carrier's tracking page, shown to the customer.",
    )

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        self.line_fields = []
        for line in order.lines.all():
            left = line.quantity - line.shipped_quantity
            if left <= 0:
                continue
            name = f"ship_{line.pk}"
            title = " – ".join(filter(None, [line.product_title, line.variant_title]))
            self.fields[name] = forms.IntegerField(
                label=f"Ship {line.sku}",
                required=False,  # empty: none
                min_value=0,
                max_value=left,
                initial=left,
                help_text=f"{title}: {line.quantity} ordered, {line.shipped_quantity} shipped already; 0 to {left}.",
            )
            self.line_fields.append((name, line))

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.units:
            raise forms.ValidationError("Choose at least one unit to ship.", code="nothing_to_ship")
        return cleaned

    @property
    def units(self) -> dict[int, int]:
        """{order line id: units} of the lines with units to ship (after is_valid())."""
        return {line.pk: self.cleaned_data[name] for name, line in self.line_fields if self.cleaned_data.get(name)}
