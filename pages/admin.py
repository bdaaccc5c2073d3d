"""Content pages in the back office: list, search, the body as HTML with a preview of what
shoppers will see (the sanitised body, which is also what is saved)."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .models import Page, body_sanitised


class PageAdminForm(forms.ModelForm):
    class Meta:
        model = Page
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose
        widgets = {"body": forms.Textarea(attrs={"rows": 24, "cols": 100, "spellcheck": "true"})}

    def clean_body(self) -> str:
        # The form shows back what will be stored: scripts and event handlers already gone.
        return body_sanitised(self.cleaned_data["body"])


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    form = PageAdminForm
    list_display = ("title", "slug", "published", "in_footer", "footer_position", "updated_at")
    list_display_links = ("title",)
    list_editable = ("published", "in_footer", "footer_position")
    list_filter = ("published", "in_footer")
    search_fields = ("title", "slug", "body")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("preview", "updated_at")
    fieldsets = (
        (None, {"fields": ("title", "slug", "body")}),
        (_("Shown to shoppers"), {"fields": ("published", "in_footer", "footer_position", "updated_at")}),
        (_("Preview"), {"fields": ("preview",), "description": _("The saved body, as the shop shows it.")}),
    )

    @admin.display(description=_("preview"))
    def preview(self, page: Page) -> str:
        if not page.pk or not page.body:
            return "–"
        # Sanitised again on display: the row may predate the sanitising save.
        return format_html(
            '<div class="page-preview">{}</div>',
            mark_safe(body_sanitised(page.body)),
        )
