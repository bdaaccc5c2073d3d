from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import ProductReview

# Best first: "★★★★★ 5/5" … "★ 1/5".
RATING_CHOICES = [(n, "★" * n + f" {n}/5") for n in range(ProductReview.MAX_RATING, ProductReview.MIN_RATING - 1, -1)]


class ReviewForm(forms.Form):
    """A buyer's review. Anything but a whole number 1–5, or a blank text, is a form error."""

    rating = forms.TypedChoiceField(label=_("Rating"), choices=RATING_CHOICES, coerce=int, widget=forms.RadioSelect)
    title = forms.CharField(label=_("Title"), required=False, max_length=120)
    text = forms.CharField(label=_("Your review"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))
