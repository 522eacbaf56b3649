"""One set of filter rules for every view: which branches, wards, rounds and dates a query covers.

Each filter maps an argument to a fixed SQL fragment over one table alias; values are always bound,
never pasted. Store queries join calls `c` to members `m`; the analysis snapshot keeps a member's
branch and ward on each call row, so its queries pass the same alias for both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

import duckdb

from workbench.errors import InputError
from workbench.store import snapshot
from workbench.vocabulary import NEED_CATEGORIES, OUTCOMES

# name -> (whose column: "member" or "call", fragment over that alias)
FILTERS = {
    "branch": ("member", "branch = ?"),
    "ward": ("member", "ward = ?"),
    "round": ("call", "round = ?"),
    "outcome": ("call", "outcome = ?"),
    "date_from": ("call", "called_at >= CAST(? AS DATE)"),
    "date_to": ("call", "called_at < CAST(? AS DATE) + INTERVAL 1 DAY"),
}

KNOWN_QUERIES = {
    "branch": "SELECT DISTINCT branch FROM members WHERE branch IS NOT NULL ORDER BY 1",
    "ward": "SELECT DISTINCT ward FROM members WHERE ward IS NOT NULL ORDER BY 1",
    "round": "SELECT round FROM calls GROUP BY round ORDER BY min(called_at), round",
}


def known(con: duckdb.DuckDBPyConnection, what: str) -> list[str]:
    """The branches, wards or rounds in the store (rounds in the order they were called)."""
    return list(_read(con, ("known", what), KNOWN_QUERIES[what]))


WARDS_QUERY = """
SELECT DISTINCT ward FROM members WHERE ward IS NOT NULL AND (? IS NULL OR branch = ?) ORDER BY 1
"""


def wards(con: duckdb.DuckDBPyConnection, branch: str | None = None) -> list[str]:
    """The wards in the store, or in one branch (for a ward filter that follows the branch filter)."""
    snap = snapshot.current(con)
    if snap is None:
        return [row[0] for row in con.execute(WARDS_QUERY, [branch, branch]).fetchall()]
    return list(snap.derived(("wards", branch), lambda c: _column(c, WARDS_QUERY, [branch, branch])))


def _read(con: duckdb.DuckDBPyConnection, key: tuple, sql: str) -> tuple:
    """The first column of `sql`, from the analysis snapshot if it is of the store as it is now.

    Every filter is checked against these, several times a filter change: the rounds alone scan
    every call (~30 ms on the national store). The snapshot holds the same members and calls, so the
    same query there gives the same answer, and it is worked out once per snapshot.
    """
    snap = snapshot.current(con)
    if snap is None:  # inside a transaction, or no snapshot of this state yet: ask the store
        return _column(con, sql)
    return snap.derived(key, lambda cursor: _column(cursor, sql))


def _column(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    return tuple(row[0] for row in con.execute(sql, params).fetchall())


def check_filters(con: duckdb.DuckDBPyConnection, **filters) -> dict[str, object]:
    """Validate filters; return the ones that are set.

    Raises:
        InputError: an unknown branch, ward, round, outcome or category (naming the known ones),
            or a date that is not YYYY-MM-DD.
    """
    chosen = {k: v for k, v in filters.items() if v is not None}
    for name, value in chosen.items():
        if name in KNOWN_QUERIES:
            allowed = known(con, name)
        elif name == "outcome":
            allowed = list(OUTCOMES)
        elif name == "category":
            allowed = list(NEED_CATEGORIES)
        elif name in DATE_OPTIONS:
            chosen[name] = check_date(DATE_OPTIONS[name], value)
            continue
        else:
            raise InputError(f'Unknown filter "{name}". Filters: {", ".join([*FILTERS, "category"])}.')
        if value not in allowed:
            shown = ", ".join(map(str, allowed[:30])) + (" …" if len(allowed) > 30 else "")
            plural = "branches" if name == "branch" else f"{name}s"
            raise InputError(f'Unknown {name} "{value}". Known {plural}: {shown or "(none in this store)"}.')
    return chosen


# ---- dates given as options ------------------------------------------------------------------------
# Every date a person types (--from, --to, --as-of, the as_of setting) passes one of the two checks
# below, so a date means the same day everywhere. They are strict on purpose: pandas would read ''
# and 'NaN' as NaT (no date at all), '1/2' as 2 January of year 1 and '--1' as year 0, and each of
# those once ran, or crashed, as if it were a day. The years are those an import accepts
# (workbench/ingest/dates.py); a date beyond them is a typo, and overflowed a day's arithmetic.

EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
# How the options are spelled on the command line, for the messages.
DATE_OPTIONS = {"date_from": "--from", "date_to": "--to"}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DAY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?", re.ASCII)
DAY_FORM = "YYYY-MM-DD"
MOMENT_FORM = "YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]"


def check_date(name: str, value: object) -> str:
    """A day as YYYY-MM-DD: `value` is text written that way, or a date (a datetime gives its day).

    `name` is the option as the user wrote it ("--from"); a message names it and the value.

    Raises:
        InputError: anything else: empty, NaN, NaT, another order such as 1/2, a time, a day that
            the calendar does not have (2020-02-30), or a year outside 1900 to 2100.

    Examples:
        >>> check_date("--from", "2020-04-06")
        '2020-04-06'
        >>> check_date("--from", "1/2")
        Traceback (most recent call last):
        ...
        workbench.errors.InputError: --from "1/2" is not a date. Write it as YYYY-MM-DD, a day from 1900 \
to 2100, e.g. 2020-04-06.
    """
    return _checked(name, value, _DAY, DAY_FORM, "a date", "e.g. 2020-04-06").date().isoformat()


def check_moment(name: str, value: object) -> datetime:
    """A moment to count up to (an as-of): a day, or a day and time, as a datetime with no time zone.

    `value` is text written YYYY-MM-DD (midnight starting that day) or YYYY-MM-DD HH:MM[:SS] (a T
    may stand for the space), or a date or datetime (a time zone is dropped, its wall time kept).

    Raises:
        InputError: as for `check_date`, or a time that is not one (25:00), or a time zone in text.
    """
    return _checked(name, value, _DAY_TIME, MOMENT_FORM, "a date or time",
                    "e.g. 2020-04-06 or 2020-04-06 09:30")


def _checked(name: str, value: object, form: re.Pattern, form_text: str, what: str, example: str) -> datetime:
    when = None
    if isinstance(value, datetime):  # pandas' Timestamp too; NaT is a datetime that is not equal to itself
        if value == value:  # noqa: PLR0124
            when = datetime(*value.timetuple()[:6], value.microsecond)  # a plain datetime, wall time
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and form.fullmatch(value):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:  # a day or time the calendar does not have
            when = None
    if when is None or not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        shown = str(value) if len(str(value)) <= 60 else f"{str(value)[:60]}…"
        raise InputError(f'{name} "{shown}" is not {what}. Write it as {form_text}, a day from '
                         f"{EARLIEST_YEAR} to {LATEST_YEAR}, {example}.")
    return when


def where(filters: dict[str, object], allowed: Iterable[str] = tuple(FILTERS), *, calls: str = "c",
          members: str = "m") -> tuple[str, list]:
    """A WHERE body and its parameters for the set filters (keys already validated).

    `calls` and `members` are the aliases the fragments use; over the analysis snapshot, whose call
    rows carry the member's branch and ward, pass the same alias for both.

    Examples:
        >>> where({"branch": "Ashcombe", "round": None})
        ('TRUE AND m.branch = ?', ['Ashcombe'])
        >>> where({"branch": "Ashcombe"}, calls="c", members="c")
        ('TRUE AND c.branch = ?', ['Ashcombe'])
    """
    parts, params = ["TRUE"], []
    for name in allowed:
        if filters.get(name) is not None:
            owner, fragment = FILTERS[name]
            parts.append(f"{members if owner == 'member' else calls}.{fragment}")
            params.append(filters[name])
    return " AND ".join(parts), params


__all__ = ["FILTERS", "check_date", "check_filters", "check_moment", "known", "wards", "where"]
