"""
The shop's URLconf plus one trivial view, for the benchmarks only (bench/load.py): the
stack's settings overlay names it as ROOT_URLCONF, so /__bench/trivial/ goes through the same
middleware as every page of the shop (sessions, CSRF, locale, rate limits, request id) and
does nothing else. It is the yardstick load.py divides every page's figure by; production's
URLconf (config.urls) never has it.
"""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as shop_urlpatterns

TRIVIAL_PATH = "/__bench/trivial/"  # bench/load.py requests it


def trivial(request):
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [path(TRIVIAL_PATH.strip("/") + "/", trivial), *shop_urlpatterns]
