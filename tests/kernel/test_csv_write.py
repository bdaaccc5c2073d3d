"""kernel.csvfiles.csv_write: the one way exports write CSV, read back by CsvFile."""

import io

from kernel.csvfiles import CsvFile, csv_write


def test_it_writes_the_header_and_rows_with_minimal_quoting_and_lf_endings():
    out = io.StringIO()
    count = csv_write(out, ["Handle", "Title"], [["tee", "Plain"], ["mug", 'Big "Mug", 12oz'], ["note", "a\nb"]])
    assert count == 3
    assert out.getvalue() == 'Handle,Title\ntee,Plain\nmug,"Big ""Mug"", 12oz"\nnote,"a\nb"\n'


def test_it_counts_no_rows_for_an_empty_iterable_but_writes_the_header():
    out = io.StringIO()
    assert csv_write(out, ["Handle"], iter(())) == 0
    assert out.getvalue() == "Handle\n"


def test_it_consumes_a_generator_lazily_and_writes_formulas_as_they_are():
    produced = []

    def rows():
        for value in ("=SUM(A1)", "+1", "-2", "@x"):
            produced.append(value)
            yield [value]

    out = io.StringIO()
    assert csv_write(out, ["Value"], rows()) == 4
    assert out.getvalue() == "Value\n=SUM(A1)\n+1\n-2\n@x\n"


def test_what_it_writes_reads_back_unchanged(tmp_path):
    rows = [["a,b", 'say "hi"', "line\nbreak", ""], ["é", " ", "x", "y"]]
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv_write(out, ["A", "B", "C", "D"], rows)
    problems = []
    read = [cells for _line, cells in CsvFile(path, problems).rows()]
    assert problems == []
    # CsvFile strips surrounding white space, as every import does.
    assert read == [
        {"A": "a,b", "B": 'say "hi"', "C": "line\nbreak", "D": ""},
        {"A": "é", "B": "", "C": "x", "D": "y"},
    ]
