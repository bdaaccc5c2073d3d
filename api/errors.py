"""Every API error answers one shape:

    {"error": {"code": "insufficient_stock", "message": "…", "fields": {"email": ["…"]}}}

`code` is stable and meant for programs, `message` for people, `fields` maps an input field
to its problems (empty when the error is not about one field). Domain errors raised by the
services (kernel.errors.DomainError: every app's exceptions subclass it) become the status
they carry (`http_status`: 4xx, or 502 for a payment provider), never a 500: a view does not
catch them itself, and this module needs no list of every app's exceptions.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from inventory.exceptions import InsufficientStock, StockBusy
from kernel.errors import DomainError

# Seconds a client should wait before retrying a "busy" answer (the lock wait is ~2 s).
STOCK_BUSY_RETRY_AFTER = "1"


def error_body(code: str, message: str, fields: dict | None = None, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"lines": [{"quantity": ["…"]}]} → {"lines.0.quantity": ["…"]}: one level for clients."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and detail and all(isinstance(item, (dict, list)) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


def _domain_response(exc: DomainError) -> Response:
    extra: dict[str, Any] = {}
    fields: dict[str, list[str]] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InsufficientStock):
        extra["lines"] = [
            {"variant_id": line.variant_id, "sku": line.sku, "requested": line.requested, "available": line.available}
            for line in exc.lines
        ]
    if isinstance(exc, StockBusy):
        headers["Retry-After"] = STOCK_BUSY_RETRY_AFTER
    field = getattr(exc, "field", None)
    if field:
        fields[field] = [exc.message]
    # Problems per field (kernel.addresses.AddressInvalid: {"country_area": ["…"]}).
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        fields.update({str(name): [str(message) for message in messages] for name, messages in errors.items()})
    return Response(error_body(exc.code, exc.message, fields, **extra), status=exc.http_status, headers=headers)


def _api_exception_parts(exc: exceptions.APIException) -> tuple[str, str, dict]:
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.values()), [_("Invalid input.")])[0]
        if list(fields) == ["non_field_errors"]:
            return "invalid", first, {}
        return "invalid", _("Some fields are not valid.") if len(fields) > 1 else first, fields
    detail = exc.detail
    # simplejwt's InvalidToken carries {"detail": …, "code": …, "messages": […]}.
    if isinstance(detail, dict):
        code = str(detail.get("code") or exc.default_code)
        return code, str(detail.get("detail", exc.default_detail)), {}
    code = getattr(detail, "code", None) or exc.default_code
    return str(code), str(detail), {}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: domain errors by their http_status, DRF's own errors
    (validation, authentication, permission, 404, 405, throttling with its Retry-After)
    re-shaped. Anything else is a bug and stays a 500."""
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        code, message, fields = _api_exception_parts(exc)
    else:  # pragma: no cover: DRF answers only APIException subclasses
        code, message, fields = "error", _("Something went wrong."), {}
    response.data = error_body(code, message, fields)
    return response


# ---- schema --------------------------------------------------------------------------------


class ErrorLineSerializer(serializers.Serializer):
    variant_id = serializers.IntegerField()
    sku = serializers.CharField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: invalid, not_found, insufficient_stock, …")
    message = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Input field (dotted path for nested input) → its problems; empty if none.",
    )
    lines = ErrorLineSerializer(
        many=True, required=False, help_text="insufficient_stock only: every line that cannot be served."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_DESCRIPTIONS = {
    400: "Invalid input (code `invalid`, with `fields`) or a request the domain refuses.",
    401: "Not signed in, or the token is missing, expired or invalid.",
    403: "Signed in but not allowed.",
    404: "No such resource, or not yours.",
    409: "Conflicts with the current state: `insufficient_stock` (with `lines`), `stock_busy` "
    "(retry after Retry-After seconds), cart / checkout / order state.",
    429: "Too many requests: retry after the Retry-After header's seconds.",
    502: "The payment provider refused or could not be reached (code `gateway_error`); try again later.",
}


def error_responses(*status_codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """`responses={200: X, **error_responses(400, 404)}` in extend_schema. Errors are JSON
    whatever the success response is (e.g. a PDF)."""
    return {
        (code, "application/json"): OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code])
        for code in status_codes
    }
