from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from cart.models import MAX_LINE_QUANTITY
from catalog.models import Product
from catalog.search import RELEVANCE
from catalog.selectors import SORTS, ProductFilters

from .picker import option_count, variant_options


def _price_field(error: str) -> forms.DecimalField:
    """An optional price bound in currency units, 0 or more; `error` for any bad value."""
    return forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        error_messages=dict.fromkeys(PRICE_ERRORS, error),
    )


class SortField(forms.ChoiceField):
    """The listing's sort: one of its choices, or RELEVANCE even when the menu leaves it out."""

    def valid_value(self, value) -> bool:
        return value == RELEVANCE or super().valid_value(value)


# What DecimalField and its validators call the ways a price can be wrong.
PRICE_ERRORS = ("invalid", "min_value", "max_digits", "max_decimal_places", "max_whole_digits")


class ProductFilterForm(forms.Form):
    """The listing's query string. Invalid values are dropped (and shown as errors), never a 500."""

    # Each error is a whole sentence that names its field (the page lists them above the
    # form): a price is refused whatever is wrong with it (not a number, below 0, too many
    # digits or decimals) with one message.
    q = forms.CharField(
        required=False,
        max_length=200,
        label=_("Search"),
        error_messages={"max_length": _("The search can be at most %(limit_value)s characters long.")},
    )
    category = forms.SlugField(
        required=False, error_messages={"invalid": _("That category does not exist. Choose one from the list.")}
    )
    min_price = _price_field(_("Enter the lowest price as an amount of 0 or more, such as 10 or 9.50."))
    max_price = _price_field(_("Enter the highest price as an amount of 0 or more, such as 50 or 49.50."))
    in_stock = forms.BooleanField(required=False, label=_("In stock only"))
    sort = SortField(
        required=False,
        error_messages={"invalid_choice": _("That sort order is not one we offer. Choose one from the list.")},
        choices=[
            (RELEVANCE, _("Best match")),
            ("title", _("Name")),
            ("price", _("Price: low to high")),
            ("-price", _("Price: high to low")),
            ("newest", _("Newest")),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not (self.data.get("q") or "").strip():
            # Without words there is nothing to match best: the menu offers the other sorts
            # (a stale "?sort=relevance" still passes, and lists by name).
            self.fields["sort"].choices = [c for c in self.fields["sort"].choices if c[0] != RELEVANCE]

    def filters(self) -> ProductFilters:
        """The valid part of the query; invalid fields are left out of cleaned_data. Without
        a sort asked for, a search lists the best match first and the rest by name."""
        self.is_valid()
        data = self.cleaned_data
        q = (data.get("q") or "").strip()
        sort = data.get("sort") or (RELEVANCE if q else "title")
        return ProductFilters(
            q=q,
            category=data.get("category") or "",
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            in_stock=bool(data.get("in_stock")),
            sort=sort if sort in SORTS or sort == RELEVANCE else "title",
        )


class AddToCartForm(forms.Form):
    """Adds a variant of `product` to the cart. The variant comes from its options as the
    page's picker posts them (option1, option2, …: works without JavaScript), or from
    `variant` (its id) when no option is posted. Only this product's variants are valid."""

    variant = forms.ModelChoiceField(
        queryset=None,
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("That variant is not available.")},
    )
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)

    def __init__(self, *args, product: Product, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this product's variants are valid choices: a tampered id is a form error.
        self.fields["variant"].queryset = product.variants.all()
        self.variants = list(product.variants.all())
        self.option_count = option_count(product, self.variants)
        names = product.option_names
        self.option_fields = []
        for i in range(self.option_count):
            name = names[i] if i < len(names) else str(_("Option"))
            values = list(dict.fromkeys(variant_options(v, self.option_count)[i] for v in self.variants))
            field_name = f"option{i + 1}"
            self.fields[field_name] = forms.ChoiceField(
                label=name,
                required=False,
                choices=[(value, value) for value in values],
                error_messages={"invalid_choice": _("Choose a %(option)s from the list.") % {"option": name.lower()}},
            )
            self.option_fields.append(field_name)
        if len(self.variants) == 1:
            self.fields["variant"].initial = self.variants[0].pk

    def clean(self):
        cleaned = super().clean()
        posted = [name for name in self.option_fields if self.data.get(name)]
        if posted:
            missing = [name for name in self.option_fields if not cleaned.get(name)]
            for name in missing:
                if name not in self.errors:
                    self.add_error(name, _("Choose a %(option)s.") % {"option": self.fields[name].label.lower()})
            if missing:
                return cleaned
            wanted = tuple(cleaned[name] for name in self.option_fields)
            match = next((v for v in self.variants if variant_options(v, self.option_count) == wanted), None)
            if match is None:
                raise forms.ValidationError(_("That combination is not available: choose another."))
            cleaned["variant"] = match
        elif cleaned.get("variant") is None and "variant" not in self.errors:
            self.add_error("variant", _("Choose an option."))
        return cleaned
