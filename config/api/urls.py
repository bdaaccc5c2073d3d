"""/api/v1/: each app's API under one prefix, plus the OpenAPI schema and Swagger UI.

To add an app's endpoints, give it `<app>/api/urls.py` (paths relative to /api/v1/) and
include it below; the schema picks them up by itself."""
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import NotFoundView

app_name = "api"

urlpatterns = [
    path("", include("catalog.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("cart.api.urls")),
    path("", include("checkout.api.urls")),
    path("", include("payments.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other /api/v1/ URL answers 404 in the error shape, not Django's HTML page.
    re_path(r"^[\s\S]*$", NotFoundView.as_view(), name="not_found"),
]
