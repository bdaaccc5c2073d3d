"""A customer's personal data across the apps: deleting an account, and exporting what the
shop holds about it. Both reach every app that keeps a customer's data, so they live in the
highest of them (DESIGN.md); each app does its own part through its own services:

    accounts   tokens revoked, sessions and addresses deleted, the user deleted
    cart       the cart deleted, its stock hold released
    orders     orders kept for the books, detached and anonymised (orders/privacy.py)
    checkout   checkout sessions deleted, voucher redemptions anonymised (here)
    catalog    product reviews are deleted with the user (their foreign key cascades): a
               review is the customer's own words under their name, and keeping it
               anonymised would need a review without an author.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.selectors import user_data
from accounts.services import STAFF_SELF_DELETE, AccountError, password_confirm, user_delete
from cart.services import cart_delete_for_user
from inventory.services import back_in_stock_forget
from orders.privacy import orders_anonymise_for_user, orders_data_for_user

from .models import CheckoutSession, VoucherRedemption

User = get_user_model()


def anonymous_email() -> str:
    """A placeholder address for the orders of a deleted account: one per deletion, so the
    books can still tell that several orders had one customer, and never deliverable
    (.invalid is reserved for that, RFC 2606)."""
    return f"deleted-{secrets.token_hex(8)}@deleted.invalid"


def customer_delete(*, user, actor=None) -> None:
    """Deletes the account `user` and the personal data the shop holds about it: the user,
    addresses, cart (its stock hold released), checkout sessions, back-in-stock requests,
    product reviews, stored
    sessions and refresh tokens (access tokens stop working with the account). Orders stay
    for the books, detached and anonymised with an event by `actor` (staff, or None when the
    customer asked); invoices already issued stay as issued. All or nothing.

    Deleting an account that is already gone does nothing (a double click, the customer and
    staff at once). Raises OrdersInProgress (orders.privacy), deleting nothing, while an
    order awaits payment or has units left to ship."""
    with transaction.atomic():
        # The cart first: Place order locks the cart before it inserts an order for the user,
        # so taking the cart before the user row means a racing Place order finishes first
        # (and its order is then seen, and refused, below) instead of deadlocking with us.
        cart_delete_for_user(user=user)
        # Then the user row: two deletions of one account run one after the other, and no
        # order, address or token can be added for the user until this commits.
        locked = list(User._default_manager.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        if not locked:
            return
        email = anonymous_email()
        # Before the orders are detached: a redemption is found through its order's user too.
        VoucherRedemption.objects.filter(Q(user=user) | Q(order__user=user)).update(user=None, email=email)
        CheckoutSession.objects.filter(user=user).delete()
        back_in_stock_forget(email=user.email)
        orders_anonymise_for_user(user=user, email=email, actor=actor)
        user_delete(user=user)


def customer_delete_own(*, user, password: str) -> None:
    """The customer deletes their own account (customer_delete), confirming with their
    current password. A staff account is deleted by another administrator in the admin.

    Raises AccountError(code="wrong_password", field="password") for a wrong password,
    AccountError(code="staff_account") for staff, OrdersInProgress as customer_delete does;
    nothing is deleted then."""
    password_confirm(user=user, password=password)
    if user.is_staff or user.is_superuser:
        raise AccountError(STAFF_SELF_DELETE, code="staff_account")
    customer_delete(user=user)


def customer_data(*, user) -> dict:
    """Everything the shop holds about `user` that a person can read, as JSON-ready values:
    {"exported_at", "profile", "addresses", "orders"} (accounts.selectors.user_data,
    orders.privacy.orders_data_for_user): money as strings in the order's currency, times as
    ISO 8601. Never the password hash or tokens."""
    return {
        "exported_at": timezone.now().isoformat(),
        **user_data(user=user),
        "orders": orders_data_for_user(user=user),
    }
