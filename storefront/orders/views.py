from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from catalog.selectors import published_product
from orders.credit_notes import credit_note_generate, credit_note_of
from orders.invoices import InvoiceNotAllowed, invoice_available, invoice_generate
from orders.models import Order, OrderEvent
from orders.selectors import (
    imported_order_milestones,
    order_for_token,
    order_for_user,
    order_tax_lines,
    orders_for_user,
    review_eligibility,
)
from orders.services import ReviewNotAllowed, order_can_cancel, order_expire_if_due, review_submit
from payments.selectors import order_payment_attempts
from storefront.session import SESSION_JUST_PAID

from .forms import ReviewForm
from .lines import order_lines_for_display

# What the shopper's order page lists of an order's history: its milestones. Not staff's
# flags and notes, the emails sent or restocks; and no event's note but a cancellation's
# reason and a shipment's carrier and tracking number (payment notes carry provider ids).
_E = OrderEvent.Type
SHOPPER_EVENTS = frozenset(
    {
        _E.PLACED,
        _E.PAID,
        _E.PAYMENT_FAILED,
        _E.EXPIRED,
        _E.CANCELLED,
        _E.SHIPPED,
        _E.DELIVERED,
        _E.INVOICED,
        _E.CREDITED,
        _E.REFUNDED,
    }
)


@login_required
def order_list(request):
    page = Paginator(orders_for_user(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "orders/list.html", {"page": page})


def _detail(request, order, *, token: str = ""):
    if order is None:
        raise Http404("No such order")
    order = order_expire_if_due(order=order)
    invoice_url = None
    if invoice_available(order=order):
        # A guest's link carries the token; the owner's goes through the login.
        invoice_url = (
            reverse("orders:guest_invoice", args=[order.number, token])
            if token
            else reverse("orders:invoice", args=[order.number])
        )
    credit_notes = [
        (
            note,
            reverse("orders:guest_credit_note", args=[order.number, token, note.number])
            if token
            else reverse("orders:credit_note", args=[order.number, note.number]),
        )
        for note in order.credit_notes.select_related("invoice").order_by("year", "sequence")
    ]
    # The confirmation: the order paid in this session (storefront.payments) says thank you
    # once; coming back to the page later shows the order without it.
    just_paid = order.status == Order.Status.PAID and request.session.get(SESSION_JUST_PAID) == order.number
    if just_paid:
        del request.session[SESSION_JUST_PAID]
    lines = order_lines_for_display(order)
    return render(
        request,
        "orders/detail.html",
        # can_cancel: the "Cancel order" form, which posts to payments (a paid order is refunded).
        {
            "order": order,
            "lines": lines,
            "history": imported_order_milestones(order)
            if order.imported_at
            else [event for event in order.events.all() if event.type in SHOPPER_EVENTS],
            "payments": order_payment_attempts(order),
            "just_paid": just_paid,
            "invoice_url": invoice_url,
            "credit_notes": credit_notes,
            "can_cancel": order_can_cancel(order),
            # An imported order's tax lines, as the previous shop named them.
            "tax_lines": order_tax_lines(order),
        },
    )


@login_required
def order_detail(request, number: str):
    return _detail(request, order_for_user(user=request.user, number=number))


def guest_order_detail(request, number: str, token: str):
    return _detail(request, order_for_token(number=number, token=token), token=token)


def _invoice(order):
    if order is None:
        raise Http404("No such order")
    try:
        # Normally stored when the order was paid; issued and rendered now if it was not.
        invoice = invoice_generate(order=order)
    except InvoiceNotAllowed:
        raise Http404("This order has no invoice") from None
    return FileResponse(
        invoice.pdf.open("rb"), as_attachment=True, filename=f"{invoice.number}.pdf", content_type="application/pdf"
    )


@never_cache
@login_required
def order_invoice(request, number: str):
    return _invoice(order_for_user(user=request.user, number=number))


@never_cache
def guest_order_invoice(request, number: str, token: str):
    return _invoice(order_for_token(number=number, token=token))


def _credit_note(order, number: str):
    """The credit note `number` of `order` (whoever may see the order may download it)."""
    if order is None:
        raise Http404("No such order")
    note = credit_note_of(order=order, number=number)
    if note is None:
        raise Http404("No such credit note")
    note = credit_note_generate(credit_note=note)  # stored when it was emailed; again if lost
    return FileResponse(
        note.pdf.open("rb"), as_attachment=True, filename=f"{note.number}.pdf", content_type="application/pdf"
    )


@never_cache
@login_required
def order_credit_note(request, number: str, credit_note: str):
    return _credit_note(order_for_user(user=request.user, number=number), credit_note)


@never_cache
def guest_order_credit_note(request, number: str, token: str, credit_note: str):
    return _credit_note(order_for_token(number=number, token=token), credit_note)


@login_required
@require_http_methods(["GET", "POST"])
def review_create_view(request, handle: str):
    """A buyer's review of a product: the form (also shown on the product page) and its POST.
    Non-buyers and second reviews get 403 with the reason; bad input, the form's errors."""
    product = published_product(handle)
    if product is None:
        raise Http404("No such product")
    form = ReviewForm(request.POST or None)
    if request.method == "GET":
        eligibility = review_eligibility(user=request.user, product=product)
        if not eligibility.may_review:
            reason = "not_bought" if not eligibility.bought else "already_reviewed"
            return _review_refused(request, product, ReviewNotAllowed(reason))
    elif form.is_valid():
        try:
            review_submit(user=request.user, product=product, **form.cleaned_data)
        except ReviewNotAllowed as exc:
            return _review_refused(request, product, exc)
        except ValueError as exc:
            # The form rules these out already; kept so a new rule in the service shows as
            # a form error, never a server error.
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Thank you! Your review will appear once it has been checked."))
            return redirect(product.get_absolute_url())
    return render(request, "orders/review.html", {"product": product, "form": form})


def _review_refused(request, product, exc: ReviewNotAllowed):
    return render(request, "orders/review.html", {"product": product, "refusal": exc.message}, status=403)
