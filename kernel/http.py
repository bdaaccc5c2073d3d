"""HTTP answers that several top-layer packages give alike."""

from __future__ import annotations

import json

from django.http import HttpResponse


def json_attachment(data: dict, *, filename: str) -> HttpResponse:
    """`data` as a JSON file the browser saves as `filename` (UTF-8, indented): a customer's
    data download, and the back office's download of it."""
    body = json.dumps(data, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
