"""Keeps the cached page links (pages.selectors.published_links) true: a page saved or deleted
retires them once its transaction commits. Connected in PagesConfig.ready."""

from django.db.models.signals import post_delete, post_save

from kernel.transactions import after_commit

from .models import Page
from .selectors import pages_changed


def _changed(sender, **kwargs) -> None:
    after_commit(pages_changed)


post_save.connect(_changed, sender=Page, dispatch_uid="pages-cache-save")
post_delete.connect(_changed, sender=Page, dispatch_uid="pages-cache-delete")
