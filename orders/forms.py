"""Forms for input about orders that more than one top-layer package validates with: the
reason for a cancellation (the shopper's order page, the back office's cancel page, the API's
cancel endpoint takes its length). They validate input only; the services decide."""
from django import forms


class ShipmentForm(forms.Form):
    """Staff's shipment of `order`: carrier, tracking number, optional tracking URL, and per
    line with units left to ship a field "ship_<line id>" (0 to what is left, defaulting to
    all of it). Validates input only; orders.services.order_ship checks it again under the
    order's lock."""

    required_css_class = "required"

    carrier = forms.CharField(max_length=100)
    tracking_number = forms.CharField(max_length=100)
    tracking_url = forms.URLField(
        label="Tracking URL", max_length=500, required=False, assume_scheme="https",
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


class OrderCancelForm(forms.Form):
    """Why an order is cancelled (shopper or staff): required, kept on the order's timeline
    and with the refund."""

    reason = forms.CharField(
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 200}),
        help_text="Why: kept with the order and shown on its timeline.",
    )
