"""
The management commands of the imports and exports, written once: each command is a small
subclass that names its files and says what to run.

- ImportCommand: `manage.py import_x FILE.csv [FILE.csv ...] [--dry-run]`. Runs the import
  with a progress bar on a terminal; when the input is rejected, prints every problem on
  stderr (FILE:LINE: column "COLUMN": message) and fails with "Import rejected: N problem(s);
  nothing was written."; on a dry run, lists what would be done ("would create …"); ends with
  the import's summary.
- ExportCommand: `manage.py export_x [FILE.csv]`. Writes the header and the rows as CSV
  (kernel.csvfiles.csv_write) to FILE, or to stdout when no FILE is given, and says on stderr
  how many rows it wrote to FILE; a FILE that cannot be written fails the command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, TextIO, cast

from django.core.management.base import BaseCommand, CommandError

from .csvfiles import ImportRejected, ProgressCallback, csv_write, progress_bar


class ImportOutcome(Protocol):
    """What an import returns, as far as its command cares."""

    def summary(self) -> str:
        """One line of counts."""
        ...

    @property
    def changes(self) -> Sequence[str]:
        """What was (or would be) done, one line each: "create …", "update …: …"."""
        ...


class ImportCommand(BaseCommand):
    """An import command: subclasses set `help`, `files_help`, `dry_run_help` (and
    `dry_run_aliases`, other names of --dry-run) and implement run_import()."""

    files_help = "CSV files"
    dry_run_help = "Validate the files and report what would be created and updated; write nothing."
    dry_run_aliases: tuple[str, ...] = ()

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.csv", help=self.files_help)
        parser.add_argument(
            "--dry-run", *self.dry_run_aliases, action="store_true", dest="dry_run", help=self.dry_run_help
        )

    def run_import(
        self, paths: Sequence[str | Path], dry_run: bool, progress: ProgressCallback | None
    ) -> ImportOutcome:
        """Runs the import of `paths` (rolled back when `dry_run`) and returns what it did.
        Raises ImportRejected, with every problem, when the input has any."""
        raise NotImplementedError

    def dry_run_report(self, result: ImportOutcome) -> list[str]:
        """The lines a dry run prints before the summary: "would <change>" for each change."""
        return [f"would {change}" for change in result.changes]

    def handle(self, *args, **options):
        dry_run = options["dry_run"]
        try:
            result = self.run_import(options["files"], dry_run, progress_bar(self.stdout))
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Import rejected: {len(rejected.problems)} problem(s); nothing was written."
            ) from rejected
        if dry_run:
            for line in self.dry_run_report(result):
                self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(result.summary()))


class ExportCommand(BaseCommand):
    """An export command: subclasses set `help` and `columns` (the header), and implement
    rows(); `written` names what a row is in "N rows written to FILE."."""

    columns: Sequence[str] = ()
    written = "rows"

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", metavar="FILE.csv", help="Where to write; stdout when left out.")

    def rows(self) -> Iterable[Sequence[str]]:
        """The rows to write, in `columns` order, streamed (a generator over a queryset's
        iterator(), so that the whole file never sits in memory)."""
        raise NotImplementedError

    def handle(self, *args, **options):
        path = options["file"]
        rows = self.rows()
        if path is None:
            # Past the command's output wrapper, which may style what it writes: csv ends its
            # lines itself.
            csv_write(cast(TextIO, getattr(self.stdout, "_out", self.stdout)), self.columns, rows)
            return
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                count = csv_write(out, self.columns, rows)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.stderr.write(f"{count} {self.written} written to {path}.")
