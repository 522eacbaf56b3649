"""Read a sheet of an .xlsx workbook as rows of text, with calamine (fast, read-only).

`limits.check_workbook` runs first: calamine lays a sheet out as a dense grid, so a workbook must
be shown to be reasonable before it is opened. A workbook calamine cannot parse (broken XML, a
character XML forbids) is the file's problem, and the message names the file and sheet.
openpyxl and xlsxwriter stay for writing workbooks.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import pandas as pd

from workbench.errors import InputError
from workbench.ingest import limits

# The name of the column holding each row's number in the file; see files.ROW.
ROW_NAME = "\x01row"


def read_frame(path: Path, sheet: str | None) -> pd.DataFrame:
    """The chosen sheet (default: the first) as text cells, with each row's number in the sheet.

    Raises:
        InputError: not a workbook, no such sheet, beyond the limits, or cells that cannot be parsed.
    """
    return frame(read_rows(path, sheet))


def read_rows(path: Path, sheet: str | None = None, *, data: bytes | None = None) -> list[list]:
    """The chosen sheet (default: the first) as calamine gives it: a list per row from row 1, cells as
    str, float, bool, date or datetime ("" when empty). Checked against the limits first.

    Args:
        data: the workbook's bytes, when they were decrypted in memory (`path` then only names it).

    Raises:
        InputError: not a workbook, no such sheet, beyond the limits, or cells that cannot be parsed.
    """
    import python_calamine

    chosen = limits.check_workbook(path, sheet, data=data)
    try:
        source = python_calamine.CalamineWorkbook.from_path(str(path)) if data is None else (
            python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)))
        with source as book:
            return book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except Exception as error:  # calamine's own errors, and a Rust panic surfaced as an exception
        raise InputError(
            f'{path.name}: sheet "{chosen}" could not be read ({_reason(error)}); the workbook is '
            "damaged or holds characters a workbook may not. Open it in Excel and save it again as "
            ".xlsx, or export the sheet as CSV UTF-8, and import that."
        ) from None


def _reason(error: Exception) -> str:
    # calamine's messages can quote cell text: keep only the kind of error.
    return type(error).__name__


def frame(rows) -> pd.DataFrame:
    """Rows of cells as an all-text frame: the first non-blank row names the columns, blank rows go.

    A row longer than the header gets columns of its own (reported as extra), never silently cut.
    """
    header, data, numbers = None, [], []
    for number, values in enumerate(rows, start=1):
        cells = [_cell(v) for v in values]
        if header is None:
            if any(c not in (None, "") for c in cells):
                header = unique_headers(cells)
            continue
        if any(c not in (None, "") for c in cells):
            data.append(cells)
            numbers.append(number)
    if header is None:
        return pd.DataFrame({ROW_NAME: pd.Series([], dtype="int64")})
    width = max([len(header), *(len(row) for row in data)])
    header = unique_headers(header + [None] * (width - len(header)))
    data = [row + [None] * (width - len(row)) for row in data]
    result = pd.DataFrame(data, columns=header, dtype="object")
    result[ROW_NAME] = pd.Series(numbers, dtype="int64")
    return result


def load_frame(con: duckdb.DuckDBPyConnection, table: str, data: pd.DataFrame) -> None:
    """The frame as the temp table `table`."""
    con.register("ingest_frame", data)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM ingest_frame")
    finally:
        con.unregister("ingest_frame")


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def unique_headers(cells: list) -> list[str]:
    """Header cells made unique ("Ward", "Ward_1") and named where blank ("column3")."""
    seen: dict[str, int] = {}
    out = []
    for index, cell in enumerate(cells):
        name = str(cell).strip() if cell not in (None, "") else f"column{index}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


__all__ = ["ROW_NAME", "read_frame", "read_rows", "frame", "load_frame", "unique_headers"]
