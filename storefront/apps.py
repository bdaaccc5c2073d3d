from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    name = "storefront"

    def ready(self):
        from . import receivers  # noqa: F401  (merges the session cart at login)
