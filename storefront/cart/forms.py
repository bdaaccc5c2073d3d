from django import forms

from cart.models import MAX_LINE_QUANTITY


class CartLineQuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)
