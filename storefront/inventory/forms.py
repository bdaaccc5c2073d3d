from django import forms

from catalog.models import ProductVariant


class BackInStockForm(forms.Form):
    """A shopper asks to be emailed when a sold-out variant is back. Only variants of
    published products are valid; anything else is a form error, never a server error."""

    variant = forms.ModelChoiceField(
        queryset=ProductVariant.objects.filter(product__published=True).select_related("product"),
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choose the variant you are waiting for.",
            "invalid_choice": "That product is not available.",
        },
    )
    email = forms.EmailField(
        label="Email me when it's back",
        error_messages={"required": "Enter your email address."},
    )
