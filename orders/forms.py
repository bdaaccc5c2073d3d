from django import forms

from catalog.models import ProductReview

# Best first: "★★★★★ 5/5" … "★ 1/5".
RATING_CHOICES = [
    (n, "★" * n + f" {n}/5") for n in range(ProductReview.MAX_RATING, ProductReview.MIN_RATING - 1, -1)
]


class ReviewForm(forms.Form):
    """A buyer's review. Anything but a whole number 1–5, or a blank text, is a form error."""

    rating = forms.TypedChoiceField(choices=RATING_CHOICES, coerce=int, widget=forms.RadioSelect)
    title = forms.CharField(required=False, max_length=120)
    text = forms.CharField(label="Your review", max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))


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
