"""Read an export file into a temporary all-text table, whatever its quirks, before the store is locked.

What a file is comes from its content (`containers`: text by its byte-order mark whatever the name,
VAN's text ".xls", a zip holding one export); text in an unknown encoding is identified by
`charset-normalizer` (`encodings`); workbooks are read with calamine (`workbooks`). DuckDB reads
UTF-8 text itself, fast; anything else is first transcoded to a private temporary UTF-8 copy.

Every cell is kept as text, exactly as written, with its row number in the file, so the checks
downstream can name the row a person would see in a spreadsheet. Files beyond the `limits` are
refused before they are read.

`read()` does all of this in a connection that is not yet attached to any store, so a slow or
hostile file never holds the store's write lock; `connect(..., into=source.connection)` then
attaches the store to the connection that already holds the file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.errors import InputError
from workbench.ingest import containers, encodings, limits, workbooks
from workbench.store import db

DELIMITERS = (",", ";", "\t")
# The file's own row number travels beside its cells in a column whose name begins with a control
# character. Staging replaces control characters in every header, so no file can name this column.
ROW_NAME = workbooks.ROW_NAME
CHUNK = 8 * 1024 * 1024
HEAD = 1024 * 1024  # what encoding and delimiter detection look at
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def quote(identifier: str) -> str:
    """An identifier quoted for SQL, whatever characters the file gave it."""
    return '"' + str(identifier).replace('"', '""') + '"'


ROW = quote(ROW_NAME)  # as written in SQL
file_format = containers.file_format


@dataclass(frozen=True)
class SourceFile:
    """An export staged as text: the temp table, its headers in order, and how it was read."""

    table: str
    headers: list[str]
    rows: int
    fmt: str
    encoding: str | None = None
    delimiter: str | None = None
    warnings: list[str] = field(default_factory=list)
    # No NUL byte anywhere in what was read, so no cell needs them stripped (a clean national
    # file then skips one string function per cell: about 0.4 s on 2 million calls).
    nul_free: bool = False
    # A workbook whose serial day numbers count from 1904 (Mac Excel), not from 1900.
    date1904: bool = False


@dataclass
class Source:
    """A file read and checked, held in a connection not yet attached to any store.

    Close it (or use it as a context manager) to drop what was read.
    """

    path: Path
    sheet: str | None
    sha256: str
    staged: SourceFile
    connection: duckdb.DuckDBPyConnection

    def close(self) -> None:
        """Drop the file's cells from memory."""
        self.connection.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def read(path: str | Path, *, sheet: str | None = None) -> Source:
    """Read and check a file without touching any store, so no lock is held while it is read.

    Args:
        path: the export (CSV, TSV, text .xls, XLSX, Parquet, or a zip holding one of them).
        sheet: the workbook sheet to read (default: the first).

    Returns:
        A Source; attach the store with `db.connect(..., into=source.connection)` and import it.

    Raises:
        InputError: the file is missing, unreadable, or beyond the limits.

    Examples:
        >>> with read("calls.csv") as source:                                   # doctest: +SKIP
        ...     with db.session("data/workbench.duckdb", into=source.connection) as con:
        ...         import_calls(con, source)
    """
    path = Path(path)
    connection = db.new_connection()
    try:
        staged = stage(connection, path, sheet=sheet)
        return Source(path, sheet, sha256(path), staged, connection)
    except BaseException:
        connection.close()
        raise


def sha256(path: Path) -> str:
    """The file's SHA-256, so a second import of the same file is recognised."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stage(
    con: duckdb.DuckDBPyConnection, path: Path, *, sheet: str | None = None, table: str = "ingest_raw"
) -> SourceFile:
    """Read `path` into the temp table `table`: one VARCHAR column per header, plus the row number.

    Raises:
        InputError: missing or empty file, unreadable format, unknown sheet, no header row, or a file
            beyond the limits (size, columns, line length, workbook extent).
    """
    if not path.is_file():
        raise InputError(f"No file at {path}. Check the path.")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes): there is nothing to import.")
    limits.check_size(path)
    fmt = containers.content_format(path, file_format(path))
    if fmt == "zip":
        with containers.unzipped(path) as inner:
            staged = stage(con, inner, sheet=sheet, table=table)
        return SourceFile(**{**staged.__dict__, "warnings": [f"Read {inner.name} from {path.name}."]
                             + staged.warnings})  # fmt: skip
    if sheet is not None and fmt != "xlsx":
        raise InputError(f"--sheet only applies to Excel workbooks; {path.name} is {fmt.upper()}.")
    con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    staged = {"csv": _stage_csv, "xlsx": _stage_xlsx, "parquet": _stage_parquet}[fmt](con, path, table, sheet)
    staged = SourceFile(**{**staged.__dict__, "headers": _clean_headers(con, table, staged.headers)})
    if not staged.headers:
        raise InputError(f"{path.name} has no header row: the first row must name the columns.")
    return staged


def _clean_headers(con, table: str, headers: list[str]) -> list[str]:
    """Headers with control characters (line breaks, escapes) turned into spaces, renamed in place."""
    cleaned: list[str] = []
    for index, header in enumerate(headers):
        name = CONTROL.sub(" ", header).strip() if CONTROL.search(header) else header
        if name != header:
            name = name or f"column{index}"
            while name in headers or name in cleaned:
                name += "_"
            con.execute(f"ALTER TABLE temp.{table} RENAME COLUMN {quote(header)} TO {quote(name)}")
        cleaned.append(name)
    return cleaned


# -- CSV and other text ---------------------------------------------------------------------------


def _stage_csv(con, path: Path, table: str, sheet) -> SourceFile:
    with open(path, "rb") as handle:
        head = handle.read(HEAD)
    # Many NUL bytes: UTF-16 without its mark, or not text at all; either way, not UTF-8.
    mostly_text = head.count(b"\x00") * 10 < len(head)
    encoding = encodings.bom(head) or ("utf-8" if mostly_text else encodings.detect(path, head))
    if encoding in ("utf-8", "utf-8-sig"):
        delimiter = _check_header(head.decode("utf-8", "replace"), path.name)
        with contextlib.suppress(duckdb.InvalidInputException):
            return _read_csv(con, path, table, encoding, delimiter)
        _refuse_damaged_utf8(path, head, delimiter)
        encoding = encodings.detect(path, head)  # not UTF-8 after all
    _check_header(head.decode(encoding, "replace"), path.name)
    with encodings.transcoded(path, encoding) as (copy, warnings):
        with open(copy, "rb") as handle:
            delimiter = _check_header(handle.read(HEAD).decode("utf-8", "replace"), path.name)
        try:
            staged = _read_csv(con, copy, table, encoding, delimiter, shown=path.name)
        except duckdb.InvalidInputException:
            # The copy is UTF-8 by construction; if it still will not read, say so, not crash.
            raise InputError(
                f"{path.name} could not be read as {encodings.ENCODING_NAMES.get(encoding, encoding)} "
                "text. Check it opens in a spreadsheet, then save it as 'CSV UTF-8' and import that."
            ) from None
    return SourceFile(**{**staged.__dict__, "warnings": warnings + staged.warnings})


def _refuse_damaged_utf8(path: Path, head: bytes, delimiter: str) -> None:
    """Refuse UTF-8 text that is cut short or has a few bad bytes, rather than guess a code page.

    Read as a code page, every good name in such a file would come out wrong (Zoë as ZoÃ«), and
    what is wrong is one value or the end of the file, which only a person can put right.
    """
    bad = encodings.damaged_utf8(path, head)
    if bad is None:
        return
    where = f"{path.name} line {bad.line:,}{_column_at(path, bad, delimiter)} (byte {bad.offset:,})"
    if bad.truncated:
        raise InputError(
            f"{where}: the file ends part way through a character, so it looks cut short. Nothing was "
            "imported. Export or download the file again (and check the copy finished), then import it."
        )
    raise InputError(
        f"{where}: bytes that are not valid UTF-8, in a file that is otherwise UTF-8. Nothing was "
        "imported. Retype that value in the original system or a spreadsheet, save the file as "
        "'CSV UTF-8' (or export it again), and import it again."
    )


def _column_at(path: Path, bad: encodings.BadBytes, delimiter: str) -> str:
    """', column "Name"' for the bad byte's cell, when its line is one whole row; else nothing."""
    with open(path, "rb") as handle:
        handle.seek(bad.line_start)
        line = handle.readline(limits.MAX_HEADER_BYTES)
    # Bad bytes become lone surrogates, which no valid text holds, so their cell can be found.
    cells = next(csv.reader([line.decode("utf-8", "surrogateescape")], delimiter=delimiter), [])
    header = _header(path, delimiter)
    found = [i for i, cell in enumerate(cells) if re.search("[\udc80-\udcff]", cell)]
    if len(cells) != len(header) or not found:
        return ""  # part of a value that runs over several lines: the line is all we can say
    return f', column "{header[found[0]]}"'


def _check_header(text: str, name: str) -> str:
    """The delimiter that splits the header line most; refuse a header too long or too wide.

    Counting is done outside quotes. Comma is the default.
    """
    line, quoted, ended = [], False, False
    for char in text.lstrip("\ufeff"):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            ended = True
            break
        elif not quoted:
            line.append(char)
    if not ended and len(text.encode("utf-8", "replace")) >= limits.MAX_HEADER_BYTES:
        raise InputError(
            f"{name}: the header row is longer than {limits.MAX_HEADER_BYTES // 1024**2} MB; a real export's "
            f"is a few kilobytes. Check the file is an export with one header row, and that it has at "
            f"most {limits.MAX_COLUMNS:,} columns."
        )
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    if counts[best] + 1 > limits.MAX_COLUMNS:
        raise limits.too_many_columns(name, counts[best] + 1)
    return best if counts[best] else _delimiter_below(text)


def _delimiter_below(text: str) -> str:
    """The delimiter of the first line below that has one, when the first line has none: a title
    above the header ("Northvale welfare calls"). A file of one column has none: comma, the default."""
    for line in text.lstrip("\ufeff").splitlines()[1 : workbooks.TITLE_SPAN + 2]:
        counts = {d: line.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        if counts[best]:
            return best
    return ","


# Fast and parallel first, with the header already read, so DuckDB guesses nothing: a sniffer
# given one line of a million fields asks for gigabytes. A ragged file (rows shorter or longer than
# the header) fails this, and is read again with Python's csv module, row by row, within the limits.
READ_CSV = """
CREATE OR REPLACE TEMP TABLE {table} AS
SELECT * FROM read_csv(?, header = true, delim = ?, quote = '"', escape = '"', auto_detect = false,
                       columns = {columns}, max_line_size = {max_line})
"""


def _read_csv(
    con, path: Path, table: str, encoding: str, delimiter: str, shown: str | None = None
) -> SourceFile:
    name = shown or path.name
    header = _header(path, delimiter, refuse_duplicates=name)
    warnings: list[str] = []
    try:
        if not header or _one_cell(header):
            # A blank first line, or one cell: perhaps a title above the header, which the row-by-row
            # reader finds (workbooks.header_index); DuckDB would take the title for the header.
            raise duckdb.InvalidInputException("blank or one-cell first line")
        con.execute(
            READ_CSV.format(table=table, columns=_columns_literal(header), max_line=limits.MAX_FIELD_BYTES),
            [str(path), delimiter],
        )
    except duckdb.Error as error:
        if _bad_unicode(error):
            raise duckdb.InvalidInputException("not UTF-8") from None
        if "line size" in str(error).lower():
            raise limits.field_too_long(name, _line_number(error)) from None
        warnings = _read_ragged(con, path, table, delimiter, name)
    headers = _columns(con, table)
    if ROW_NAME not in headers:
        # rowid follows the file's order; the header is row 1, so data starts at row 2.
        con.execute(f"ALTER TABLE temp.{table} ADD COLUMN {ROW} BIGINT")
        con.execute(f"UPDATE temp.{table} SET {ROW} = rowid + 2")
    headers = [h for h in headers if h != ROW_NAME]
    rows = con.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
    return SourceFile(table, headers, rows, "csv", encoding, delimiter, warnings=warnings,
                      nul_free=not _has_nul(path))


def _one_cell(header: list[str]) -> bool:
    """A first line of one named cell among blank ones ("Northvale welfare calls,,,,"), as Excel saves
    a sheet with a title in A1. A file of one column has one cell and no blanks: DuckDB reads it."""
    return len(header) > 1 and sum(h != f"column{i}" for i, h in enumerate(header)) == 1


def _header(path: Path, delimiter: str, refuse_duplicates: str | None = None) -> list[str]:
    """The first line's names, made unique and free of control characters ([] if it is blank).

    Raises:
        InputError: with `refuse_duplicates` (the file's name in messages), two columns share a name.
    """
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        csv.field_size_limit(limits.MAX_HEADER_BYTES)
        try:
            first = next(csv.reader(handle, delimiter=delimiter), [])
        except csv.Error:
            return []
    if not any(cell.strip() for cell in first):
        return []
    cells = [CONTROL.sub(" ", cell) for cell in first]
    if refuse_duplicates:
        workbooks.refuse_duplicate_headers(cells, refuse_duplicates, letters=False)
    return workbooks.unique_headers(cells)


def _columns_literal(header: list[str]) -> str:
    def text(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    return "{" + ", ".join(f"{text(name)}: 'VARCHAR'" for name in header) + "}"


def _columns(con, table: str) -> list[str]:
    return [c[0] for c in con.execute(f"SELECT * FROM temp.{table} LIMIT 0").description]


def _line_number(error: Exception) -> int | None:
    found = re.search(r"line (\d+)", str(error), re.IGNORECASE)
    return int(found.group(1)) if found else None


def _has_nul(path: Path) -> bool:
    with open(path, "rb") as handle:
        return any(b"\x00" in chunk for chunk in iter(lambda: handle.read(CHUNK), b""))


def _read_ragged(con, path: Path, table: str, delimiter: str, name: str) -> list[str]:
    """Read the file row by row into `table`; returns what the reader says the user should check."""
    csv.field_size_limit(limits.MAX_FIELD_BYTES)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            # One more line after the file's own, to see whether it ended inside a quoted value.
            reader = csv.reader(itertools.chain(handle, [END + '"\n']), delimiter=delimiter)
            frame = workbooks.frame(_checked_rows(reader, name, delimiter), name)
    except UnicodeDecodeError:
        raise duckdb.InvalidInputException("not UTF-8") from None  # the caller finds the encoding
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise limits.field_too_long(name) from None
        raise InputError(
            f"{name} could not be read as CSV ({type(error).__name__}). Check it opens in a "
            "spreadsheet, then save it again as CSV UTF-8."
        ) from None
    workbooks.load_frame(con, table, frame)
    return workbooks.warnings(frame)


# A noncharacter, which no export holds: the end-of-file line above. Outside quotes it makes a row of
# its own, dropped; a quoted value still open at the end of the file swallows it instead.
END = "\ufdd0"


def _checked_rows(reader, name: str, delimiter: str):
    """The reader's rows, refusing one wider than the limit or a quoted value left open."""
    header, shapes, line = None, set(), 1
    for number, row in enumerate(reader, start=1):
        if row == [END + '"']:
            return
        if len(row) > limits.MAX_COLUMNS:
            raise limits.too_many_columns(name, len(row), f"row {number:,}")
        header = header or (row if any(row) else None)
        if reader.line_num > line:  # only a row over several lines can hold a line break
            _check_quotes(row, header or [], shapes, name, line, delimiter)
        if header and row is not header and len(row) == len(header) and row[0]:
            shapes.add(_shape(row[0]))
        line = reader.line_num + 1
        yield row


def _check_quotes(row, header, shapes, name: str, line: int, delimiter: str) -> None:
    """Refuse a quoted value that is never closed, and so would swallow the rows after it.

    Two signs, either enough: the value runs to the end of the file; or it holds a line break
    followed by a line that looks like a row of its own (as many cells as the header, at least
    three, and a first cell shaped like other rows' first cells, such as SYN3000203). A note that
    runs over several lines shows neither, so it reads as written.
    """
    for index, cell in enumerate(row):
        to_end = cell.endswith(END)
        if to_end or any(_looks_like_row(text, header, shapes, delimiter) for text in cell.split("\n")[1:]):
            start = line + sum(c.count("\n") for c in row[:index])
            column = header[index] if index < len(header) else f"column {index + 1}"
            raise _open_quote(name, start, column, to_end)


def _looks_like_row(text: str, header: list[str], shapes: set[str], delimiter: str) -> bool:
    if len(header) < 3 or text.count(delimiter) < len(header) - 1:
        return False
    cells = next(csv.reader([text], delimiter=delimiter), [])
    return len(cells) == len(header) and _shape(cells[0]) in shapes


def _shape(cell: str) -> str:
    """A cell's shape: letters as A and digits as 9 (SYN3000203 is AAA9999999)."""
    return re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "A", cell.strip()))


def _open_quote(name: str, line: int, column: str, to_end: bool) -> InputError:
    runs = "is never closed: it runs to the end of the file" if to_end else (
        "is not closed where it should be: it runs on over the lines after it, which look like rows")
    return InputError(
        f'{name} line {line:,}, column "{column}": the quote mark (") that opens this value {runs}, '
        "so those rows would be read as part of it. Nothing was imported. Open the file in a text "
        'editor, add the missing closing quote or remove the stray one (a quote inside a value is '
        'written twice: ""), save it, and import it again.'
    )


def _bad_unicode(error: Exception) -> bool:
    # DuckDB's own words ("Invalid unicode (byte sequence mismatch) detected"). Not any mention of
    # UTF-8: the message also lists the file's path, and a transcoded copy is named utf8.csv.
    return "invalid unicode" in str(error).lower()


def _reason(error: Exception) -> str:
    # DuckDB's message can quote the offending line, which may hold a member's details: keep only
    # its first clause.
    return str(error).split("\n")[0].split(":")[0][:120]


# -- Excel ----------------------------------------------------------------------------------------


def _stage_xlsx(con, path: Path, table: str, sheet: str | None) -> SourceFile:
    data = workbooks.read_frame(path, sheet)
    workbooks.load_frame(con, table, data)
    return SourceFile(table, [c for c in data.columns if c != ROW_NAME], len(data), "xlsx",
                      warnings=workbooks.warnings(data), date1904=limits.uses_1904_dates(path))


# -- Parquet --------------------------------------------------------------------------------------

PARQUET_SIZE = """
SELECT count(DISTINCT path_in_schema), coalesce(sum(total_uncompressed_size), 0)
FROM parquet_metadata(?)
"""


def _stage_parquet(con, path: Path, table: str, sheet) -> SourceFile:
    try:
        columns, inflated = con.execute(PARQUET_SIZE, [str(path)]).fetchone()
        if columns > limits.MAX_COLUMNS:
            raise limits.too_many_columns(path.name, columns, "its schema")
        if inflated > limits.MAX_FILE_BYTES:
            raise InputError(
                f"{path.name} expands to {inflated / 1024**2:,.0f} MB; the workbench reads files of up "
                f"to {limits.MAX_FILE_BYTES / 1024**2:,.0f} MB. Split it into parts and import each."
            )
        names = [c[0] for c in con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(path)]).description]
        # Aliased free of control characters here, so no column can take the row number's name.
        aliases = workbooks.unique_headers([CONTROL.sub(" ", c) for c in names])
        pairs = zip(names, aliases, strict=True)
        casts = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(a)}" for c, a in pairs)
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT {casts}, row_number() OVER () AS {ROW} "
            "FROM read_parquet(?)",
            [str(path)],
        )
    except duckdb.Error as error:
        raise InputError(f"{path.name} is not a readable Parquet file ({_reason(error)}).") from None
    rows = con.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
    return SourceFile(table, aliases, rows, "parquet")


__all__ = ["Source", "SourceFile", "read", "stage", "sha256", "file_format", "quote", "ROW", "ROW_NAME"]
