from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"

    def ready(self):
        from . import receivers  # noqa: F401  (merges the session cart at login)
