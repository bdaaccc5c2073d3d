"""Health and metrics for load balancers, uptime monitors and Prometheus (health.py)."""

from django.urls import path

from . import health

urlpatterns = [
    path("health/", health.health, name="health"),
    path("health/detailed/", health.health_detailed, name="health-detailed"),
    path("metrics", health.metrics, name="metrics"),
]
