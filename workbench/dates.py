"""Dates and times as real exports write them, read in SQL, and never month-first.

Accepted: UK day-first `dd/mm/yyyy` (also with `-` or `.`, or `3 Apr 2020`) with an optional
`HH:MM[:SS]`; ISO 8601 (`2020-04-03`, `2020-04-03T10:15:00`); and Excel serial day numbers when
the file is a workbook. "04/03/2020" is always 4 March. A date that is not a real day-first date
("12/25/2020"), has a two-digit year ("03/04/20"), or lies in the future is an error on its row.

The functions here return SQL expressions over an already-quoted column, so 2 million dates are
parsed by DuckDB in one pass rather than by Python one at a time.
"""

from __future__ import annotations

UK_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d %b %Y %H:%M", "%d %b %Y", "%d %B %Y %H:%M", "%d %B %Y",
)
ISO_PREFIX = r"^\d{4}-\d{2}-\d{2}"
TWO_DIGIT_YEAR = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(\s.*)?$"
EXCEL_SERIAL = r"^\d{1,7}(\.\d+)?$"
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
# A little slack for clocks and time zones before a call counts as "in the future".
FUTURE_SLACK = "INTERVAL 1 DAY"

ACCEPTED = "dates are read day first, as dd/mm/yyyy [HH:MM], or as ISO 8601 yyyy-mm-dd"


def _formats() -> str:
    return "[" + ", ".join(f"'{f}'" for f in UK_FORMATS) + "]"


def parse_sql(column: str, *, serials: bool = False) -> str:
    """SQL: the TIMESTAMP in `column` (a quoted identifier or expression), or NULL.

    Args:
        column: SQL expression holding the text; blank means no date.
        serials: also read Excel serial day numbers (workbooks only: in a CSV they are
            more likely a typo than a date).
    """
    text = f"trim({column})"
    serial = (f"WHEN regexp_matches({text}, '{EXCEL_SERIAL}') AND TRY_CAST({text} AS DOUBLE) BETWEEN 1 AND 2958465 "
              f"THEN TIMESTAMP '1899-12-30' + to_seconds(CAST(round(CAST({text} AS DOUBLE) * 86400) AS BIGINT)) "
              if serials else "")
    return (f"CASE WHEN {text} = '' OR {column} IS NULL THEN NULL "
            f"WHEN regexp_matches({text}, '{TWO_DIGIT_YEAR}') THEN NULL "
            f"WHEN regexp_matches({text}, '{ISO_PREFIX}') THEN TRY_CAST({text} AS TIMESTAMP) "
            f"{serial}"
            f"ELSE try_strptime({text}, {_formats()}) END")


def problem_sql(column: str, parsed: str, *, future: bool = False) -> str:
    """SQL: why the text in `column` is not an acceptable date, or NULL when it is.

    Args:
        column: the raw text, as in `parse_sql`.
        parsed: the expression (usually a column alias) holding `parse_sql`'s result.
        future: allow dates in the future (none of ours do).
    """
    text = f"trim({column})"
    checks = [
        f"WHEN {column} IS NULL OR {text} = '' THEN NULL",
        f"WHEN regexp_matches({text}, '{TWO_DIGIT_YEAR}') "
        "THEN 'has a two-digit year; write the year in full, e.g. 03/04/2020'",
        f"WHEN {parsed} IS NULL THEN 'is not a date we can read: {ACCEPTED}'",
        f"WHEN year({parsed}) NOT BETWEEN {EARLIEST_YEAR} AND {LATEST_YEAR} "
        f"THEN 'is not a plausible date (the year must be {EARLIEST_YEAR} to {LATEST_YEAR}); {ACCEPTED}'",
    ]
    if not future:
        checks.append(f"WHEN {parsed} > now()::TIMESTAMP + {FUTURE_SLACK} "
                      "THEN 'is in the future; check the date (dates are read day first, dd/mm/yyyy)'")
    return "CASE " + " ".join(checks) + " END"
