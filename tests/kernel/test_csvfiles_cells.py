"""kernel.csvfiles' helpers every importer uses: Shopify's dates and apostrophes, and the
rejection of an input with problems, ordered as the merchant reads them."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from kernel.csvfiles import ImportRejected, InvalidValue, Problem, apostrophe_strip, datetime_parse, problems_reject


def test_shopifys_date_keeps_its_offset():
    value = datetime_parse("2024-01-09 10:14:37 -0500")
    assert value == datetime(2024, 1, 9, 15, 14, 37, tzinfo=UTC)
    assert value.utcoffset() == timedelta(hours=-5)


def test_an_iso_date_with_an_offset_is_read_as_it_says():
    assert datetime_parse("2024-01-09T15:04:05+01:00") == datetime(
        2024, 1, 9, 15, 4, 5, tzinfo=timezone(timedelta(hours=1))
    )


def test_a_date_without_an_offset_is_in_the_shops_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    value = datetime_parse("2024-07-01")
    assert value == datetime(2024, 7, 1, tzinfo=ZoneInfo("America/New_York"))
    assert value.utcoffset() == timedelta(hours=-4)


def test_what_is_not_a_date_is_refused_with_the_hint_given():
    with pytest.raises(InvalidValue) as refused:
        datetime_parse("09/01/2024")
    assert str(refused.value) == 'not a date: "09/01/2024" (expected e.g. "2024-01-09 10:14:37 -0500")'
    with pytest.raises(InvalidValue) as refused:
        datetime_parse("soon", hint="use ISO 8601")
    assert str(refused.value) == 'not a date: "soon" (use ISO 8601)'


@pytest.mark.parametrize(("cell", "value"), [("'02116", "02116"), ("''x", "'x"), ("+1 555", "+1 555"), ("", "")])
def test_one_leading_apostrophe_is_stripped(cell, value):
    assert apostrophe_strip(cell) == value


def test_no_problem_rejects_nothing():
    assert problems_reject([], paths=["a.csv"]) is None


def test_problems_are_rejected_by_file_in_the_order_given_then_by_line():
    problems = [
        Problem("b.csv", 3, "Email", "required"),
        Problem("a.csv", 9, None, "malformed CSV"),
        Problem("b.csv", None, None, "the file is empty"),
        Problem("a.csv", 2, "Total", "not a number"),
    ]
    with pytest.raises(ImportRejected) as rejected:
        problems_reject(problems, paths=["b.csv", "a.csv"])
    assert [str(p) for p in rejected.value.problems] == [
        "b.csv: the file is empty",
        'b.csv:3: column "Email": required',
        'a.csv:2: column "Total": not a number',
        "a.csv:9: malformed CSV",
    ]
