"""/sitemap.xml and /robots.txt."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sitemaps import views as sitemap_views
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from kernel.replica import replica_view

from .head import absolute_url
from .sitemaps import SITEMAPS, Sitemap

# How long browsers and crawlers may keep robots.txt (RFC 9309 lets crawlers cache it up
# to 24 hours), in seconds.
ROBOTS_MAX_AGE = 24 * 60 * 60


def _sitemaps() -> dict[str, Sitemap]:
    return {section: cls() for section, cls in SITEMAPS.items()}


@require_safe
@replica_view
def sitemap(request: HttpRequest) -> HttpResponse:
    """/sitemap.xml: one <urlset> of every section while they fit in one sitemap
    (Sitemap.limit URLs, the protocol's 50,000), else a sitemap index naming each section's
    pages (/sitemap-products.xml?p=2, …). One count query per section, then the lists."""
    sitemaps = _sitemaps()
    total = sum(site.paginator.count for site in sitemaps.values())
    if total <= min(site.limit for site in sitemaps.values()):
        return sitemap_views.sitemap(request, sitemaps)
    return sitemap_views.index(request, sitemaps, sitemap_url_name="seo:sitemap_section")


@require_safe
@replica_view
def sitemap_section(request: HttpRequest, section: str) -> HttpResponse:
    """/sitemap-<section>.xml?p=N: one page of one section, as the index names them; 404 for
    an unknown section or page."""
    return sitemap_views.sitemap(request, _sitemaps(), section=section)


# Where shoppers' own pages and programs live: no crawler is let in.
def _disallowed() -> list[str]:
    return [
        reverse("cart:detail"),
        reverse("checkout:details"),
        reverse("accounts:account"),
        reverse("orders:list"),
        "/payments/",
        "/stock/",
        "/" + settings.ADMIN_URL,
        "/api/",
    ]


@require_safe
@cache_control(public=True, max_age=ROBOTS_MAX_AGE)
def robots_txt(request: HttpRequest) -> HttpResponse:
    """/robots.txt (RFC 9309): the shop open to every crawler but the shoppers' own pages
    (cart, checkout, account, orders, payments), the admin (settings.ADMIN_URL) and the API;
    the sitemap's absolute URL. Plain text, cacheable for a day."""
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {path}" for path in _disallowed()]
    lines += ["", f"Sitemap: {absolute_url(request, reverse('seo:sitemap'))}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
