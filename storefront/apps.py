from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    name = "storefront"

    def ready(self):
        from . import i18n, receivers  # noqa: F401  (at login: merges the session cart, restores the language)
