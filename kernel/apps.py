from django.apps import AppConfig


class KernelConfig(AppConfig):
    """The bottom layer as an app: no models, only its template tags (kernel/templatetags)."""

    name = "kernel"
    verbose_name = "Kernel"
