"""Reads of orders. Access is decided here: an order is visible to its owner, or to whoever
holds its access token; everyone else gets nothing (the view answers 404)."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from catalog.models import Product, ProductReview
from kernel.csvfiles import InvalidValue, datetime_parse

from .models import EmailLog, Invoice, Order, OrderEvent, OrderLine, Shipment, SweepRun

# Orders whose money was taken: paid and everything that can follow payment (shipped,
# delivered, refunded in part or in full). What reports count as sales, and what makes a
# shopper a buyer who may review.
PAID_OR_LATER = (
    Order.Status.PAID,
    Order.Status.PARTIALLY_FULFILLED,
    Order.Status.FULFILLED,
    Order.Status.DELIVERED,
    Order.Status.PARTIALLY_REFUNDED,
    Order.Status.REFUNDED,
)


def _with_details(orders: QuerySet[Order]) -> QuerySet[Order]:
    return orders.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
        Prefetch("shipments", queryset=Shipment.objects.order_by("created_at", "pk").prefetch_related("lines__line")),
    )


# Statuses whose follow-ups (invoice, confirmation) are still worth sending late: not after a
# refund, which has its own email.
FOLLOWUP_STATUSES = (
    Order.Status.PAID,
    Order.Status.PARTIALLY_FULFILLED,
    Order.Status.FULFILLED,
    Order.Status.DELIVERED,
)


def orders_missing_followups(*, paid_after, paid_before) -> QuerySet[Order]:
    """Orders paid between `paid_after` and `paid_before` (datetimes), still paid or
    shipped, whose invoice PDF or sent confirmation email is missing: their
    order_paid_followups task was lost (the broker was down when they were paid) or failed for
    good. Oldest first. One query."""
    invoiced = Invoice.objects.filter(order=OuterRef("pk")).exclude(pdf="")
    confirmed = EmailLog.objects.filter(kind="order_confirmation", key=OuterRef("number"), sent_at__isnull=False)
    return (
        Order.objects.filter(status__in=FOLLOWUP_STATUSES, paid_at__gt=paid_after, paid_at__lte=paid_before)
        .exclude(Exists(invoiced) & Exists(confirmed))
        .order_by("paid_at", "pk")
    )


def orders_for_user(user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).order_by("-created_at")


def order_tax_lines(order: Order) -> list[tuple[str, Decimal]]:
    """An imported order's tax lines as its source named them ([("NY State Tax 4%",
    Decimal("3.68")), …], up to Shopify's five, from source_data "Tax n Name" / "Tax n
    Value"); [] for our own orders and imported ones without any."""
    data = order.source_data or {}
    lines = []
    for n in range(1, 6):
        name, value = data.get(f"Tax {n} Name", ""), data.get(f"Tax {n} Value", "")
        if name or value:
            try:
                amount = Decimal(value or "0")
            except InvalidOperation:
                continue
            lines.append((name, amount))
    return lines


def order_for_user(*, user, number: str, details: bool = True) -> Order | None:
    """`user`'s order `number`, with its lines, events and shipments read (the order's page);
    with details=False, with its lines only (paying it)."""
    return _order_read(Order.objects.filter(user=user, number=number), details=details)


def order_for_token(*, number: str, token: str, details: bool = True) -> Order | None:
    """The order `number` whose access token is `token`; `details` as for order_for_user."""
    return _order_read(Order.objects.filter(number=number, access_token=token), details=details)


def _order_read(orders: QuerySet[Order], *, details: bool) -> Order | None:
    if details:
        return _with_details(orders).first()
    return orders.prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))).first()


def sweep_run_last() -> SweepRun | None:
    """The most recently started sweep run (finished or not), or None before the first."""
    return SweepRun.objects.order_by("-started_at", "-pk").first()


def order_counts_by_status() -> dict[str, int]:
    """How many orders are in each status (statuses with none are left out); one query."""
    rows = Order.objects.order_by().values_list("status").annotate(n=Count("pk"))
    return dict(rows)


def bought_lines(*, user, product: Product) -> QuerySet[OrderLine]:
    """Lines of `user`'s paid-or-later orders whose variant belongs to `product`."""
    return OrderLine.objects.filter(order__user=user, order__status__in=PAID_OR_LATER, variant__product=product)


@dataclass(frozen=True)
class ReviewEligibility:
    """Whether a shopper bought a product, and the status of their review of it (None: not
    written yet; else a ProductReview.Status value)."""

    bought: bool
    review_status: str | None

    @property
    def may_review(self) -> bool:
        return self.bought and self.review_status is None


def review_eligibility(*, user, product: Product) -> ReviewEligibility:
    """Whether `user` may review `product` (a buyer without a review yet): one query for a
    signed-in user, none for an anonymous one."""
    if not user.is_authenticated:
        return ReviewEligibility(bought=False, review_status=None)
    own_review = ProductReview.objects.filter(product=OuterRef("pk"), user=user).values("status")[:1]
    row = (
        Product.objects.filter(pk=product.pk)
        .annotate(bought=Exists(bought_lines(user=user, product=product)), review_status=Subquery(own_review))
        .values("bought", "review_status")
        .first()
    )
    if row is None:
        return ReviewEligibility(bought=False, review_status=None)
    return ReviewEligibility(bought=row["bought"], review_status=row["review_status"])


def order_awaiting_payment(*, user=None, numbers: Sequence[str] = ()) -> Order | None:
    """The latest order of `user` (None for a guest) or among `numbers` (the orders placed in
    this browser) still waiting for payment with its reservation live, or None: the cart
    page, emptied when the order was placed, points to it."""
    owned = Q(number__in=list(numbers))
    if user is not None and user.is_authenticated:
        owned |= Q(user=user)
    return (
        Order.objects.filter(owned, status=Order.Status.PENDING_PAYMENT, reservation_expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )


def imported_order_milestones(order: Order) -> list[OrderEvent]:
    """An imported order's history as the previous shop recorded it, oldest first: placed
    (created_at), paid (paid_at), shipped (Shopify's "Fulfilled at") and cancelled
    ("Cancelled at", both kept in source_data). Unsaved OrderEvents, for the pages that
    list an order's events; a date the source left out (or that does not parse) is skipped.
    Refunds have no date in Shopify's export: the summary shows the amount."""
    milestones = [OrderEvent(order=order, type=OrderEvent.Type.PLACED, created_at=order.created_at)]
    if order.paid_at:
        milestones.append(OrderEvent(order=order, type=OrderEvent.Type.PAID, created_at=order.paid_at))
    for column, kind in (("Fulfilled at", OrderEvent.Type.SHIPPED), ("Cancelled at", OrderEvent.Type.CANCELLED)):
        text = order.source_data.get(column, "")
        try:
            at = datetime_parse(text) if text else None
        except InvalidValue:
            at = None
        if at is not None:
            milestones.append(OrderEvent(order=order, type=kind, created_at=at))
    return sorted(milestones, key=lambda event: event.created_at)
