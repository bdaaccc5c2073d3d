"""Forms for stock changes made by staff. They validate input only; the change itself is
inventory.services.stock_adjust, which checks stock under the row lock."""
from django import forms

from .models import StockMovement

# A sanity bound, not a business rule: a typo of a few extra digits should not become a
# receipt of millions of units (and on_hand is a 32-bit column).
MAX_ADJUSTMENT = 1_000_000

# Sales, restocks and imports come from their own flows, never from this form.
ADJUSTMENT_REASONS = (
    StockMovement.Reason.RECEIPT,
    StockMovement.Reason.ADJUSTMENT,
    StockMovement.Reason.RETURN,
)
# These only ever bring units in; removing units is a manual adjustment.
INBOUND_REASONS = (StockMovement.Reason.RECEIPT, StockMovement.Reason.RETURN)


class StockAdjustmentForm(forms.Form):
    required_css_class = "required"

    quantity = forms.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Units to add (positive) or remove (negative).",
    )
    reason = forms.ChoiceField(
        choices=[("", "---------")] + [(reason.value, reason.label) for reason in ADJUSTMENT_REASONS]
    )
    reference = forms.CharField(
        max_length=255, required=False, help_text="Supplier delivery note, RMA number, stock count, …"
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError("Enter a number of units other than zero.", code="zero")
        return quantity

    def clean(self) -> dict:
        cleaned = super().clean()
        quantity, reason = cleaned.get("quantity"), cleaned.get("reason")
        if quantity is not None and quantity < 0 and reason in INBOUND_REASONS:
            self.add_error(
                "quantity",
                forms.ValidationError(
                    "A %(reason)s adds units; to remove units choose “Manual adjustment”.",
                    code="inbound_negative",
                    params={"reason": StockMovement.Reason(reason).label.lower()},
                ),
            )
        return cleaned
