"""Inventory's shopper-facing page: "email me when it's back" on a sold-out variant, posted
from the product page's form."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from inventory.exceptions import VariantAvailable
from inventory.services import back_in_stock_subscribe

from .forms import BackInStockForm


@require_POST
def back_in_stock_view(request):
    form = BackInStockForm(request.POST)
    if not form.is_valid():
        # Shown on a small page of its own (the product page's form is one of several):
        # the shopper sees what was wrong and keeps what they typed.
        return render(request, "inventory/back_in_stock.html", {"form": form}, status=400)
    variant = form.cleaned_data["variant"]
    try:
        wish, _created = back_in_stock_subscribe(variant=variant, email=form.cleaned_data["email"])
    except VariantAvailable as exc:
        messages.info(request, exc.message)
    else:
        # The same answer for a repeated request: asking twice is harmless.
        messages.success(
            request,
            _("We'll email %(email)s once when %(variant)s is back in stock.")
            % {"email": wish.email, "variant": variant},
        )
    return redirect(variant.product.get_absolute_url())
