"""Reads of the content pages.

The published pages' links (slug, title, footer place) are what every page's footer and the
checkout's terms link need: read once per cache version, not once per request. Like the
catalog's navigation (catalog.cache), an entry holds the version token it was built under;
a page saved or deleted replaces the token once its transaction commits (pages.signals), so
an entry built before the change never matches again. Off (read every time) when
CATALOG_CACHE_SECONDS is 0, as the catalog's page cache is."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from .models import Page

VERSION_KEY = "pages:version"
LINKS_KEY = "pages:links"


@dataclass(frozen=True)
class PageLink:
    """What a link to a published page needs: `url` is /pages/<slug>/."""

    slug: str
    title: str
    url: str
    in_footer: bool


def page_published(slug: str, *, drafts: bool = False) -> Page | None:
    """The published page at /pages/<slug>/, or None (unknown, or unpublished unless `drafts`:
    staff checking a page before publishing it). One query."""
    pages = Page.objects.filter(slug=slug)
    return (pages if drafts else pages.filter(published=True)).first()


def _links_read() -> list[PageLink]:
    pages = Page.objects.filter(published=True).only("slug", "title", "in_footer")
    return [PageLink(slug=p.slug, title=p.title, url=p.get_absolute_url(), in_footer=p.in_footer) for p in pages]


def published_links() -> list[PageLink]:
    """Every published page's link, by footer position then title: one query when not cached,
    one cache round trip when cached."""
    if settings.CATALOG_CACHE_SECONDS <= 0:
        return _links_read()
    found = cache.get_many([LINKS_KEY, VERSION_KEY])
    token = found.get(VERSION_KEY)
    if token is None:
        fresh = uuid.uuid4().hex
        added = cache.add(VERSION_KEY, fresh, timeout=None)
        token = fresh if added is None or added else (cache.get(VERSION_KEY) or fresh)
    entry = found.get(LINKS_KEY)
    if entry is not None and entry[0] == token:
        return entry[1]
    links = _links_read()
    cache.set(LINKS_KEY, (token, links), timeout=settings.CATALOG_CACHE_SECONDS)
    return links


def footer_links(links: list[PageLink]) -> list[PageLink]:
    """The links of `links` (published_links()) that the footer lists, in their order."""
    return [link for link in links if link.in_footer]


def pages_changed() -> None:
    """Retires the cached links now: call it after the commit that changed a page."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
