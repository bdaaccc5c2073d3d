"""The shipping details of a checkout and the rules they must meet (address, country, a
method that ships this cart there): one form, used by the checkout pages
(storefront.checkout) and the checkout API (api.checkout), so both accept exactly the same
details. It validates input only; pricing and placing are checkout's services."""

from decimal import Decimal
from typing import cast

from django import forms
from django.conf import settings
from django.db.models import prefetch_related_objects

from .exceptions import MESSAGES
from .models import ShippingMethod
from .pricing import shipping_price
from .selectors import shipping_methods_for

COUNTRIES = [
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("SE", "Sweden"),
    ("DK", "Denmark"),
    ("AT", "Austria"),
    ("CH", "Switzerland"),
    ("PL", "Poland"),
    ("IN", "India"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("JP", "Japan"),
    ("SG", "Singapore"),
]
COUNTRY_NAMES = dict(COUNTRIES)


class CheckoutForm(forms.Form):
    """Contact, address and shipping method. Offers only the methods that can ship this cart
    (`weight_grams`) to the country chosen (or, before one is chosen, the initial one), each
    with its price for it; a method that cannot (another country, too heavy, switched off
    meanwhile) is refused with a clear error rather than a bare "invalid choice".

    With `offer_methods=False` (details only validated, never shown: the review, Place order,
    the API) the offers are not listed, three queries saved; validation is the same.
    """

    email = forms.EmailField()
    name = forms.CharField(max_length=200, label="Full name")
    line1 = forms.CharField(max_length=255, label="Address")
    line2 = forms.CharField(max_length=255, required=False, label="Address line 2")
    city = forms.CharField(max_length=120)
    postal_code = forms.CharField(max_length=20)
    country = forms.ChoiceField(choices=COUNTRIES)
    phone = forms.CharField(max_length=40, required=False)
    shipping_method = forms.ModelChoiceField(
        queryset=ShippingMethod.objects.all(),
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": MESSAGES["shipping_inactive"]},
    )

    def __init__(
        self,
        *args,
        weight_grams: int = 0,
        goods_after_discount: Decimal = Decimal("0"),
        offer_methods: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.weight_grams = weight_grams
        self.goods_after_discount = goods_after_discount
        self.shipping_unavailable = False
        if offer_methods:
            self._offer_methods()

    def _offer_methods(self) -> None:
        offers = shipping_methods_for(
            country=self._country(), weight_grams=self.weight_grams, goods_after_discount=self.goods_after_discount
        )
        # Only the methods that can take this cart there are shown; validation (clean) still
        # accepts any method id and explains why one cannot be used.
        cast(forms.ModelChoiceField, self.fields["shipping_method"]).choices = [
            (method.pk, f"{method.name} – {'free' if price == 0 else f'{price} {settings.SHOP_CURRENCY}'}")
            for method, price in offers
        ]
        self.shipping_unavailable = not offers

    def _country(self) -> str:
        if self.is_bound:
            posted = self.data.get(self.add_prefix("country"))
            if posted in COUNTRY_NAMES:
                return posted
        return self.initial.get("country") or self.fields["country"].initial or settings.SHOP_COUNTRY

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        method, country = cleaned.get("shipping_method"), cleaned.get("country")
        if method is not None and country:
            # Read once what pricing reads of the method: checkout prices this same object
            # again (Place order), and reads nothing more then.
            bands = ["bands"] if method.kind == ShippingMethod.Kind.WEIGHT else []
            prefetch_related_objects([method], "countries", *bands)
            price = shipping_price(
                method,
                country=country,
                weight_grams=self.weight_grams,
                goods_after_discount=self.goods_after_discount,
            )
            if price is None:
                message = (
                    MESSAGES["shipping_inactive"]
                    if not method.active
                    else MESSAGES["shipping_unavailable"].format(
                        method=method.name, country=COUNTRY_NAMES.get(country, country)
                    )
                )
                self.add_error("shipping_method", message)
        return cleaned

    def session_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["shipping_method"] = data["shipping_method"].pk
        return data
