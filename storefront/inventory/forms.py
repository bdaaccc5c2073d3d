from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import ProductVariant


class BackInStockForm(forms.Form):
    """A shopper asks to be emailed when a sold-out variant is back. Only variants of
    published products are valid; anything else is a form error, never a server error."""

    variant = forms.ModelChoiceField(
        queryset=ProductVariant.objects.filter(product__published=True).select_related("product"),
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Choose the variant you are waiting for."),
            "invalid_choice": _("That product is not available."),
        },
    )
    email = forms.EmailField(
        label=_("Email me when it's back"),
        error_messages={"required": _("Enter your email address.")},
    )
