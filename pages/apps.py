from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PagesConfig(AppConfig):
    name = "pages"
    verbose_name = _("Content pages")

    def ready(self):
        from . import signals  # noqa: F401  (connects the page list cache's receivers)
