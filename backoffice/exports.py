"""CSV downloads of the back office's reports (reports.py, stock_report.py)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula; product titles and
# SKUs come from imported files, so they are not ours to trust.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """`value` as a spreadsheet will not run it: text that would start a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write() hands the line back: csv.writer into a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def csv_download(*, header: list[str], rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    """A CSV file the browser saves as `filename`, streamed row by row as `rows` yields them
    (pass rows read with QuerySet.iterator(): a long report is never held in memory)."""
    return StreamingHttpResponse(
        _csv_lines(header, rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
