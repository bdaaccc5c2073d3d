"""CSV downloads of the back office: its reports (reports.py, stock_report.py), escaped for
spreadsheets, and the migration exports (Shopify's product, customer and order CSV), which
are data for re-import and written exactly as export_products/_customers/_orders write them."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

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


def _migration_lines(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    # As kernel.csvfiles.csv_write writes the export commands' files: minimal quoting, "\n".
    writer = csv.writer(_Echo(), lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def migration_csv_download(
    *, header: Sequence[str], rows: Iterable[Sequence[str]], filename: str
) -> StreamingHttpResponse:
    """A Shopify CSV (products, customers, orders) the browser saves as `filename`, streamed
    row by row as `rows` yields them: the same bytes as the matching export command writes.

    Unlike csv_download, no cell is escaped with csv_cell: the file is for importing into
    Shopify or into another shop of ours, and a "'" added before a title like "=Wow" or a SKU
    like "-5" would come back as part of the value (the round trip export → import → export
    must give the same file). Whoever opens it in a spreadsheet should import it as text."""
    return StreamingHttpResponse(
        _migration_lines(header, rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
