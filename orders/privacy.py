"""Orders' part of a customer's personal data: what the data export shows of their orders,
and anonymising them when the account is deleted (checkout.privacy runs the whole flow).

Orders are kept for the books when their customer goes: the figures, lines, events and
shipments stay as they are, the personal fields are replaced. What stays:
- the shipping and billing country and state / province (country_area): tax is charged and
  reported per country and per subdivision (checkout's TaxRate), so the books need them; the
  city, district and postal code are not needed for that and are removed;
- the invoices already issued: they are documents and state what they stated
  (orders/invoices.py), as the law asks of them.
"""

from __future__ import annotations

from http import HTTPStatus

from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext

from kernel.errors import DomainError

from .models import EmailLog, Invoice, Order, OrderEvent, OrderLine, Shipment, new_access_token
from .services import SHIPPABLE, order_can_ship

# What replaces a required personal field (name, address line, city) of an anonymised order.
ANONYMISED = "Deleted"
ANONYMISED_NOTE = "Customer account deleted: personal details removed from the order."
# An address's fields as an anonymised order keeps them (country and country_area stay).
_ANONYMISED_ADDRESS = {
    "name": ANONYMISED,
    "company": "",
    "line1": ANONYMISED,
    "line2": "",
    "city": ANONYMISED,
    "city_area": "",
    "postal_code": "",
    "sorting_code": "",
    "phone": "",
}


class OrdersInProgress(DomainError):
    """The customer has orders that still need their details (`orders`): awaiting payment,
    or paid with units left to ship. `message` is for the customer (and staff)."""

    code = "orders_in_progress"
    http_status = HTTPStatus.CONFLICT
    message: str

    def __init__(self, orders: list[Order]):
        self.orders = orders
        numbers = ", ".join(order.number for order in orders)
        self.message = gettext(
            "The account cannot be deleted while orders are in progress (%(numbers)s). "
            "Once they have shipped or been cancelled (an unpaid order is cancelled by itself "
            "when its reservation runs out), it can be."
        ) % {"numbers": numbers}
        super().__init__(self.message)


def _in_progress(order: Order) -> bool:
    # Payment may still arrive and must find the order whole; a paid order must still ship to
    # its address. Anything else (shipped, delivered, cancelled, expired, failed, refunded)
    # needs no personal details any more.
    return order.status == Order.Status.PENDING_PAYMENT or order_can_ship(order)


def orders_in_progress(*, user) -> list[Order]:
    """The orders of `user` that stop the account from being deleted (see OrdersInProgress),
    oldest first, as last read: orders_anonymise_for_user decides again under the lock."""
    orders = (
        Order.objects.filter(user=user, status__in={Order.Status.PENDING_PAYMENT, *SHIPPABLE})
        .prefetch_related("lines")
        .order_by("created_at", "pk")
    )
    return [order for order in orders if _in_progress(order)]


def orders_anonymise_for_user(*, user, email: str, actor=None) -> int:
    """Detaches every order of `user` from the account and replaces its personal fields:
    the email becomes `email` (a placeholder such as "deleted-…@deleted.invalid"), the
    shipping name, first address line and city become ANONYMISED, the second line, postal
    code and phone are emptied, and so is the billing address's; the country and its
    state / province stay (see the module docstring). The guest
    link's token changes, so links in old emails stop opening the order. Each order gets a
    NOTE event (by `actor`: staff, or None for the customer) and the emails logged for it
    are re-addressed to `email`. Returns how many orders changed.

    Raises OrdersInProgress, changing nothing, if any order is awaiting payment or has units
    left to ship."""
    with transaction.atomic():
        # Locked in primary-key order, as order_lock and the sweep take order rows: a
        # payment or shipment racing the deletion finishes first and is seen here, or waits
        # and then finds the order already closed to it by this check.
        orders = list(Order.objects.filter(user=user).order_by("pk").select_for_update(of=("self",)))
        prefetch_related_objects(orders, "lines")
        busy = [order for order in orders if _in_progress(order)]
        if busy:
            raise OrdersInProgress(busy)
        now = timezone.now()
        for order in orders:
            Order.objects.filter(pk=order.pk).update(
                user=None,
                email=email,
                access_token=new_access_token(),
                **{
                    f"{kind}_{field}": value
                    for kind in ("shipping", "billing")
                    for field, value in _ANONYMISED_ADDRESS.items()
                },
                updated_at=now,
            )
        OrderEvent.objects.bulk_create(
            [OrderEvent(order=order, type=OrderEvent.Type.NOTE, actor=actor, note=ANONYMISED_NOTE) for order in orders]
        )
        EmailLog.objects.filter(order__in=orders).update(to=email)
        return len(orders)


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def orders_data_for_user(*, user) -> list[dict]:
    """The orders of `user` for the data export, newest first: figures as strings in the
    order's currency (e.g. "23.00"), times as ISO 8601, with lines, events (what happened
    when; no staff names), shipments and the invoice number. A fixed handful of queries."""
    orders = list(
        Order.objects.filter(user=user)
        .order_by("-created_at", "-pk")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
            Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
            Prefetch(
                "shipments", queryset=Shipment.objects.order_by("created_at", "pk").prefetch_related("lines__line")
            ),
        )
    )
    invoices = dict(Invoice.objects.filter(order__in=orders).values_list("order_id", "number"))
    return [
        {
            "number": order.number,
            "status": order.status,
            "created_at": _when(order.created_at),
            "paid_at": _when(order.paid_at),
            "email": order.email,
            "currency": order.currency,
            "subtotal": str(order.subtotal),
            "discount_total": str(order.discount_total),
            "shipping_total": str(order.shipping_total),
            "tax_total": str(order.tax_total),
            "total": str(order.total),
            "refunded_total": str(order.refunded_total),
            "prices_include_tax": order.prices_include_tax,
            "voucher_code": order.voucher_code,
            "shipping_method": order.shipping_method_name,
            "shipping_address": order.shipping_address,
            "billing_address": order.billing_address,
            "lines": [
                {
                    "product": line.product_title,
                    "variant": line.variant_title,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "line_total": str(line.line_total),
                    "tax_rate": str(line.tax_rate),
                    "tax_amount": str(line.tax_amount),
                    "shipped_quantity": line.shipped_quantity,
                }
                for line in order.lines.all()
            ],
            "events": [
                {"type": event.type, "note": event.note, "created_at": _when(event.created_at)}
                for event in order.events.all()
            ],
            "shipments": [
                {
                    "carrier": shipment.carrier,
                    "tracking_number": shipment.tracking_number,
                    "tracking_url": shipment.tracking_url,
                    "created_at": _when(shipment.created_at),
                    "lines": [{"sku": item.line.sku, "quantity": item.quantity} for item in shipment.lines.all()],
                }
                for shipment in order.shipments.all()
            ],
            "invoice": invoices.get(order.pk),
        }
        for order in orders
    ]
