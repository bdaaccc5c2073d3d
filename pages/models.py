import nh3
from django.db import models
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _


def body_sanitised(html: str) -> str:
    """A page body as it is stored and shown: formatting kept (headings, paragraphs, lists,
    links, tables, emphasis), scripts, styles, event handlers (on* attributes), javascript:
    links and other active content removed (nh3's default allow-list, as product descriptions
    are cleaned); blank when nothing readable is left (an emptied editor sends "<p><br></p>")."""
    cleaned = nh3.clean(html or "").strip()
    return cleaned if strip_tags(cleaned).strip() or "<img" in cleaned else ""


class Page(models.Model):
    """A content page: its title and body (HTML, kept sanitised by save()), its address
    /pages/<slug>/, and whether shoppers see it (published) and find it in the footer
    (in_footer, by footer_position then title)."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(
        _("URL"),
        max_length=100,
        unique=True,
        help_text=_(
            "The last part of the page's address, /pages/…/. "
            "The checkout links the page whose URL is “terms” beside Place order."
        ),
    )
    body = models.TextField(
        _("body"),
        blank=True,
        help_text=_(
            "HTML: headings (h2, h3), paragraphs, lists, links, tables, bold and italic. "
            "Saved without scripts, styles or other active content."
        ),
    )
    published = models.BooleanField(_("published"), default=False, help_text=_("Shoppers can open the page."))
    in_footer = models.BooleanField(
        _("in the footer"), default=False, help_text=_("Listed in every page's footer once published.")
    )
    footer_position = models.PositiveSmallIntegerField(
        _("footer position"), default=0, help_text=_("Lower comes first.")
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["footer_position", "title"]
        verbose_name = _("content page")
        verbose_name_plural = _("content pages")

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # Whoever saves (the admin, a service, the shell, a data migration's model is not this
        # class and must clean for itself), the stored body is the sanitised one.
        self.body = body_sanitised(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("pages:detail", args=[self.slug])
