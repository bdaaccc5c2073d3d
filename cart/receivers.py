"""Merges a guest's session cart into their own cart when they sign in."""
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .models import Cart
from .services import CART_SESSION_KEY, cart_merge


@receiver(user_logged_in, dispatch_uid="cart_merge_on_login")
def merge_guest_cart(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    cart_id = request.session.pop(CART_SESSION_KEY, None)
    guest = Cart.objects.filter(pk=cart_id, user__isnull=True).first() if cart_id else None
    if guest is None:
        return
    target, _ = Cart.objects.get_or_create(user=user)
    notes = cart_merge(source=guest, target=target)
    if hasattr(request, "_messages"):
        messages.info(request, "We added the items from your guest cart to your cart.")
        for note in notes:
            messages.warning(request, note)
