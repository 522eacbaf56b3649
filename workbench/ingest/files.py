"""Read an export file (CSV, XLSX or Parquet) into a temporary all-text table, whatever its quirks.

CSV files may be UTF-8 with or without a byte-order mark, Windows-1252 (Excel's "CSV"), or UTF-16
(Excel's "Unicode text"), separated by commas, semicolons or tabs. DuckDB reads UTF-8 itself, fast;
anything else is first transcoded to a private temporary UTF-8 copy that is deleted afterwards.

Every cell is kept as text, exactly as written, with its row number in the file (`__row`), so the
checks downstream can name the row a person would see in a spreadsheet.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from workbench.errors import InputError

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
}
DELIMITERS = (",", ";", "\t")
ROW = "__row"
MAX_LINE_BYTES = 64 * 1024 * 1024  # a very long notes cell must give a row error, not a reader crash
CHUNK = 8 * 1024 * 1024


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


def sha256(path: Path) -> str:
    """The file's SHA-256, so a second import of the same file is recognised."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_format(path: Path) -> str:
    """csv | xlsx | parquet, from the file name.

    Raises:
        InputError: an extension the workbench does not read.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = (
            " Save it from Excel as .xlsx or CSV."
            if path.suffix.lower() in (".xls", ".ods", ".numbers")
            else ""
        )
        raise InputError(
            f"Unsupported file extension: '{path.suffix or '(none)'}' ({path.name}). "
            f"Supported formats: .csv, .tsv, .txt, .parquet, .xlsx.{hint}"
        )
    return fmt


def stage(
    con: duckdb.DuckDBPyConnection, path: Path, *, sheet: str | None = None, table: str = "ingest_raw"
) -> SourceFile:
    """Read `path` into the temp table `table`: one VARCHAR column per header, plus __row.

    Raises:
        InputError: missing or empty file, unreadable format, unknown sheet, no header row.
    """
    if not path.is_file():
        raise InputError(f"No file at {path}. Check the path.")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes): there is nothing to import.")
    fmt = file_format(path)
    if sheet is not None and fmt != "xlsx":
        raise InputError(f"--sheet only applies to Excel workbooks; {path.name} is {fmt.upper()}.")
    con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    staged = {"csv": _stage_csv, "xlsx": _stage_xlsx, "parquet": _stage_parquet}[fmt](con, path, table, sheet)
    if not staged.headers:
        raise InputError(f"{path.name} has no header row: the first row must name the columns.")
    return staged


def quote(identifier: str) -> str:
    """An identifier quoted for SQL, whatever characters the file gave it."""
    return '"' + str(identifier).replace('"', '""') + '"'


# -- CSV ------------------------------------------------------------------------------------------


def _stage_csv(con, path: Path, table: str, sheet) -> SourceFile:
    head = path.open("rb").read(65536)
    encoding = _bom_encoding(head)
    if encoding in ("utf-8", "utf-8-sig"):
        with contextlib.suppress(duckdb.InvalidInputException):
            return _read_csv(con, path, table, encoding, _delimiter(head.decode("utf-8", "replace")))
        encoding = "cp1252"  # not UTF-8 after all: Excel's Windows "CSV"
    with _transcoded(path, encoding) as (copy, warnings):
        text = copy.open("rb").read(65536).decode("utf-8", "replace")
        staged = _read_csv(con, copy, table, encoding, _delimiter(text))
    return SourceFile(**{**staged.__dict__, "warnings": warnings})


def _bom_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _delimiter(text: str) -> str:
    """The delimiter that splits the header line most, counting outside quotes; comma by default."""
    line, quoted = [], False
    for char in text.lstrip("\ufeff"):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            break
        elif not quoted:
            line.append(char)
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


@contextlib.contextmanager
def _transcoded(path: Path, encoding: str) -> Iterator[tuple[Path, list[str]]]:
    # The copy holds the same personal data as the original, so it lives in a private (0700)
    # directory, is written 0600, and is removed however the import ends.
    folder = Path(tempfile.mkdtemp(prefix="workbench-import-"))
    copy = folder / "utf8.csv"
    warnings: list[str] = []
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        with open(path, "rb") as source, open(copy, "w", encoding="utf-8", newline="") as target:
            copy.chmod(0o600)
            while chunk := source.read(CHUNK):
                target.write(decoder.decode(chunk))
            target.write(decoder.decode(b"", final=True))
        if encoding == "cp1252":
            warnings.append(
                f"{path.name} is not UTF-8; it was read as Windows-1252 (Excel's CSV). "
                "If letters look wrong, save it as 'CSV UTF-8' and import again."
            )
        yield copy, warnings
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Fast and parallel first. A ragged file (rows shorter or longer than the header) fails that, and
# DuckDB's null_padding then guesses the header from the widest row, so such a file (rare, and
# small: hand-edited) is read again with Python's csv module, which keeps the first row as header.
READ_CSV = """
CREATE OR REPLACE TEMP TABLE {table} AS
SELECT * FROM read_csv(?, all_varchar = true, header = true, delim = ?, quote = '"', escape = '"',
                       max_line_size = {max_line},
                       auto_detect = true, sample_size = 20480)
"""


def _read_csv(con, path: Path, table: str, encoding: str, delimiter: str) -> SourceFile:
    try:
        con.execute(READ_CSV.format(table=table, max_line=MAX_LINE_BYTES), [str(path), delimiter])
    except duckdb.Error as error:
        if _bad_unicode(error):
            raise duckdb.InvalidInputException("not UTF-8") from None
        _read_ragged(con, path, table, delimiter)
    headers = [c for c in con.execute(f"SELECT * FROM temp.{table} LIMIT 0").fetchdf().columns]
    if ROW not in headers and not _same_header(headers, path, delimiter):
        # DuckDB's sniffer took another row for the header (it does on ragged files).
        _read_ragged(con, path, table, delimiter)
        headers = [c for c in con.execute(f"SELECT * FROM temp.{table} LIMIT 0").fetchdf().columns]
    if ROW not in headers:
        # rowid follows the file's order; the header is row 1, so data starts at row 2.
        con.execute(f"ALTER TABLE temp.{table} ADD COLUMN {ROW} BIGINT")
        con.execute(f"UPDATE temp.{table} SET {ROW} = rowid + 2")
    headers = [h for h in headers if h != ROW]
    rows = con.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
    return SourceFile(table, headers, rows, "csv", encoding, delimiter, nul_free=not _has_nul(path))


def _has_nul(path: Path) -> bool:
    with open(path, "rb") as handle:
        return any(b"\x00" in chunk for chunk in iter(lambda: handle.read(CHUNK), b""))


def _same_header(headers: list[str], path: Path, delimiter: str) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        csv.field_size_limit(MAX_LINE_BYTES)
        try:
            first = next(csv.reader(handle, delimiter=delimiter), [])
        except csv.Error:
            return True  # let DuckDB's reading stand
    named = [h.strip() for h in first]
    return len(named) == len(headers) and all(
        not n or n == h or named.count(n) > 1 for n, h in zip(named, headers, strict=True)
    )


def _read_ragged(con, path: Path, table: str, delimiter: str) -> None:
    csv.field_size_limit(MAX_LINE_BYTES)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle, delimiter=delimiter))
    except (csv.Error, UnicodeDecodeError) as error:
        raise InputError(
            f"{path.name} could not be read as CSV ({type(error).__name__}). Check it opens in a "
            "spreadsheet, then save it again as CSV UTF-8."
        ) from None
    frame = _sheet_frame(iter(rows))
    con.register("ingest_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM ingest_frame")
    finally:
        con.unregister("ingest_frame")


def _bad_unicode(error: Exception) -> bool:
    text = str(error).lower()
    return "unicode" in text or "utf-8" in text or "utf8" in text


def _reason(error: Exception) -> str:
    # DuckDB's message can quote the offending line, which may hold a member's details: keep only
    # its first clause.
    return str(error).split("\n")[0].split(":")[0][:120]


# -- Excel ----------------------------------------------------------------------------------------


def _stage_xlsx(con, path: Path, table: str, sheet: str | None) -> SourceFile:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise InputError(
            f"{path.name} is not a readable .xlsx workbook. Open it in Excel and save it "
            "again as .xlsx, or export it as CSV."
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(f'{path.name} has no sheet "{sheet}". Sheets: {", ".join(book.sheetnames)}.')
        rows = book[sheet] if sheet else book.worksheets[0]
        frame = _sheet_frame(rows.iter_rows(values_only=True))
    finally:
        book.close()
    headers = [c for c in frame.columns if c != ROW]
    con.register("ingest_frame", frame)
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM ingest_frame")
    con.unregister("ingest_frame")
    return SourceFile(table, headers, len(frame), "xlsx")


def _sheet_frame(rows) -> pd.DataFrame:
    header, data, numbers = None, [], []
    for number, values in enumerate(rows, start=1):
        cells = [_cell(v) for v in values]
        if header is None:
            if any(c not in (None, "") for c in cells):
                header = _unique_headers(cells)
            continue
        if any(c not in (None, "") for c in cells):
            data.append(cells)
            numbers.append(number)
    if header is None:
        return pd.DataFrame({ROW: pd.Series([], dtype="int64")})
    # A row longer than the header gets columns of its own (reported as extra), never silently cut.
    width = max([len(header), *(len(row) for row in data)])
    header = _unique_headers(header + [None] * (width - len(header)))
    data = [row + [None] * (width - len(row)) for row in data]
    frame = pd.DataFrame(data, columns=header, dtype="object")
    frame[ROW] = pd.Series(numbers, dtype="int64")
    return frame


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


def _unique_headers(cells: list) -> list[str]:
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


# -- Parquet --------------------------------------------------------------------------------------


def _stage_parquet(con, path: Path, table: str, sheet) -> SourceFile:
    try:
        columns = con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(path)]).fetchdf().columns
        casts = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in columns)
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT {casts}, row_number() OVER () AS {ROW} "
            "FROM read_parquet(?)",
            [str(path)],
        )
    except duckdb.Error as error:
        raise InputError(f"{path.name} is not a readable Parquet file ({_reason(error)}).") from None
    rows = con.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
    return SourceFile(table, list(columns), rows, "parquet")
