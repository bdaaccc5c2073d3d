"""Users in the back office. People sign in with their email address; the username column
exists only because AbstractUser has it (User.save() copies the email into it), so the admin
never shows or asks for it.

Deleting a user and "Download personal data (JSON)" run flows across the apps
(checkout.privacy): the back office adds them (backoffice/accounts.py)."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.utils import timezone

from .models import User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        # The column is unique only as typed; "Ann@x.com" and "ann@x.com" would be two
        # accounts that the same person cannot tell apart when signing in.
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with that email address already exists.", code="unique")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with that email address already exists.", code="unique")
        return email


class ImportedFilter(admin.SimpleListFilter):
    """Accounts brought from another shop, and of those the ones still without a password
    (to invite: invite_customers)."""

    title = "origin"
    parameter_name = "origin"

    def lookups(self, request, model_admin):
        return (("imported", "Imported"), ("no_password", "Imported, no password yet"), ("here", "Signed up here"))

    def queryset(self, request, queryset):
        if self.value() == "imported":
            return queryset.filter(imported_at__isnull=False)
        if self.value() == "no_password":
            return queryset.filter(imported_at__isnull=False, password__startswith=UNUSABLE_PASSWORD_PREFIX)
        if self.value() == "here":
            return queryset.filter(imported_at__isnull=True)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "phone")}),
        (
            "Customer",
            {
                "fields": (
                    ("accepts_marketing", "marketing_consent_at"),
                    "accepts_sms_marketing",
                    "tax_exempt",
                    "tags",
                    "note",
                )
            },
        ),
        # Accounts brought from another shop (import_customers, invite_customers).
        ("Imported", {"fields": ("imported_at", "external_id", "invited_at"), "classes": ("collapse",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")},
        ),
    )
    readonly_fields = ("last_login", "date_joined", "marketing_consent_at", "imported_at", "external_id", "invited_at")
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", ImportedFilter, "accepts_marketing", "groups")
    search_fields = ("email", "first_name", "last_name", "tags")
    ordering = ("email",)

    def save_model(self, request, obj, form, change):
        # Consent is dated by when the shop learned of it: here, when staff record it.
        if "accepts_marketing" in form.changed_data:
            obj.marketing_consent_at = timezone.now() if obj.accepts_marketing else None
        super().save_model(request, obj, form, change)
