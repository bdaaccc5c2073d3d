"""Orders in the back office. Status, money and number change only through orders.services
(each change writes an OrderEvent), so they are read-only here; staff may correct the
contact and shipping details. Orders are never added or deleted in the admin: an order
without its reservation, or a lost one, is exactly what the shop promises never to have.

Sweep runs are the record of the expiry sweep (orders.services.sweep_run): read-only, with a
"Run the sweep now" button for holders of orders.run_sweep. The order list shows the last
sweep, so staff looking at a "pending payment" order long past its hold can see why.

Orders that need a person (a payment we could not accept, …) are flagged: filter the list by
"needs attention" and read the timeline.

What reaches higher apps is added by the back office (backoffice/orders.py): the order's
payments and the filter by gateway, shipping, cancelling with a refund, and the reports."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline
from kernel.money import format_money

from .admin_invoices import OrderInvoiceAdminMixin
from .admin_lifecycle import ArchivedFilter, OrderLifecycleAdminMixin, change_each
from .models import NOTE_CANCELLED_BY_STAFF, Order, OrderEvent, OrderLine, SweepRun
from .selectors import sweep_run_last
from .services import order_cancel, order_resolve_attention, sweep_run

RUN_SWEEP_PERMISSION = "orders.run_sweep"


class OrderLineInline(ReadOnlyTabularInline):
    model = OrderLine
    # The snapshot, not the live variant: what the customer bought at that price.
    fields = (
        "sku",
        "product_title",
        "variant_title",
        "quantity",
        "shipped_quantity",
        "restocked_quantity",
        "unit_price",
        "line_total",
    )
    readonly_fields = fields


class OrderEventInline(ReadOnlyTabularInline):
    model = OrderEvent
    fields = ("created_at", "type", "actor", "note")
    readonly_fields = fields
    verbose_name_plural = "timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")


class ImportedFilter(admin.SimpleListFilter):
    """Orders brought from the previous shop (orders.importer) or placed here."""

    title = "origin"
    parameter_name = "imported"

    def lookups(self, request, model_admin):
        return (("yes", "Imported (history)"), ("no", "Placed here"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(imported_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(imported_at__isnull=True)
        return queryset


@admin.register(Order)
class OrderAdmin(OrderLifecycleAdminMixin, OrderInvoiceAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/orders/order/change_list.html"
    # Money in its currency ("$84.00"), refunds under it; the attention flag only where it is
    # raised, so the exceptions stand out; and the list fits beside the filters at 1280 px.
    # Imported orders show by their number ("#1001") and the origin filter; no column of their
    # own: the list must fit 1280 px (tests/browser/test_admin_layout.py).
    list_display = ("number", "email", "status", "attention", "total_display", "created_at", "paid_at")
    list_filter = ("status", "needs_attention", ArchivedFilter, ImportedFilter, "created_at")
    # And by SKU of a line: get_search_results.
    search_fields = ("number", "email")
    date_hierarchy = "created_at"
    raw_id_fields = ("user",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("number", "status", "attention_state"),
                    ("user", "email"),
                    ("created_at", "paid_at", "reservation_expires_at"),
                )
            },
        ),
        (
            "Money",
            {
                "fields": (
                    "currency",
                    "subtotal",
                    ("discount_total", "voucher_code"),
                    "shipping_total",
                    ("tax_total", "prices_include_tax"),
                    "total",
                    "refunded_total",
                )
            },
        ),
        (
            "Shipping",
            {
                "fields": (
                    "shipping_method_name",
                    ("shipping_name", "shipping_company"),
                    "shipping_line1",
                    "shipping_line2",
                    ("shipping_postal_code", "shipping_city", "shipping_city_area"),
                    ("shipping_country_area", "shipping_country", "shipping_sorting_code"),
                    "shipping_phone",
                    "shipments",
                )
            },
        ),
        (
            # The address the invoice is made out to; the shipping address unless the shopper
            # gave another (an issued invoice keeps what it stated).
            "Billing",
            {
                "fields": (
                    ("billing_name", "billing_company"),
                    "billing_line1",
                    "billing_line2",
                    ("billing_postal_code", "billing_city", "billing_city_area"),
                    ("billing_country_area", "billing_country", "billing_sorting_code"),
                    "billing_phone",
                ),
                "classes": ("collapse",),
            },
        ),
        ("Invoice, credit notes and emails", {"fields": ("invoice_link", "credit_note_links", "emails_sent")}),
        # An imported order's source columns with no field of ours (orders.importer): read-only.
        ("Imported", {"fields": ("imported_at", "source_display"), "classes": ("collapse",)}),
        ("Technical", {"fields": ("checkout_token", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "imported_at",
        "source_display",
        "number",
        "status",
        "currency",
        "subtotal",
        "discount_total",
        "voucher_code",
        "shipping_total",
        "tax_total",
        "prices_include_tax",
        "total",
        "refunded_total",
        "attention_state",
        "shipping_method_name",
        "created_at",
        "paid_at",
        "reservation_expires_at",
        "checkout_token",
        "updated_at",
        "invoice_link",  # OrderInvoiceAdminMixin
        "credit_note_links",  # OrderInvoiceAdminMixin
        "emails_sent",
        "shipments",  # OrderLifecycleAdminMixin
    )
    inlines = (OrderLineInline, OrderEventInline)

    @admin.display(description="source columns")
    def source_display(self, order: Order) -> str:
        """The source's columns as "Column: value" lines, in a <pre> (escaped)."""
        if not order.source_data:
            return "—"
        text = "\n".join(f"{column}: {value}" for column, value in order.source_data.items())
        return format_html('<pre class="source-data">{}</pre>', text)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # An imported order is history: nothing of it is edited here.
        if obj is not None and obj.imported_at is not None:
            return [f.name for f in Order._meta.fields] + list(self.readonly_fields)
        return self.readonly_fields

    @admin.display(description="attention", ordering="needs_attention", empty_value="")
    def attention(self, order: Order) -> str:
        """Blank for an ordinary order; the flagged ones say so."""
        return (
            format_html('<span class="needs-attention">{}</span>', "Needs attention") if order.needs_attention else ""
        )

    @admin.display(description="needs attention")
    def attention_state(self, order: Order) -> str:
        """On the order's page: why is in the timeline."""
        if order.needs_attention:
            return format_html('<span class="needs-attention">{}</span> (see the timeline)', "Needs attention")
        return "No"

    @admin.display(description="total", ordering="total")
    def total_display(self, order: Order) -> str:
        """The total in its currency, and below it what was refunded, if anything."""
        total = format_money(order.total, order.currency)
        if not order.refunded_total:
            return total
        refunded = format_money(order.refunded_total, order.currency)
        return format_html('{}<br><span class="quiet">{} refunded</span>', total, refunded)

    actions = (
        "cancel_orders",
        "mark_delivered",
        "archive_orders",
        "resolve_attention",
        "restore_invoice_pdfs",
        "resend_confirmation",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Order], search_term: str):
        # Orders with a line of that SKU too, through EXISTS rather than "lines__sku" in
        # search_fields: a join would list an order once per matching line.
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            results |= queryset.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku__icontains=term)))
        return results, may_have_duplicates

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "last_sweep": sweep_run_last()}
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        # Write only what the form changed. A plain save() would write every column from the
        # copy loaded at the start of this request, so a payment captured meanwhile (status,
        # paid_at) would be silently undone.
        changed = [name for name in form.changed_data if name not in self.readonly_fields]
        if changed:
            obj.save(update_fields=[*changed, "updated_at"])

    @admin.action(description="Cancel selected orders (unpaid only)", permissions=["change"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        already = queryset.filter(status=Order.Status.CANCELLED).count()
        # unpaid_only, decided under the order's lock: orders cannot refund, so a paid order
        # (even one paid a moment ago) is left for "Cancel (and refund if paid)".
        cancelled = change_each(
            self,
            request,
            queryset.exclude(status=Order.Status.CANCELLED),
            lambda order: order_cancel(
                order=order, actor=request.user, reason_code=NOTE_CANCELLED_BY_STAFF, unpaid_only=True
            ),
        )
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} order(s).", messages.SUCCESS)
        if already:
            self.message_user(request, f"{already} order(s) were already cancelled.", messages.INFO)

    @admin.action(description="Mark selected orders as dealt with (clear “needs attention”)", permissions=["change"])
    def resolve_attention(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        flagged = queryset.filter(needs_attention=True).order_by("pk")
        count = 0
        for order in flagged:
            order_resolve_attention(order=order, actor=request.user)
            count += 1
        self.message_user(request, f"Cleared {count} order(s).", messages.SUCCESS)


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/orders/sweeprun/change_list.html"
    list_display = ("started_at", "duration", "trigger", "reservations_expired", "orders_expired", "error_summary")
    list_filter = ("trigger",)
    date_hierarchy = "started_at"
    fields = ("started_at", "finished_at", "duration", "trigger", "reservations_expired", "orders_expired", "error")
    readonly_fields = fields

    @admin.display(description="duration")
    def duration(self, run: SweepRun) -> str:
        if run.duration is None:
            return "not finished"  # still running, or its process died
        return f"{run.duration.total_seconds():.2f} s"

    @admin.display(description="error")
    def error_summary(self, run: SweepRun) -> str:
        first_line = run.error.splitlines()[0] if run.error else ""
        return first_line[:120]

    def has_run_sweep_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_SWEEP_PERMISSION)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        # Before the default URLs: "<path:object_id>/" would swallow "run/".
        return [
            path("run/", self.admin_site.admin_view(self.run_sweep_view), name=f"{prefix}_run"),
        ] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "last_sweep": sweep_run_last(),
            "can_run_sweep": self.has_run_sweep_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def run_sweep_view(self, request: HttpRequest) -> HttpResponse:
        # POST only: a sweep changes rows, so a link, a prefetch or a crawler must not run it.
        # admin_view has already sent non-staff to the login and checked the CSRF token.
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_run_sweep_permission(request):
            raise PermissionDenied
        try:
            run = sweep_run(trigger=SweepRun.Trigger.ADMIN)
        except DatabaseError as exc:
            # sweep_run has recorded the failure on the run; beat tries again within a minute.
            self.message_user(request, f"The sweep failed: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Expired {run.reservations_expired} reservations and {run.orders_expired} orders.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
