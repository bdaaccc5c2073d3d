"""Stock in the back office.

Staff never edit on_hand or a reservation directly: every stock change goes through
inventory.services (which locks the row and writes the ledger), here through the
"Adjust stock" page of a variant and the "Release" action on reservations. StockItem,
StockMovement and Reservation are therefore read-only in the admin.

ProductVariant is registered here rather than in catalog/admin.py because its page is the
stock page: figures, ledger, the adjust form and the stock settings (backorder policy,
low-stock threshold, saved through inventory.services) all belong to inventory, and catalog
must not depend on inventory. The stock report is the back office's (backoffice/stock_report.py).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, IntegerField, QuerySet, Value
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from catalog.models import ProductVariant
from kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline

from .exceptions import BackordersOutstanding, InsufficientStock, StockBusy
from .forms import StockAdjustmentForm, VariantStockSettingsForm
from .models import BackInStockRequest, Reservation, StockItem, StockMovement
from .selectors import with_availability
from .services import stock_adjust, stock_policy_set, stock_release, stock_threshold_set

# The variant page shows the newest ledger rows only; the full ledger is a filtered
# StockMovement list, linked from the page. A busy SKU has thousands of rows.
LEDGER_INLINE_ROWS = 50

# Who may adjust stock: holders of the model permission "change stock item". The StockItem
# admin itself never edits on_hand (see StockItemAdmin); the permission names the capability.
ADJUST_STOCK_PERMISSION = "inventory.change_stockitem"
RELEASE_PERMISSION = "inventory.change_reservation"


class NewestLedgerFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[StockMovement]:
        # Cached: the formset asks several times and each slice would be a new query.
        if not hasattr(self, "_newest"):
            self._newest = super().get_queryset()[:LEDGER_INLINE_ROWS]
        return self._newest


class StockMovementInline(ReadOnlyTabularInline):
    model = StockMovement
    formset = NewestLedgerFormSet
    fields = ("created_at", "quantity", "reason", "on_hand_after", "actor", "reference", "note")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")
    verbose_name = "stock movement"
    verbose_name_plural = f"stock ledger (newest {LEDGER_INLINE_ROWS}, newest first)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockMovement]:
        return super().get_queryset(request).select_related("actor")


def _with_stock_figures(variants: QuerySet[ProductVariant]) -> QuerySet[ProductVariant]:
    """on_hand, reserved (live reservations) and available, computed in the list's own query."""
    return (
        with_availability(variants)
        .annotate(on_hand=Coalesce("stock__on_hand", Value(0), output_field=IntegerField()))
        .annotate(reserved=F("on_hand") - F("available"))
    )


class LowStockFilter(admin.SimpleListFilter):
    """Variants whose available units are at or below their low-stock threshold."""

    title = "low stock"
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [("yes", "At or below its threshold")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            # `available` is annotated by ProductVariantAdmin.get_queryset, in the same query.
            return queryset.filter(
                stock__low_stock_threshold__isnull=False,
                available__lte=F("stock__low_stock_threshold"),
            )
        return queryset


@admin.register(ProductVariant)
class ProductVariantAdmin(admin.ModelAdmin):
    form = VariantStockSettingsForm
    change_form_template = "admin/inventory/productvariant_change_form.html"
    change_list_template = "admin/inventory/productvariant_change_list.html"  # links the stock report
    list_display = ("sku", "product", "title", "price", "on_hand", "reserved", "available")
    list_select_related = ("product",)
    list_filter = (LowStockFilter, "stock__backorder_policy", "product__published")
    search_fields = ("sku", "product__title", "barcode")
    autocomplete_fields = ("product",)
    fields = (
        "product",
        "sku",
        ("option1_value", "option2_value", "option3_value"),
        ("price", "compare_at_price"),
        ("grams", "barcode", "position"),
        ("on_hand", "reserved", "available"),
        ("backorder_policy", "low_stock_threshold"),
    )
    readonly_fields = ("on_hand", "reserved", "available")
    inlines = (StockMovementInline,)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The stock settings live on StockItem and change only through inventory.services,
        # under the stock row's lock; on_hand is not part of this form at all.
        try:
            if "backorder_policy" in form.changed_data:
                stock_policy_set(variant=obj, backorder_policy=form.cleaned_data["backorder_policy"])
            if "low_stock_threshold" in form.changed_data:
                stock_threshold_set(variant=obj, low_stock_threshold=form.cleaned_data["low_stock_threshold"])
        except (BackordersOutstanding, StockBusy) as exc:
            # The form checked this already; a sale may have slipped in since. The variant's
            # own fields are saved, the stock setting is not: say so rather than fail.
            self.message_user(request, f"Stock settings not changed: {exc.message}", messages.ERROR)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProductVariant]:
        return _with_stock_figures(super().get_queryset(request))

    # An unsaved variant (the add page) has no annotations: "–".
    @admin.display(description="on hand", ordering="on_hand")
    def on_hand(self, variant: ProductVariant) -> int | str:
        return getattr(variant, "on_hand", "–")

    @admin.display(description="reserved", ordering="reserved")
    def reserved(self, variant: ProductVariant) -> int | str:
        return getattr(variant, "reserved", "–")

    @admin.display(description="available", ordering="available")
    def available(self, variant: ProductVariant) -> int | str:
        return getattr(variant, "available", "–")

    @admin.display(description="options")
    def title(self, variant: ProductVariant) -> str:
        return variant.title

    # Adjust stock ------------------------------------------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        # Before the default URLs: "<path:object_id>/" would swallow ".../adjust-stock/".
        return [
            path(
                "<int:object_id>/adjust-stock/",
                self.admin_site.admin_view(self.adjust_stock_view),
                name=f"{prefix}_adjust_stock",
            ),
        ] + super().get_urls()

    def has_adjust_stock_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADJUST_STOCK_PERMISSION)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_adjust_stock": self.has_adjust_stock_permission(request),
            "ledger_url": reverse("admin:inventory_stockmovement_changelist") + f"?variant__id__exact={object_id}",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_stock_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        variant = self.get_object(request, str(object_id))
        if variant is None:
            # Django's own "doesn't exist, perhaps it was deleted?" redirect: private admin
            # API, absent from django-stubs.
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))  # type: ignore[attr-defined]
        if not self.has_adjust_stock_permission(request):
            raise PermissionDenied
        form = StockAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                movement = stock_adjust(variant=variant, actor=request.user, **form.cleaned_data)
            except (InsufficientStock, StockBusy) as exc:
                form.add_error("quantity" if isinstance(exc, InsufficientStock) else None, exc.message)
            except ValueError as exc:
                # The form already rules these out; kept so a new rule in the service shows
                # up as a form error rather than a server error.
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"{variant.sku}: {movement.quantity:+d} ({movement.get_reason_display()}); "
                    f"{movement.on_hand_after} on hand now.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[variant.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust stock: {variant.sku}",
            "subtitle": str(variant),
            "opts": self.opts,
            "original": variant,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/inventory/adjust_stock.html", context)


@admin.register(StockItem)
class StockItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("sku", "variant_link", "on_hand")
    list_select_related = ("variant__product",)
    search_fields = ("variant__sku", "variant__product__title")
    ordering = ("variant__sku",)
    fields = ("variant_link", "on_hand")
    readonly_fields = fields

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, item: StockItem) -> str:
        return item.variant.sku

    @admin.display(description="variant (adjust stock there)")
    def variant_link(self, item: StockItem) -> str:
        url = reverse("admin:catalog_productvariant_change", args=[item.variant_id])
        return format_html('<a href="{}">{}</a>', url, item.variant)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "sku", "quantity", "reason", "on_hand_after", "actor", "reference")
    list_select_related = ("variant", "actor")
    list_filter = ("reason", "created_at")
    search_fields = ("variant__sku", "reference")
    fields = ("created_at", "variant", "quantity", "reason", "on_hand_after", "actor", "reference", "note")
    readonly_fields = fields

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, movement: StockMovement) -> str:
        return movement.variant.sku


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("sku", "quantity", "owner", "status", "expires_at", "created_at", "live")
    list_select_related = ("variant",)
    list_filter = ("status",)
    search_fields = ("owner", "variant__sku")
    fields = ("variant", "quantity", "owner", "status", "live", "expires_at", "created_at", "updated_at")
    readonly_fields = fields
    actions = ("release_reservations",)

    @admin.display(description="variant (SKU)", ordering="variant__sku")
    def sku(self, reservation: Reservation) -> str:
        return reservation.variant.sku

    @admin.display(description="live", boolean=True)
    def live(self, reservation: Reservation) -> bool:
        """Whether it still holds stock: active and not yet expired (the sweeper may lag)."""
        return reservation.status == Reservation.Status.ACTIVE and reservation.expires_at > timezone.now()

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RELEASE_PERMISSION)

    @admin.action(description="Release selected reservations", permissions=["release"])
    def release_reservations(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> None:
        # A hold is all-or-nothing per owner (an order reserves all its lines together), and
        # stock_release works by owner: releasing one selected row releases the owner's others.
        owners = sorted(set(queryset.filter(status=Reservation.Status.ACTIVE).values_list("owner", flat=True)))
        released = sum(stock_release(owner=owner) for owner in owners)
        self.message_user(
            request,
            f"Released {released} live reservation(s) of {len(owners)} owner(s)"
            + (f": {', '.join(owners)}." if owners else "."),
            messages.SUCCESS if owners else messages.WARNING,
        )
        # Inventory knows no orders, only the owner string. An order whose hold is released
        # stays "pending payment"; if it is then paid, checkout must find the stock again.
        held_for_orders = [owner for owner in owners if owner.startswith("order:")]
        if held_for_orders:
            self.message_user(
                request,
                f"{len(held_for_orders)} of them held stock for an order, which is still awaiting "
                "payment; cancel the order in Orders if it should not go ahead.",
                messages.WARNING,
            )


class PendingFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Waiting"), ("notified", "Emailed")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(notified_at__isnull=True)
        if self.value() == "notified":
            return queryset.filter(notified_at__isnull=False)
        return queryset


@admin.register(BackInStockRequest)
class BackInStockRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Shoppers waiting for a sold-out variant; written only by the shop page and the
    notifier (inventory.services), so read-only here."""

    list_display = ("email", "sku", "created_at", "notified_at", "waiting")
    list_select_related = ("variant",)
    list_filter = (PendingFilter, "created_at", "notified_at")
    search_fields = ("email", "variant__sku", "variant__product__title")
    date_hierarchy = "created_at"
    fields = ("variant", "email", "created_at", "notified_at")
    readonly_fields = fields

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, wish: BackInStockRequest) -> str:
        return wish.variant.sku

    @admin.display(description="waiting", boolean=True)
    def waiting(self, wish: BackInStockRequest) -> bool:
        return wish.notified_at is None
