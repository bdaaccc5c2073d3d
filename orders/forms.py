"""Forms for input about orders that more than one top-layer package validates with: the
reason for a cancellation (the shopper's order page, the back office's cancel page, the API's
cancel endpoint takes its length). They validate input only; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _


class OrderCancelForm(forms.Form):
    """Why an order is cancelled (shopper or staff): required, kept on the order's timeline
    and with the refund."""

    reason = forms.CharField(
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 200}),
        label=_("Reason"),
        help_text=_("Why: kept with the order and shown on its timeline."),
    )
