from django import forms
from django.utils.translation import gettext_lazy as _


class PlaceOrderForm(forms.Form):
    # What the shopper reviewed; place-order refuses if the checkout no longer matches it.
    fingerprint = forms.CharField(max_length=64, widget=forms.HiddenInput)


class VoucherForm(forms.Form):
    code = forms.CharField(max_length=40, label=_("Discount code"), strip=True)
