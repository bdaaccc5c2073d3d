"""Merges a guest's session cart into their own cart when they sign in."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from cart.services import cart_for_shopper, cart_merge

from .session import CART_SESSION_KEY


@receiver(user_logged_in, dispatch_uid="cart_merge_on_login")
def merge_guest_cart(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    guest = cart_for_shopper(user=None, guest_cart_id=request.session.pop(CART_SESSION_KEY, None))
    if guest is None:
        return
    notes = cart_merge(source=guest, target=cart_for_shopper(user=user, create=True))
    if hasattr(request, "_messages"):
        messages.info(request, "We added the items from your guest cart to your cart.")
        for note in notes:
            messages.warning(request, note)
