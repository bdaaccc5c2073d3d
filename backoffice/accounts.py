"""The user pages of the back office that run flows across the apps, added to accounts' own
UserAdmin (accounts/admin.py).

Deleting a user (the delete page or the "Delete selected" action) runs the same flow as a
customer deleting their own account (checkout.privacy.customer_delete): orders are kept
anonymised, not blocked or lost. "Download personal data (JSON)" gives what the customer's
own download gives (checkout.privacy.customer_data). "Export selected customers (Shopify
CSV)" writes the selected customers as export_customers does (staff accounts left out)."""

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse

from accounts import admin as accounts_admin
from accounts.models import User
from checkout.privacy import customer_data, customer_delete
from kernel.http import json_attachment
from orders.customer_export import CUSTOMER_COLUMNS, customer_rows, customers_to_export
from orders.privacy import OrdersInProgress, orders_in_progress

from .exports import migration_csv_download


class UserAdmin(accounts_admin.UserAdmin):
    actions = ["download_personal_data", "export_shopify_csv"]

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Not Django's cascade but customer_delete deletes a user, by its own rules: it
        # removes the cart (whose admin is read-only, which is what used to refuse the
        # deletion of anyone who ever had a cart), addresses, checkout sessions and reviews,
        # and keeps the orders anonymised. The permission to delete users is all it needs.
        perms_needed = set()
        for user in objs:
            for order in orders_in_progress(user=user):
                protected.append(
                    f"Order {order.number} of {user.email} is {order.get_status_display().lower()}: "
                    "ship or cancel it before deleting the account"
                )
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        customer_delete(user=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for user in queryset.order_by("pk"):
            customer_delete(user=user, actor=request.user)

    def delete_view(self, request: HttpRequest, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except OrdersInProgress as exc:
            # An order was placed between the confirmation page and the click. The view's
            # transaction is rolled back: nothing deleted, nothing logged.
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

    def response_action(self, request: HttpRequest, queryset):
        try:
            # One transaction for the action, as delete_view has one: "Delete selected"
            # deletes every selected user (and logs it) or none.
            with transaction.atomic():
                return super().response_action(request, queryset)
        except OrdersInProgress as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Download personal data (JSON)", permissions=["change"])
    def download_personal_data(self, request: HttpRequest, queryset):
        users = list(queryset.order_by("pk")[:2])
        if len(users) != 1:
            self.message_user(request, "Select one user to download their personal data.", messages.WARNING)
            return None
        user = users[0]
        return json_attachment(customer_data(user=user), filename=f"personal-data-user-{user.pk}.json")

    @admin.action(description="Export selected customers (Shopify CSV)", permissions=["view"])
    def export_shopify_csv(self, request: HttpRequest, queryset) -> StreamingHttpResponse:
        # As export_customers writes them: by Customer ID, staff accounts left out.
        return migration_csv_download(
            header=CUSTOMER_COLUMNS,
            rows=customer_rows(customers_to_export(queryset.order_by())),
            filename="customers_export.csv",
        )
