"""Dates in SQL: day first, ISO 8601, Excel serials, and the reasons a date is refused."""

import datetime as dt

import duckdb
import pytest

from workbench.ingest import dates


def parse(values, serials=False):
    con = duckdb.connect()
    con.execute("CREATE TABLE v (i INTEGER, t VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?, ?)", list(enumerate(values)))
    sql = f"SELECT {dates.parse_sql('t', serials=serials)} AS d FROM v ORDER BY i"
    parsed = [r[0] for r in con.execute(sql).fetchall()]
    problems = con.execute(
        f"SELECT {dates.problem_sql('t', 'd')} FROM ({sql.replace('FROM v', ', t FROM v')})"
    ).fetchall()
    return parsed, [p[0] for p in problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04/03/2020", dt.datetime(2020, 3, 4)),
        ("4/3/2020 9:05", dt.datetime(2020, 3, 4, 9, 5)),
        ("04.03.2020", dt.datetime(2020, 3, 4)),
        ("4 March 2020 10:00", dt.datetime(2020, 3, 4, 10)),
        ("2020-03-04 10:00:00", dt.datetime(2020, 3, 4, 10)),
        ("29/02/2020", dt.datetime(2020, 2, 29)),
        ("2020-03-04T10:00:00", dt.datetime(2020, 3, 4, 10)),  # the ISO fast paths (CallHub)
        ("2020-03-04", dt.datetime(2020, 3, 4)),
        ("2020-03-04 10:00", dt.datetime(2020, 3, 4, 10)),
        ("2020-03-04T10:00:00+01:00", dt.datetime(2020, 3, 4, 9)),  # an instant, shown as UK time (GMT)
    ],
)
def test_accepted(text, expected):
    parsed, problems = parse([text])
    assert parsed == [expected] and problems == [None]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("02/30/2020", "is not a date we can read"),
        ("29/02/2021", "is not a date we can read"),
        ("4/3/20", "has a two-digit year"),
        ("1/1/2999", "is not a plausible date"),
        ("1/1/2090", "is in the future"),
        ("43900", "is not a date we can read"),
        ("2020-02-30 10:00:00", "is not a date we can read"),
        ("2020-13-01", "is not a date we can read"),
        ("2020-03-04 25:00:00", "is not a date we can read"),
        ("2999-03-04 10:00:00", "is not a plausible date"),
    ],
)
def test_refused(text, problem):
    parsed, problems = parse([text])
    assert problem in problems[0]


def test_excel_serials_only_when_asked():
    assert parse(["43900"], serials=True)[0] == [dt.datetime(2020, 3, 10)]
    assert parse(["43900"], serials=False)[0] == [None]
