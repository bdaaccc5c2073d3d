"""Admin building blocks shared by the apps' admin modules.

Much of the shop's data is written only by services (stock ledger, reservations, payments,
order lines and events, carts): the back office lists and shows it, and never adds, edits or
deletes it.
"""

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Rows written only by services: listed and viewable, never added, edited or deleted.

    For a ModelAdmin as well as an InlineModelAdmin: ModelAdmin.has_add_permission takes
    (request), InlineModelAdmin.has_add_permission takes (request, obj); obj=None fits both.
    Put it before the admin class in the bases.
    """

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A read-only inline: no empty extra rows, no delete checkboxes."""

    extra = 0
    can_delete = False
