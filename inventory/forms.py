"""Forms for stock changes and settings made by staff on the variant's stock page
(inventory/admin.py). They validate input only; the change itself is an inventory service,
which checks stock under the row lock."""

from typing import Any

from django import forms

from catalog.models import ProductVariant

from .models import StockItem, StockMovement
from .selectors import backorders_owed, stock_settings

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

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
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


class VariantStockSettingsForm(forms.ModelForm):
    """The variant's admin form plus its stock settings (backorder policy, low-stock
    threshold), which live on StockItem: ProductVariantAdmin.save_model hands them to
    inventory.services. on_hand is deliberately not here: it changes only by adjustment."""

    backorder_policy = forms.ChoiceField(
        choices=StockItem.BackorderPolicy.choices,
        initial=StockItem.BackorderPolicy.DENY,
        help_text="“Keep selling” lets buyers order it below zero; the units are owed to them.",
    )
    low_stock_threshold = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ADJUSTMENT,
        help_text="Email staff when the available units fall to this number or below. Empty: never.",
    )

    class Meta:
        model = ProductVariant
        # The variant's own fields; ProductVariantAdmin.fields lays them out (and the stock
        # settings declared above). Named, so that a field added to the model is not editable
        # here until someone decides it should be.
        fields = (
            "product",
            "sku",
            "option1_value",
            "option2_value",
            "option3_value",
            "price",
            "compare_at_price",
            "grams",
            "barcode",
            "position",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            current = stock_settings(self.instance.pk)
            self.initial.setdefault("backorder_policy", current.backorder_policy)
            self.initial.setdefault("low_stock_threshold", current.low_stock_threshold)

    def clean_backorder_policy(self) -> str:
        policy = self.cleaned_data["backorder_policy"]
        if policy == StockItem.BackorderPolicy.DENY and self.instance.pk:
            # A friendly early answer; stock_policy_set checks again under the row lock.
            owed = backorders_owed(self.instance.pk)
            if owed > 0:
                raise forms.ValidationError(
                    "%(owed)s unit(s) are owed to buyers on backorder: receive stock before "
                    "you stop selling it when sold out.",
                    code="backorders_outstanding",
                    params={"owed": owed},
                )
        return policy
