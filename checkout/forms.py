from django import forms

from .models import ShippingMethod

COUNTRIES = [
    ("US", "United States"), ("CA", "Canada"), ("GB", "United Kingdom"), ("IE", "Ireland"),
    ("DE", "Germany"), ("FR", "France"), ("NL", "Netherlands"), ("BE", "Belgium"),
    ("ES", "Spain"), ("IT", "Italy"), ("SE", "Sweden"), ("DK", "Denmark"), ("AT", "Austria"),
    ("CH", "Switzerland"), ("PL", "Poland"), ("IN", "India"), ("AU", "Australia"),
    ("NZ", "New Zealand"), ("JP", "Japan"), ("SG", "Singapore"),
]


class CheckoutForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=200, label="Full name")
    line1 = forms.CharField(max_length=255, label="Address")
    line2 = forms.CharField(max_length=255, required=False, label="Address line 2")
    city = forms.CharField(max_length=120)
    postal_code = forms.CharField(max_length=20)
    country = forms.ChoiceField(choices=COUNTRIES)
    phone = forms.CharField(max_length=40, required=False)
    shipping_method = forms.ModelChoiceField(
        queryset=ShippingMethod.objects.filter(active=True), empty_label=None, widget=forms.RadioSelect
    )

    def session_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["shipping_method"] = data["shipping_method"].pk
        return data


class PlaceOrderForm(forms.Form):
    # What the shopper reviewed; place-order refuses if the cart no longer matches it.
    fingerprint = forms.CharField(max_length=64, widget=forms.HiddenInput)
