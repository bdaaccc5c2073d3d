"""/api/v1/: each app's API under one prefix, plus the OpenAPI schema and Swagger UI.

To add an app's endpoints, give it `api/<app>/urls.py` (paths relative to /api/v1/) and
include it below; the schema picks them up by itself."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import NotFoundView

app_name = "api"

urlpatterns = [
    path("", include("api.catalog.urls")),
    path("", include("api.accounts.urls")),
    path("", include("api.orders.urls")),
    path("", include("api.cart.urls")),
    path("", include("api.checkout.urls")),
    path("", include("api.payments.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI. The split view serves its start-up script as a file of its own
    # (docs/?script=), so the page runs under the Content-Security-Policy, which allows no
    # inline script (config/settings/base.py).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other /api/v1/ URL answers 404 in the error shape, not Django's HTML page.
    re_path(r"^[\s\S]*$", NotFoundView.as_view(), name="not_found"),
]
