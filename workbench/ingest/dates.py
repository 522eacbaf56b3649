"""Dates and times as real exports write them, read in SQL, day first unless a column shows otherwise.

Accepted: UK day-first `dd/mm/yyyy` (also with `-` or `.`, or `3 Apr 2020`) with an optional
`HH:MM[:SS]`; ISO 8601 (`2020-04-03`, `2020-04-03T10:15:00`); and Excel serial day numbers when
the file is a workbook (counted from 1900, or from 1904 when the workbook says so). "04/03/2020" is
4 March. A date that is not a real day-first date ("12/25/2020"), has a two-digit year ("03/04/20"),
or lies in the future is an error on its row.

A column is judged as a whole too (`date_order`): one whose dates include some that read only
month first ("04/13/2020"), none that read only day first, and no more that read either way is month
first; one holding both kinds is mixed, so that "04/05/2020" in it is never guessed. ingest.formats
decides what follows.

The functions here return SQL expressions over an already-quoted column, so 2 million dates are
parsed by DuckDB in one pass rather than by Python one at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Day, month (number or name), four-digit year, then an optional time. DuckDB's try_strptime with a
# list of formats crashed the process when run repeatedly on one connection (DuckDB 1.4.4), so the
# parts are taken with one regular expression and the date is checked by a plain cast, which also
# rejects days that do not exist (31/02/2020).
UK_PARTS = (
    r"^(\d{1,2})[/.\- ]+(\d{1,2}|[A-Za-z]{3,9})[/.\- ]+(\d{4})"
    r"(?:[ T]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?$"
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
ISO_PREFIX = r"^\d{4}-\d{2}-\d{2}"
TWO_DIGIT_YEAR = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(\s.*)?$"
EXCEL_SERIAL = r"^\d{1,7}(\.\d+)?$"
# Day 0 of Excel's serial day numbers. In the 1900 system (Windows Excel) it is 30 December 1899, not
# 31 December, because Excel counts a 29 February 1900 that never was; in the 1904 system (workbooks
# saved by Mac Excel, flagged in the workbook) it is 1 January 1904, so the same number is 1,462 days later.
EXCEL_DAY_ZERO = "1899-12-30"
MAC_DAY_ZERO = "1904-01-01"
ISO_OFFSET = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([+-]\d{2}:?\d{2}|Z)$"
UK_ZONE = "Europe/London"
# A time on its own: 14:08, 14.08, 1408, 9:05, optionally with seconds.
TIME_PARTS = r"^(\d{1,2})[:.]?(\d{2})(?:[:.](\d{2}))?$"
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
# A little slack for clocks and time zones before a call counts as "in the future".
FUTURE_SLACK = "INTERVAL 1 DAY"

ACCEPTED = "dates are read day first, as dd/mm/yyyy [HH:MM], or as ISO 8601 yyyy-mm-dd"


def _uk_sql(text: str) -> str:
    months = "MAP {" + ", ".join(f"'{m}': '{i:02d}'" for i, m in enumerate(MONTHS, start=1)) + "}"
    month = f"CASE WHEN length(p.m) <= 2 THEN lpad(p.m, 2, '0') ELSE ({months})[lower(left(p.m, 3))] END"
    stamp = (
        f"p.y || '-' || {month} || '-' || lpad(p.d, 2, '0') || ' ' "
        "|| lpad(coalesce(nullif(p.hh, ''), '0'), 2, '0')"
        " || ':' || coalesce(nullif(p.mi, ''), '00') || ':' || coalesce(nullif(p.ss, ''), '00')"
    )
    # A one-element list and a lambda, so the regular expression runs once per value.
    return (
        f"list_transform([regexp_extract({text}, '{UK_PARTS}', ['d', 'm', 'y', 'hh', 'mi', 'ss'])], "
        f"p -> CASE WHEN p.y = '' THEN NULL ELSE TRY_CAST({stamp} AS TIMESTAMP) END)[1]"
    )


def _fast_sql(text: str) -> str:
    # Most exports write every date the same way (dd/mm/yyyy HH:MM, dd/mm/yyyy, or ISO): slice
    # those directly (no regular expression), and leave everything else to the general path.
    # try_strptime with ONE format is safe (a list of formats is what crashed) and about twice as
    # fast as building an ISO string; it also rejects days that do not exist.
    def part(start: int, length: int = 1) -> str:
        # substr() counts code points, as text[n] does, in two thirds of its time.
        return f"substr({text}, {start}, {length})"

    uk = f"{part(3)} = '/' AND {part(6)} = '/'"
    iso = f"{part(5)} = '-' AND {part(8)} = '-'"
    return (
        f"WHEN length({text}) = 16 AND {uk} AND {part(11)} = ' ' AND {part(14)} = ':' "
        f"THEN try_strptime({text}, '%d/%m/%Y %H:%M') "
        f"WHEN length({text}) = 16 AND {uk} AND {part(14)} = ':' "
        f"THEN TRY_CAST({part(7, 4)} || '-' || {part(4, 2)} || '-' || {part(1, 2)} || ' ' || {part(12, 5)} "
        "AS TIMESTAMP) "
        f"WHEN length({text}) = 10 AND {uk} "
        f"THEN TRY_CAST({part(7, 4)} || '-' || {part(4, 2)} || '-' || {part(1, 2)} AS TIMESTAMP) "
        # ISO without an offset, as CallHub and most databases write it: yyyy-mm-dd[ HH:MM:SS]. The
        # cast reads exactly these shapes and rejects days that do not exist.
        f"WHEN length({text}) = 19 AND {iso} AND {part(11)} IN (' ', 'T') AND {part(14)} = ':' "
        f"AND {part(17)} = ':' THEN TRY_CAST({text} AS TIMESTAMP) "
        f"WHEN length({text}) = 10 AND {iso} THEN TRY_CAST({text} AS TIMESTAMP) "
    )


def parse_sql(column: str, *, serials: bool = False, date1904: bool = False) -> str:
    """SQL: the TIMESTAMP in `column` (trimmed text, blank as NULL), or NULL.

    Args:
        column: SQL expression holding the trimmed text; NULL means no date.
        serials: also read Excel serial day numbers (workbooks only: in a CSV they are
            more likely a typo than a date).
        date1904: the workbook counts its serial days from 1904 (`limits.uses_1904_dates`).
    """
    text = column
    day_zero = MAC_DAY_ZERO if date1904 else EXCEL_DAY_ZERO
    serial = (
        f"WHEN regexp_matches({text}, '{EXCEL_SERIAL}') AND TRY_CAST({text} AS DOUBLE) BETWEEN 1 AND 2958465 "
        f"THEN TIMESTAMP '{day_zero}' + to_seconds(CAST(round(CAST({text} AS DOUBLE) * 86400) AS BIGINT)) "
        if serials
        else ""
    )
    return (
        f"CASE WHEN {column} IS NULL OR {text} = '' THEN NULL "
        f"{_fast_sql(text)}"
        f"WHEN regexp_matches({text}, '{TWO_DIGIT_YEAR}') THEN NULL "
        # An ISO time with an offset ("2020-04-03T10:15:00+01:00", NationBuilder) is an instant:
        # shown as the UK wall-clock time the call happened at.
        f"WHEN regexp_matches({text}, '{ISO_OFFSET}') "
        f"THEN timezone('{UK_ZONE}', TRY_CAST({text} AS TIMESTAMPTZ)) "
        f"WHEN regexp_matches({text}, '{ISO_PREFIX}') THEN TRY_CAST({text} AS TIMESTAMP) "
        f"{serial}"
        f"ELSE {_uk_sql(text)} END"
    )


def problem_sql(column: str, parsed: str, *, future: bool = False) -> str:
    """SQL: why the text in `column` is not an acceptable date, or NULL when it is.

    Args:
        column: the trimmed text, as in `parse_sql`.
        parsed: the expression (usually a column alias) holding `parse_sql`'s result.
        future: allow dates in the future (none of ours do).
    """
    text = column
    # Compared as timestamps, not through year(), which costs more than the cast that made them.
    in_range = (
        f"({parsed} >= TIMESTAMP '{EARLIEST_YEAR}-01-01' AND {parsed} < TIMESTAMP '{LATEST_YEAR + 1}-01-01')"
    )
    not_future = "TRUE" if future else f"{parsed} <= now()::TIMESTAMP + {FUTURE_SLACK}"
    checks = [
        f"WHEN {column} IS NULL OR {text} = '' THEN NULL",
        # The common case first, so a clean file pays for no regular expression here.
        f"WHEN {parsed} IS NOT NULL AND {in_range} AND {not_future} THEN NULL",
        f"WHEN regexp_matches({text}, '{TWO_DIGIT_YEAR}') "
        "THEN 'has a two-digit year; write the year in full, e.g. 03/04/2020'",
        f"WHEN {parsed} IS NULL THEN 'is not a date we can read: {ACCEPTED}'",
        f"WHEN NOT {in_range} "
        f"THEN 'is not a plausible date (the year must be {EARLIEST_YEAR} to {LATEST_YEAR}); {ACCEPTED}'",
        "ELSE 'is in the future; check the date (dates are read day first, dd/mm/yyyy)'",
    ]
    return "CASE " + " ".join(checks) + " END"


def month_first_sql(text: str) -> str:
    """SQL: M/D/YYYY text rewritten as D/M/YYYY, for formats that say they write dates month first."""
    return rf"regexp_replace({text}, '^(\d{{1,2}})([/.-])(\d{{1,2}})([/.-])', '\3\2\1\4')"


def time_sql(text: str) -> str:
    """SQL: the TIME in `text` (14:08, 14.08 or 1408), or NULL when it cannot be read."""
    parts = f"regexp_extract({text}, '{TIME_PARTS}', ['h', 'm', 's'])"
    return (
        f"CASE WHEN {text} IS NOT NULL THEN list_transform([{parts}], p -> CASE WHEN p.h <> '' "
        "THEN TRY_CAST(lpad(p.h, 2, '0') || ':' || p.m || ':' || coalesce(nullif(p.s, ''), '00') AS TIME) "
        "END)[1] END"
    )


# A date written in numbers with the day and month in either order (04/13/2020, 13.04.2020, 4-5-20):
# the two numbers before the year, and the date itself for a message (only digits and separators).
NUMBERED = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})?"
# The opening of a cell that holds those two numbers and their separators ("dd/mm/"): cells grouped
# by it tell a column's date order from a few hundred groups rather than every cell.
NUMBERED_OPENING = 6


# How many times the dates of one order must outnumber the other's for the column to be of that order.
DOMINANT = 20


@dataclass(frozen=True)
class DateOrder:
    """How a column's numbered dates read: only day first, only month first, or either way.

    Attributes:
        day_first: dates that read only day first (13/04/2020: there is no month 13).
        month_first: dates that read only month first (04/13/2020).
        either: dates that read as two different days (04/05/2020: 4 May or 5 April).
        same: dates that read as the same day either way (04/04/2020).
        first: kind ("day_first", "month_first", "either") -> (row, date) of its first date.
    """

    day_first: int = 0
    month_first: int = 0
    either: int = 0
    same: int = 0
    first: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """"month first" when some dates read only month first, none only day first, and no more
        read either way; "unclear" when more read either way (a mistyped date or two must not turn a
        day-first column); "mixed" when there are both kinds, unless one outnumbers the other
        `DOMINANT` times; else "day first" (also when nothing tells)."""
        if self.month_first and self.day_first:
            # One order this many times the other: the others are mistyped dates (each its own row
            # problem, as ever), not a column in two orders whose every 04/05 must be refused.
            if self.day_first >= DOMINANT * self.month_first:
                return "day first"
            if self.month_first >= DOMINANT * self.day_first and self.month_first >= self.either:
                return "month first"
            return "mixed"
        if self.month_first:
            return "month first" if self.month_first >= self.either else "unclear"
        return "day first"

    def example(self, kind: str) -> str:
        """The first date of a kind, as "row 14 (04/13/2020)", for a message."""
        row, text = self.first[kind]
        return f"row {row} ({text})"


def _kind(first: int, second: int) -> str | None:
    if not (1 <= first <= 31 and 1 <= second <= 31) or (first > 12 and second > 12):
        return None  # no date either way: its own problem says why
    if first > 12:
        return "day_first"
    if second > 12:
        return "month_first"
    return "same" if first == second else "either"


def date_order(groups: Iterable[tuple[str, int, int]]) -> DateOrder:
    """How a column's dates read, from its cells grouped by their opening.

    Args:
        groups: (the group's first cell, how many cells, the first cell's row), one per opening
            (`NUMBERED_OPENING` characters); cells that are not numbered dates are ignored.

    Returns:
        The counts of each kind of date, and where each kind first appears.
    """
    counts = {"day_first": 0, "month_first": 0, "either": 0, "same": 0}
    first: dict[str, tuple[int, str]] = {}
    for text, cells, row in groups:
        found = re.match(NUMBERED, text.strip())
        kind = found and _kind(int(found[1]), int(found[2]))
        if not kind:
            continue
        counts[kind] += cells
        if kind not in first or row < first[kind][0]:
            first[kind] = (row, found[0].rstrip("/.-"))
    return DateOrder(**counts, first=first)


def either_way_sql(text: str) -> str:
    """SQL: TRUE when `text` is a numbered date that reads as two different days (04/05/2020)."""
    parts = f"regexp_extract({text}, '{NUMBERED}', ['a', 'b'])"
    numbers = f"list_transform([{parts}], p -> [TRY_CAST(p.a AS INTEGER), TRY_CAST(p.b AS INTEGER)])"
    # A one-element list and a lambda, so the regular expression runs once per value.
    return (
        f"list_transform({numbers}, n -> n[1] <> n[2] AND n[1] BETWEEN 1 AND 12 AND n[2] BETWEEN 1 AND 12)[1]"
    )
