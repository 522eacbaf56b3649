"""A list the workbench sent out, filled in and sent back: read as a table, inside the ingest limits.

A returned follow-up list is a file from outside like any export: it may be damaged, or built to
hurt (a workbook declaring a cell at XFD1048576, a zip bomb, a line of a million fields). So it is
read the way every import is: a workbook is checked by `limits.check_workbook` (declared extent,
inflated sizes) and then read with calamine (`workbooks.read_rows`); a CSV is read line by line with
the field, column, row and cell limits. Beyond a limit it is refused in seconds, naming the file.

What comes back is the header row (the first whose first cell is the one asked for; the notice
lines above it are skipped) and the rows below it, with the formula escapes the writer added taken
off again (`exports.unescape_cell`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import encodings, limits, workbooks

SUFFIXES = (".csv", ".xlsx")
Rows = list[tuple[int, list[object]]]


def read_table(
    path: str | Path, *, header_first: str, data: bytes | None = None
) -> tuple[list[str], Rows]:
    """Read a returned CSV or XLSX list: its header and data rows, within the ingest limits.

    Notice lines (`#`) and blank lines are skipped; the header is the first row whose first cell is
    `header_first`. Cells are unescaped (`exports.unescape_cell`) and stripped; a whole number in a
    workbook comes back as an int.

    Args:
        data: the workbook's bytes, when they were decrypted in memory (`path` then only names it).

    Returns:
        (header, rows) where each row is (the row number a spreadsheet shows, its cells).

    Raises:
        InputError: not a .csv or .xlsx file, one that cannot be read as one, one beyond the limits
            (see `ingest.limits`), or no header row.

    Examples:
        >>> import tempfile, pandas as pd
        >>> sent = exports.write_csv(pd.DataFrame({"Row": [1], "Name": ["=1+1"]}),
        ...                          Path(tempfile.mkdtemp()) / "l.csv", notice=exports.Notice("N"))
        >>> read_table(sent, header_first="Row")
        (['Row', 'Name'], [(4, ['1', '=1+1'])])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"Unsupported file extension: '{path.suffix}' ({path.name}). Supported formats: "
            ".csv, .xlsx (the list as it was sent out, with the outcome columns filled in)."
        )
    raw = _csv_rows(path, header_first) if suffix == ".csv" else _xlsx_rows(path, data)
    for index, (_line, cells) in enumerate(raw):
        if cells and label(cells[0]) == label(header_first):
            header = [str(c or "").strip() for c in cells]
            rows = [
                (n, [_clean(c) for c in r])
                for n, r in raw[index + 1 :]
                if any(_clean(c) not in ("", None) for c in r)
                and not str(r[0] or "").startswith(exports.NOTICE_MARK)
            ]
            return header, rows
    raise InputError(
        f'{path.name}: no header row starting with "{header_first}" was found. Send back the '
        "list as it was exported, with its header row unchanged."
    )


HEAD_BYTES = 1 << 16  # what the encoding and the separator are judged by

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                   "\u2066\u2067\u2068\u2069"))


def label(value: object) -> str:
    """A header or a word typed in a cell as compared: case, spaces (a no-break space too) and
    invisible marks (zero-width spaces, direction marks) set aside, as a person reads it.

    Examples:
        >>> label("  OUTCOME\u00a0"), label("resolved\u200b")
        ('outcome', 'resolved')
    """
    return " ".join(str(value or "").translate(INVISIBLE).split()).casefold()


def _clean(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # calamine gives every number as a float; a row number is whole
    value = exports.unescape_cell(value.strip() if isinstance(value, str) else value)
    return "" if value is None else value


def _xlsx_rows(path: Path, data: bytes | None) -> Rows:
    rows = workbooks.read_rows(path, data=data)
    return [(n, list(row)) for n, row in enumerate(rows, start=1)]


def _csv_rows(path: Path, header_first: str) -> Rows:
    """A returned CSV's rows: UTF-8 as exported, or what Excel saves it as on a British PC (Windows-1252,
    "CSV (Comma delimited)") or with a European locale (semicolons)."""
    limits.check_size(path)
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    encoding = encodings.bom(head) or "utf-8-sig"  # UTF-16 as Excel's "Unicode Text" saves it
    try:
        head.decode(encoding)
    except UnicodeDecodeError as error:
        # A character cut in two where the head ends is no evidence; anywhere else, the guess was wrong.
        if not (len(head) == HEAD_BYTES and error.start > len(head) - 4):
            encoding = _windows_or_detected(path, head)
    return _csv_rows_as(path, encoding, _delimiter(head.decode(encoding, "replace"), header_first))


def _windows_or_detected(path: Path, head: bytes) -> str:
    """A list exported here and saved again by Excel on a British PC is Windows-1252; only bytes that
    cannot be that are judged by the detector (a short sample of names fits several code pages)."""
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return encodings.detect(path, head)
    return "cp1252"


def _delimiter(text: str, header_first: str) -> str:
    """The header row's separator: a comma, or the semicolon or tab a spreadsheet saved instead."""
    for line in text.splitlines():
        if label(line.replace('"', "")).startswith(label(header_first)):
            return max(",;\t", key=line.count)
    return ","


def _csv_rows_as(path: Path, encoding: str, delimiter: str) -> Rows:
    csv.field_size_limit(limits.MAX_FIELD_BYTES)
    rows: Rows = []
    cells = 0
    try:
        with open(path, encoding=encoding, newline="") as handle:
            reader = csv.reader(_lines(handle, path.name), delimiter=delimiter)
            for number, row in enumerate(reader, start=1):
                if len(row) > limits.MAX_COLUMNS:
                    raise limits.too_many_columns(path.name, len(row), f"row {number:,}")
                cells += len(row)
                if number > limits.MAX_SHEET_ROWS or cells > limits.MAX_SHEET_CELLS:
                    raise _too_large(path.name)
                if row and not row[0].startswith(exports.NOTICE_MARK):
                    rows.append((number, row))
    except UnicodeDecodeError:
        raise InputError(
            f"{path.name} is not a UTF-8 CSV file. Save it from your spreadsheet as "
            '"CSV UTF-8 (comma delimited)" and try again.'
        ) from None
    except csv.Error as error:
        if "field limit" in str(error):
            raise limits.field_too_long(path.name) from None
        raise InputError(f"Cannot read {path.name} as CSV ({type(error).__name__}).") from None
    except OSError as error:
        raise InputError(f"Cannot read {path.name} as CSV ({type(error).__name__}).") from None
    return rows


def _lines(handle: TextIO, name: str) -> Iterator[str]:
    """The file's lines, each read at most MAX_FIELD_BYTES at a time: a longer line is refused
    before it is held whole (a file with no line ends at all would otherwise be one huge line)."""
    number = 0
    while line := handle.readline(limits.MAX_FIELD_BYTES + 1):
        number += 1
        if len(line) > limits.MAX_FIELD_BYTES and not line.endswith(("\n", "\r")):
            raise limits.field_too_long(name, number)
        yield line


def _too_large(name: str) -> InputError:
    return InputError(
        f"{name} has more than {limits.MAX_SHEET_ROWS:,} rows or {limits.MAX_SHEET_CELLS:,} cells; a "
        "returned list has one row per person it was sent with. Send back the list as it was exported."
    )


__all__ = ["SUFFIXES", "read_table"]
