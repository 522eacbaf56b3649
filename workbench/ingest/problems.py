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
from workbench.errors import InputError
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
REJECTS_FORMATS = (".csv", ".xlsx")
EXCEL_ROWS, EXCEL_CELL = 1_048_575, 32_767  # data rows under a header, and characters in a cell


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


def rejects_format(path: str | Path) -> str:
    """csv or xlsx, from the rejects file's name.

    Raises:
        InputError: any other extension, naming the allowed ones.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in REJECTS_FORMATS:
        raise InputError(
            f"Unsupported rejects file extension: '{suffix or '(none)'}' ({Path(path).name}). "
            f"Supported formats: {', '.join(REJECTS_FORMATS)}."
        )
    return suffix[1:]


def count_rejected(con: duckdb.DuckDBPyConnection, stage: str, checks: list[Check]) -> int:
    """How many rows of the staging table have at least one problem (every one, never capped)."""
    if not checks:
        return 0
    return con.execute(f"SELECT count(*) FROM temp.{stage} WHERE {_any_problem(checks)}").fetchone()[0]


def _any_problem(checks: list[Check], alias: str = "") -> str:
    return "(" + " OR ".join(f"{alias}{quote('p__' + c.field)} IS NOT NULL" for c in checks) + ")"


REJECTED_ROWS = """
SELECT r.{row} AS c0, concat_ws('; ', {reasons}) AS c1{cells}
FROM temp.{stage} s JOIN temp.{raw} r ON r.{row} = s.row
WHERE {rejected} ORDER BY r.{row}
"""


def write_rejects(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    raw: str,
    headers: list[str],
    checks: list[Check],
    columns: dict[str, str],
    path: Path,
    *,
    force: bool = False,
) -> Path:
    """Every rejected row as written, with its reasons, to a CSV or XLSX only the owner can read.

    The format follows the name (`rejects_format`); both go through the one safe writer, so cells
    that would run as a spreadsheet formula are escaped (OWASP CSV injection).

    Args:
        stage: temp table with `row` and a `p__<field>` column per check.
        raw: the staged file, for the cells as written.
        headers: the file's headers, in order.
        checks: the problem columns.
        columns: field -> the file's header, to name the column as the file does.
        path: where to write (.csv or .xlsx).
        force: replace a file (or symbolic link) already at `path`; without it, it is refused.

    Raises:
        InputError: a workbook was asked for but the rows or a cell exceed what Excel holds.
    """
    fmt = rejects_format(path)
    reasons = ", ".join(_reason_sql(c, columns.get(c.field) or c.field.replace("_", " ")) for c in checks)
    cells = "".join(f", CAST(r.{quote(h)} AS VARCHAR) AS c{i + 2}" for i, h in enumerate(headers))
    sql = REJECTED_ROWS.format(
        row=ROW, reasons=reasons, cells=cells, stage=stage, raw=raw, rejected=_any_problem(checks, "s.")
    )
    rows = con.execute(sql).fetchdf()
    # Set after reading: a file's own header may be "row" or "problems" too, and both are kept.
    rows.columns = ["row", "problems", *headers]
    if fmt == "xlsx":
        _check_fits_excel(rows, path)
        return exports.write_xlsx(rows, path, sheet_name="Rejected rows", force=force)
    return exports.write_csv(rows, path, force=force)


def _reason_sql(check: Check, column: str) -> str:
    problem = "s." + quote("p__" + check.field)
    return f"CASE WHEN {problem} IS NOT NULL THEN {_literal(column + ': ')} || {problem} END"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _check_fits_excel(rows: pd.DataFrame, path: Path) -> None:
    lengths = [rows.iloc[:, i].astype("string").str.len().max() for i in range(rows.shape[1])]
    longest = int(max((n for n in lengths if pd.notna(n)), default=0))
    if len(rows) > EXCEL_ROWS or longest > EXCEL_CELL:
        raise InputError(
            f"The rejected rows do not fit in a workbook ({len(rows):,} rows; the longest cell has "
            f"{longest:,} characters; Excel holds {EXCEL_ROWS:,} rows and {EXCEL_CELL:,} characters a "
            f"cell), so nothing was imported. Use --rejects {Path(path).with_suffix('.csv').name} instead."
        )


def mark_duplicates(con: duckdb.DuckDBPyConnection, stage: str, duplicates_sql: str, mark_sql: str) -> None:
    """An id seen twice in one file is a problem on its later rows (calls and services alike).

    `duplicates_sql` selects each repeated id with its first row from temp.{stage}; `mark_sql` sets
    the problem on the later rows from temp.ingest_duplicates.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE ingest_duplicates AS {duplicates_sql.format(stage=stage)}")
    if con.execute("SELECT count(*) FROM temp.ingest_duplicates").fetchone()[0]:
        con.execute(mark_sql.format(stage=stage))
