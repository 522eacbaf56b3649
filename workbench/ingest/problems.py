"""Row problems found while importing: collected in SQL, shown safely, written to a rejects file.

A problem names the file, row, column, value and fix. Values from identity columns (names, phone,
email, address, notes, membership number) are never shown: the report gives their shape instead,
e.g. "(phone withheld, 11 characters)", so a problem report can be pasted into an email safely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from workbench import exports
from workbench.ingest.files import ROW, quote

COLUMNS = ["file", "row", "column", "value", "problem", "fix"]
IDENTITY_FIELDS = frozenset(
    {
        "membership_number",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "email",
        "address",
        "notes",
        "postcode",
    }
)
SHOWN_LENGTH = 60
MAX_PROBLEMS = 10_000  # beyond this the report says how many more; the rejects file has them all


@dataclass(frozen=True)
class Check:
    """One field's problem column in the staging table, with its fix."""

    field: str
    fix: str


def empty() -> pd.DataFrame:
    """A problems table with no rows."""
    return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row" else "object") for c in COLUMNS})


def show(field: str, value: str | None) -> str:
    """A value as it may appear in a problem report: withheld for identity fields, else truncated.

    Examples:
        >>> show("phone", "07700 900123")
        '(phone withheld, 12 characters)'
        >>> show("outcome", "Maybe")
        'Maybe'
        >>> show("age", "Jane Smith 07700 900123")
        '(withheld: it looks like text of letters, digits, spaces, 23 characters)'
    """
    if value is None or value is pd.NA:  # NULL arrives as pd.NA where the field has no column
        return "(blank)"
    if field in IDENTITY_FIELDS:
        return f"({field.replace('_', ' ')} withheld, {len(value)} characters)"
    if _identity_like(field, value):
        return f"(withheld: it looks like {_shape(value)}, {len(value)} characters)"
    text = value.replace("\x00", "").replace("\n", " ").replace("\r", " ")
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH] + f"… ({len(text)} characters)"


# A value in the wrong column can still be identity: a name and phone under Age, an email under
# Date. Such values are described by their shape, like identity fields, never echoed.
PHONE_LIKE = re.compile(r"(?:\d[\s().-]*){7,}")
EMAIL_LIKE = re.compile(r"\S@\S")
NAME_LIKE = re.compile(r"[^\W\d_]{2,}[\s,]+[^\W\d_]{2,}")
# Fields where no words belong: two words there are more likely a name than a typo.
WORDLESS_FIELDS = frozenset({"age", "wellbeing", "called_at", "joined_on", "date", "date_of_birth"})


def _identity_like(field: str, value: str) -> bool:
    if PHONE_LIKE.search(value) or EMAIL_LIKE.search(value):
        return True
    return field in WORDLESS_FIELDS and bool(NAME_LIKE.search(value))


def _shape(value: str) -> str:
    """What kinds of characters a value holds, never the characters themselves."""
    if EMAIL_LIKE.search(value):
        return "an email address"
    kinds = [name for name, test in (("letters", str.isalpha), ("digits", str.isdigit),
                                     ("spaces", str.isspace)) if any(test(ch) for ch in value)]
    return "text of " + (", ".join(kinds) or "symbols") + (" and symbols" if any(
        not (ch.isalnum() or ch.isspace()) for ch in value) else "")


def has_any(con: duckdb.DuckDBPyConnection, stage: str, checks: list[Check]) -> bool:
    """True if any row of the staging table has a problem."""
    if not checks:
        return False
    where = " OR ".join(f"{quote('p__' + c.field)} IS NOT NULL" for c in checks)
    return con.execute(f"SELECT count(*) FROM temp.{stage} WHERE {where}").fetchone()[0] > 0


def collect(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    raw: str,
    checks: list[Check],
    columns: dict[str, str],
    file_name: str,
) -> pd.DataFrame:
    """Every problem in the staging table, one row per (row, column), in file order.

    Args:
        stage: temp table with `row` and a `p__<field>` column per check.
        raw: the staged file (ingest_files.stage), for the value as written.
        checks: the problem columns to read.
        columns: field -> the file's header, to name the column as the file does.
        file_name: base name shown in the report.
    """
    parts = []
    for check in checks:
        header = columns.get(check.field)
        value = f"r.{quote(header)}" if header else "NULL"
        parts.append(
            con.execute(
                f"SELECT s.row, ? AS field, ? AS column, {value} AS value, "
                f"s.{quote('p__' + check.field)} AS problem, "
                f"? AS fix FROM temp.{stage} s JOIN temp.{raw} r ON r.{ROW} = s.row "
                f"WHERE s.{quote('p__' + check.field)} IS NOT NULL ORDER BY s.row LIMIT {MAX_PROBLEMS}",
                [check.field, header or check.field.replace("_", " "), check.fix],
            ).fetchdf()
        )
    if not parts or all(p.empty for p in parts):
        return empty()
    found = pd.concat([p for p in parts if not p.empty], ignore_index=True).sort_values(["row", "column"])
    found["value"] = [show(f, v) for f, v in zip(found["field"], found["value"], strict=True)]
    found.insert(0, "file", file_name)
    return found[COLUMNS].head(MAX_PROBLEMS).reset_index(drop=True)


def summary(problems: pd.DataFrame, limit: int = 5) -> str:
    """The first few problems as lines of text, for an error message."""
    lines = [
        f'{r.file} row {r.row}, column "{r.column}": {r.value} {r.problem}. Fix: {r.fix}'
        for r in problems.head(limit).itertuples()
    ]
    more = len(problems) - limit
    if more > 0:
        lines.append(f"... and {more:,} more problem{'s' if more > 1 else ''}.")
    return "\n".join(lines)


def write_rejects(
    con: duckdb.DuckDBPyConnection, raw: str, headers: list[str], problems: pd.DataFrame, path: Path
) -> Path:
    """The rejected rows as written, with their reasons, to a CSV only the owner can read (0600).

    Cells that would run as a spreadsheet formula get a leading apostrophe (OWASP CSV injection).
    """
    reasons = (
        problems.assign(reason=problems["column"] + ": " + problems["problem"])
        .groupby("row")["reason"]
        .agg("; ".join)
        .reset_index()
    )
    con.register("ingest_reasons", reasons)
    try:
        cols = ", ".join(f"r.{quote(h)}" for h in headers)
        rows = con.execute(
            f"SELECT r.{ROW} AS row, g.reason AS problems, {cols} FROM temp.{raw} r "
            f"JOIN ingest_reasons g ON g.row = r.{ROW} ORDER BY r.{ROW}"
        ).fetchdf()
    finally:
        con.unregister("ingest_reasons")
    # The one safe CSV writer: formula-like cells escaped (OWASP), every field quoted, mode 0600.
    return exports.write_csv(rows, path)
