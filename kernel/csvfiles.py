"""
Reading the CSV files a merchant brings (Shopify's product, customer and order exports, a
home-grown backend's dump) with the one contract every import keeps: the whole input is
checked first, every problem is collected as FILE:LINE: column "COLUMN": message, and if there
is any, nothing is written (ImportRejected). Writing the rows is each importer's own
(inventory.importer, accounts.importer, orders.importer). Exports write their files with
csv_write, so every exported file is quoted and ended the same way.

Lines are physical lines of the file (the header is line 1), so a quoted field holding line
breaks does not shift the lines of the rows after it. Files are read as a stream: a file of
100,000 rows is never held in memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from django.utils import timezone

from .errors import DomainError

# Control characters no field may hold: NUL, which PostgreSQL text cannot store at all (the
# write would fail half-way), and the other C0 controls but TAB, LF and CR, DEL and the C1
# controls, which XML 1.0 cannot hold (C0) and HTML parses as errors (all of them): what an
# import brings is shown in pages, feeds and documents. Unicode category Cc minus \t \n \r.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What csv counts as the end of a physical line (its line_num), to place a character that
# sits inside a quoted field spanning several lines.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Plain digits only: int() and Decimal() would also take "1_000", "1e3" or "NaN".
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
# PostgreSQL integer columns.
MAX_INT = 2_147_483_647
# Money columns are DecimalField(max_digits=12, decimal_places=2).
MAX_MONEY = Decimal("9999999999.99")
CENT = Decimal("0.01")
# Shopify's dates: "2024-01-09 10:14:37 -0500".
SHOPIFY_DATETIME = "%Y-%m-%d %H:%M:%S %z"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. `line` is the physical line in the CSV file (the
    header is line 1), None for a problem with the file as a whole; `column` is the CSV
    column name, None when no single column is at fault."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.column:
            return f'{where}: column "{self.column}": {self.message}'
        return f"{where}: {self.message}"


class ImportRejected(DomainError):
    """Raised when the input has at least one problem (`problems`); nothing was written."""

    code = "import_rejected"

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"the import was rejected: {len(self.problems)} problem(s)"


class InvalidValue(ValueError):
    """A cell that is not what its column holds; str() is the message for the Problem."""


def problems_reject(problems: list[Problem], *, paths: Sequence[str | Path]) -> None:
    """Raises ImportRejected with `problems`, ordered by file (in the order of `paths`) then
    line, when there is any; returns when there is none."""
    if problems:
        order = {str(p): i for i, p in enumerate(paths)}
        problems.sort(key=lambda p: (order.get(p.file, 0), p.line or 0))
        raise ImportRejected(problems)


# progress(stage, done, total): `stage` names what is being counted ("orders", "images").
ProgressCallback = Callable[[str, int, int], None]


class CsvFile:
    """One CSV file read row by row: `rows()` yields (line, {column: value}) for every row
    that is not blank, values stripped of surrounding white space, short rows padded with "".
    Problems with the file as a whole, its header and its characters go to `problems`;
    the caller adds its own with `problem()`.

    `required` columns must be in the header, each missing one is a problem; when one of
    `essential` (by default all of `required`) is missing, no row is yielded: rows are not
    checked against a header that cannot describe them.
    """

    def __init__(
        self,
        path: str | Path,
        problems: list[Problem],
        *,
        required: Sequence[str] = (),
        essential: Sequence[str] | None = None,
    ):
        self.path = Path(path)
        self.name = str(path)
        self.problems = problems
        self.required = tuple(required)
        self.essential = self.required if essential is None else tuple(essential)
        self.header: list[str] | None = None

    def problem(self, line: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.name, line, column, message))

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            self.problem(None, None, f"cannot read the file: {exc.strerror or exc}")
            return
        with raw:
            # utf-8-sig: a byte order mark (Excel writes one) is not part of the first column.
            text = codecs.getreader("utf-8-sig")(raw)
            reader = csv.reader(_Lines(text), strict=False)
            # csv's line_num is the last physical line of a record; a quoted field may span
            # several lines, so a record starts one line after the previous record ended.
            previous_end = 0
            try:
                for cells in reader:
                    line = previous_end + 1
                    previous_end = reader.line_num
                    self._check_characters(line, cells)
                    if not any(c.strip() for c in cells):
                        continue
                    if self.header is None:
                        self.header = [c.strip() for c in cells]
                        if not self._check_header(line):
                            return
                        continue
                    if len(cells) > len(self.header):
                        self.problem(line, None, f"{len(cells)} fields, but the header has {len(self.header)}")
                        continue
                    cells += [""] * (len(self.header) - len(cells))
                    yield line, {col: cell.strip() for col, cell in zip(self.header, cells, strict=True)}
            except UnicodeDecodeError:
                self.problem(previous_end + 1, None, "the file is not UTF-8 text")
                return
            except csv.Error as exc:
                self.problem(reader.line_num, None, f"malformed CSV: {exc}")
                return
        if self.header is None:
            self.problem(None, None, "the file is empty")

    def _check_header(self, line: int) -> bool:
        assert self.header is not None
        for column in self.required:
            if column not in self.header:
                self.problem(line, column, "required column is missing")
        return all(column in self.header for column in self.essential)

    def _check_characters(self, line: int, cells: list[str]) -> None:
        """Reports every field of the record starting at `line` that holds a control
        character (see CONTROL), at the physical line where the character is."""
        header = self.header
        for index, cell in enumerate(cells):
            found = CONTROL.search(cell)
            if found is None:
                continue
            # A quoted field may span lines: count the breaks before the character.
            before = "".join(cells[:index]) + cell[: found.start()]
            at = line + len(_LINE_BREAK.findall(before))
            char = f"U+{ord(found.group()):04X}"
            if header is not None and index < len(header):
                message = (
                    f"contains a control character ({char}) at character {found.start() + 1}; "
                    "remove it (only tab and line breaks are allowed)"
                )
                self.problem(at, header[index], message)
            else:
                what = "header field" if header is None else "field"
                message = (
                    f"{what} {index + 1} contains a control character ({char}); remove it "
                    "(only tab and line breaks are allowed; is the file UTF-8 text?)"
                )
                self.problem(at, None, message)


# One physical line with its ending: "\r\n", "\r" or "\n", as csv ends lines (str.splitlines
# would also end them at U+2028, U+0085, form feeds, …, splitting a record csv keeps whole).
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


class _Lines:
    """Iterates a text stream by physical line, each keeping its own ending, as csv needs
    to count lines and to keep line breaks inside quoted fields (a text stream in
    universal-newline mode would turn "\r\n" into "\n")."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[str]:
        pending = ""
        while chunk := self.stream.read(65536):
            pending += chunk
            end = 0
            for found in _PHYSICAL_LINE.finditer(pending):
                if found.end() == len(pending) and pending.endswith("\r"):
                    break  # its "\n" may come with the next chunk
                yield found.group()
                end = found.end()
            pending = pending[end:]
        if pending:
            yield pending


def money_parse(text: str, *, negative: bool = False) -> Decimal:
    """A money cell ("38.00", "38", "38.5") as Decimal to the cent, in currency units.

    Raises InvalidValue when it is not a plain decimal number, has more than 2 decimal
    places, is negative (unless `negative`) or is larger than MAX_MONEY."""
    if not _DECIMAL.fullmatch(text):
        raise InvalidValue(f'not a number: "{text}"')
    value = Decimal(text)
    if value < 0 and not negative:
        raise InvalidValue(f"must not be negative: {text}")
    # Checked before quantize(), which fails on numbers wider than its 28-digit context.
    if abs(value) > MAX_MONEY:
        raise InvalidValue(f"too large: {text}")
    if value != value.quantize(CENT):
        raise InvalidValue(f"more than 2 decimal places: {text}")
    return value.quantize(CENT)


def count_parse(text: str, *, minimum: int = 0) -> int:
    """A whole-number cell ≥ `minimum` (a quantity, grams, a position).

    Raises InvalidValue when it is not plain digits, is under `minimum` or over MAX_INT."""
    if not _INTEGER.fullmatch(text):
        raise InvalidValue(f'not a whole number: "{text}"')
    value = int(text)
    if value < minimum:
        raise InvalidValue(f"must not be negative: {text}" if minimum == 0 else f"must be at least {minimum}: {text}")
    if value > MAX_INT:
        raise InvalidValue(f"too large: {text}")
    return value


def yes_no_parse(text: str, *, yes: str = "yes", no: str = "no") -> bool:
    """A yes/no cell (Shopify writes "yes"/"no", and "true"/"false" in other columns;
    any case). Blank is no. Raises InvalidValue for anything else."""
    value = text.strip().lower()
    if value in ("", no):
        return False
    if value == yes:
        return True
    raise InvalidValue(f'must be "{yes}" or "{no}", not "{text}"')


def apostrophe_strip(text: str) -> str:
    """`text` without the one "'" Shopify writes before Customer IDs, phones and all-digit
    zips ("'02116" -> "02116"; "''x" -> "'x")."""
    return text.removeprefix("'")


def datetime_parse(text: str, *, hint: str = 'expected e.g. "2024-01-09 10:14:37 -0500"') -> datetime:
    """Shopify's "2024-01-09 10:14:37 -0500" (SHOPIFY_DATETIME) or ISO 8601 ("2024-01-09",
    "2024-01-09T15:04:05Z"), aware; one without an offset is in settings.TIME_ZONE.

    Raises InvalidValue: 'not a date: "TEXT" (HINT)', `hint` saying what to write."""
    value: datetime | None = None
    try:
        value = datetime.strptime(text, SHOPIFY_DATETIME)  # noqa: DTZ007 - the format ends with %z: aware
    except ValueError:
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(text)
    if value is None:
        raise InvalidValue(f'not a date: "{text}" ({hint})')
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def progress_bar(out) -> ProgressCallback | None:
    """A one-line bar on `out` (a management command's stdout) redrawn in place, or None
    when `out` is not a terminal, so that logs and pipes stay clean."""
    if not out.isatty():
        return None
    width = 30

    def draw(stage: str, done: int, total: int) -> None:
        filled = width * done // total if total else width
        # ending="": the bar is redrawn in place, so no newline until it is full.
        out.write(f"\r{stage:<9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        if done >= total:
            out.write("\n", ending="")
        out.flush()

    return draw


def csv_write(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Writes `header` then every row of `rows` to `out` as CSV (RFC 4180 quoting: a field is
    quoted only when it holds a comma, a quote or a line break; lines end with "\n", as
    Shopify's exports do) and returns the number of rows written, the header not counted.

    `rows` is consumed as it is written, so a generator over a queryset's iterator() never
    holds the whole file in memory. Values are written as they are: no spreadsheet formula
    escaping, because these files are data for re-import (an escaped "=" would come back
    changed). Raises what `out.write` raises (OSError for a file)."""
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
