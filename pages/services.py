"""Writes of the content pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .models import Page


@dataclass(frozen=True)
class PageDraft:
    """A page to create: `body` is HTML (sanitised when saved)."""

    slug: str
    title: str
    body: str
    in_footer: bool = True
    footer_position: int = 0
    published: bool = True


def pages_ensure(drafts: list[PageDraft]) -> list[Page]:
    """Creates the pages of `drafts` whose slug no page has yet; a page that exists is left as
    it is (staff may have edited it). Returns the pages created, in the order of `drafts`."""
    created = []
    with transaction.atomic():
        for draft in drafts:
            page, was_created = Page.objects.get_or_create(
                slug=draft.slug,
                defaults={
                    "title": draft.title,
                    "body": draft.body,
                    "in_footer": draft.in_footer,
                    "footer_position": draft.footer_position,
                    "published": draft.published,
                },
            )
            if was_created:
                created.append(page)
    return created
