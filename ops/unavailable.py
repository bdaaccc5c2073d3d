"""
The database unreachable mid-request (restarted, failed over, out of connections): the client
gets 503 Service Unavailable with Retry-After, as JSON in the API's error shape under /api/
and as a short page elsewhere, instead of a bare 500. Nothing is half-written: every write
is one transaction, rolled back with the connection (docs/RUNBOOK.md, "The database is
down"). Retrying is safe: placing an order and starting a payment take an idempotency key.

Only connection-level errors count (OperationalError, InterfaceError); lock timeouts are
StockBusy (409) before they get here, and any other error stays a 500 (a bug). The error is
logged at ERROR with its traceback, which Sentry's logging integration reports.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Read when answering: in the request's language when a view failed (LocaleMiddleware had
# activated it before the view ran), in LANGUAGE_CODE when the failure came before that.
MESSAGE = _("The shop is briefly unavailable. Nothing was charged twice or lost: please try again in a few seconds.")


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 answer for `request` (JSON under /api/, else templates/503.html, which needs no
    database)."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "unavailable", "message": str(MESSAGE), "fields": {}}}, status=503
        )
    else:
        context = {"message": str(MESSAGE), "retry_url": request.get_full_path()}
        response = HttpResponse(render_to_string("503.html", context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error(
            "database unavailable", exc_info=exception, extra={"event": "database.unavailable", "path": request.path}
        )
        return service_unavailable(request)
