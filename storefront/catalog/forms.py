from decimal import Decimal

from django import forms

from cart.models import MAX_LINE_QUANTITY
from catalog.models import Product
from catalog.selectors import SORTS, ProductFilters


class ProductFilterForm(forms.Form):
    """The listing's query string. Invalid values are dropped (and shown as errors), never a 500."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    category = forms.SlugField(required=False)
    min_price = forms.DecimalField(required=False, min_value=Decimal("0"), max_digits=12, decimal_places=2)
    max_price = forms.DecimalField(required=False, min_value=Decimal("0"), max_digits=12, decimal_places=2)
    in_stock = forms.BooleanField(required=False, label="In stock only")
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("title", "Name"),
            ("price", "Price: low to high"),
            ("-price", "Price: high to low"),
            ("newest", "Newest"),
        ],
    )

    def filters(self) -> ProductFilters:
        """The valid part of the query; invalid fields are left out of cleaned_data."""
        self.is_valid()
        data = self.cleaned_data
        sort = data.get("sort") or "title"
        return ProductFilters(
            q=(data.get("q") or "").strip(),
            category=data.get("category") or "",
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            in_stock=bool(data.get("in_stock")),
            sort=sort if sort in SORTS else "title",
        )


class AddToCartForm(forms.Form):
    variant = forms.ModelChoiceField(queryset=None, empty_label=None, widget=forms.RadioSelect)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)

    def __init__(self, *args, product: Product, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this product's variants are valid choices: a tampered id is a form error.
        self.fields["variant"].queryset = product.variants.all()
        self.fields["variant"].label_from_instance = lambda v: v.title or "Default"
        variants = list(product.variants.all())
        if len(variants) == 1:
            self.fields["variant"].widget = forms.HiddenInput()
            self.fields["variant"].initial = variants[0].pk
        else:
            first_available = next((v for v in variants if getattr(v, "available", 1) > 0), None)
            if first_available:
                self.fields["variant"].initial = first_available.pk
