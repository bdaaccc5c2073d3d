"""
The shop's URLconf plus two views for the benchmarks only (bench/load.py): the stack's
settings overlay names it as ROOT_URLCONF, so both go through the same middleware as every
page of the shop (sessions, CSRF, locale, rate limits, request id). Production's URLconf
(config.urls) never has them.

- /__bench/trivial/ does nothing else. It is the yardstick load.py divides every page's figure
  by.
- /__bench/sql/?path=<a page's path and query> answers with that page's body after running
  that page's SQL statements and nothing else: no ORM, no templates. The first request for a
  path renders the page once in-process (with the request's cookies) and records its
  statements as the database ran them (CaptureQueriesContext), the later ones run those
  statements again through a cursor and read every row. So it is the most any rendering of
  that page could serve with the queries it makes today (load.py --sql-floor). Not counted:
  the cache round trips the page makes (a session read from Redis, for one).
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path

from config.urls import urlpatterns as shop_urlpatterns

TRIVIAL_PATH = "/__bench/trivial/"  # bench/load.py requests it
SQL_PATH = "/__bench/sql/"

# By page path: the SQL statements its first rendering ran, and its body.
_recorded: dict[str, tuple[list[str], bytes]] = {}


def trivial(request):
    return HttpResponse(b"ok\n", content_type="text/plain")


def _record(request: HttpRequest, page: str) -> tuple[list[str], bytes]:
    client = Client(HTTP_HOST=request.get_host(), HTTP_X_FORWARDED_PROTO="https")
    client.cookies.load(request.COOKIES)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page, secure=True)
    if response.status_code != 200:
        raise ValueError(f"{page} answered {response.status_code}")
    return [query["sql"] for query in queries.captured_queries], response.content


def sql_alone(request):
    page = request.GET.get("path", "")
    if not page.startswith("/") or page.startswith(SQL_PATH):
        return HttpResponseBadRequest(b"?path= names a page of the shop\n")
    if page not in _recorded:
        _recorded[page] = _record(request, page)
    statements, body = _recorded[page]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            if cursor.description is not None:
                cursor.fetchall()
    return HttpResponse(body)


urlpatterns = [
    path(TRIVIAL_PATH.strip("/") + "/", trivial),
    path(SQL_PATH.strip("/") + "/", sql_alone),
    *shop_urlpatterns,
]
