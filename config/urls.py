from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static as static_url
from django.urls import include, path

from storefront.i18n import language_set

urlpatterns = [
    # DJANGO_ADMIN_URL, "admin/" unless set (config/settings/base.py).
    path(settings.ADMIN_URL, admin.site.urls),
    # The catalog's three pages (/, /products/, /products/<handle>/) next: the most visited,
    # and Django tries the patterns in order (a hit on the page cache is about 0.5 ms, of
    # which walking a dozen includes first took a tenth).
    path("", include("storefront.catalog.urls")),
    path("api/v1/", include("api.urls")),
    path("accounts/", include("storefront.accounts.urls")),
    path("cart/", include("storefront.cart.urls")),
    path("checkout/", include("storefront.checkout.urls")),
    path("orders/", include("storefront.orders.urls")),
    path("pages/", include("storefront.pages.urls")),
    path("payments/", include("storefront.payments.urls")),
    path("stock/", include("storefront.inventory.urls")),
    # Load balancers, monitors and Prometheus (ops/health.py; docs/RUNBOOK.md).
    path("", include("ops.urls")),
    # Browsers ask every site for /favicon.ico, the admin's pages included.
    # The footer's language switcher: Django's set_language, keeping a customer's choice.
    path("i18n/setlang/", language_set, name="set_language"),
    path("favicon.ico", lambda request: redirect(static_url("img/favicon.svg"))),
    # /robots.txt, /sitemap.xml (storefront/seo).
    path("", include("storefront.seo.urls")),
]
# Product images in development (a no-op unless DEBUG); in production the web server or a
# CDN serves MEDIA_ROOT.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
