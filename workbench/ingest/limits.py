"""The most a file may hold, checked before it is read, so a hostile file is refused in seconds.

A real export has tens of columns and fields of at most a few thousand characters. Beyond these
limits a file is refused with a message that says which limit and how to get under it; nothing is
read into memory first. The README's "Limits" table lists the same numbers.

Workbooks are zip archives of XML, and the reader (calamine) lays a sheet out as a dense grid from
its first to its last cell, so one cell at XFD1048576 would ask for 17 billion cells. So before a
workbook is opened, the archive's declared sizes are checked, and the chosen sheet's XML is scanned
for the furthest cell it could place. Python's zipfile never inflates a member past its declared
size (a lying size fails its CRC), so the scan is bounded; every other XML part is inflated once
the same way, so no part can claim a small size and then expand without limit in calamine.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import defusedxml
import defusedxml.ElementTree
from defusedxml.ElementTree import ParseError

from workbench.errors import InputError

if TYPE_CHECKING:  # a type name only: every part is parsed by defusedxml
    from xml.etree.ElementTree import Element  # nosec B405

MAX_FILE_BYTES = 2 * 1024**3  # a national call export (2M rows) is about 0.3 GB
MAX_COLUMNS = 1_000  # NationBuilder's widest people export has a few hundred
MAX_FIELD_BYTES = 16 * 1024**2  # one line of a text file, and so any one field in it
MAX_HEADER_BYTES = 1024**2  # the header line: 1,000 column names of up to 1,000 characters
MAX_WORKBOOK_BYTES = 256 * 1024**2  # the .xlsx file itself (compressed)
MAX_WORKBOOK_XML_BYTES = 512 * 1024**2  # all its parts, uncompressed, as the archive declares them
MAX_SHEET_ROWS = 1_048_576  # Excel's own limit
MAX_SHEET_CELLS = 20_000_000  # rows x columns of the grid the sheet spans, e.g. 1,000,000 x 20
MAX_ZIP_MEMBERS = 1_000

SCAN_CHUNK = 4 * 1024**2
# Every cell and row start tag: its name, and its position (r="AB12" or r="12") when it has one.
POSITIONED_TAG = re.compile(
    rb"""<(?:[\w.-]+:)?(c|row)(?=[\s/>])(?:[^>]*?\sr\s*=\s*["']([A-Za-z]{0,7}\d{1,12})|)"""
)
LETTERS, DIGITS = re.compile(rb"[A-Za-z]+"), re.compile(rb"\d+")
DIMENSION = re.compile(rb"""<(?:[\w.-]+:)?dimension\s+ref\s*=\s*["']([A-Za-z0-9:$]{1,40})["']""")
RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _mb(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB"


def check_size(path: Path, *, shown: str | None = None) -> None:
    """Refuse a file larger than MAX_FILE_BYTES.

    Raises:
        InputError: the file is too large, with how to split it.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"{shown or path.name} is {_mb(size)}; the workbench reads files of up to "
            f"{_mb(MAX_FILE_BYTES)}. Split it into parts (for example by round or branch) and import each."
        )


def too_many_columns(name: str, columns: int, where: str = "its header row") -> InputError:
    """The refusal for a file wider than MAX_COLUMNS."""
    return InputError(
        f"{name} has {columns:,} columns in {where}; the workbench reads at most {MAX_COLUMNS:,} "
        "(a real export has tens). Check it was saved with the right separator, or delete the "
        "columns you do not need, and import it again."
    )


def field_too_long(name: str, line: int | None = None) -> InputError:
    """The refusal for a line (and so a field) longer than MAX_FIELD_BYTES."""
    where = f"line {line:,}" if line else "a line"
    return InputError(
        f"{name}: {where} is longer than {_mb(MAX_FIELD_BYTES)}; the workbench reads lines and cells "
        "of up to that size. Check the file is a text export (not a renamed binary file), or shorten "
        "the longest cell, and import it again."
    )


# -- workbooks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetExtent:
    """The furthest a sheet's cells can reach: its last row and column (1-based)."""

    rows: int
    columns: int


def check_workbook(
    path: Path, sheet: str | None, *, shown: str | None = None, data: bytes | None = None
) -> str:
    """Check a workbook's archive and its chosen sheet's extent, and return the sheet's name.

    Args:
        path: the .xlsx file.
        sheet: the sheet asked for, or None for the first.
        shown: the name to use in messages (default: the file's name).
        data: the workbook's bytes, when they were decrypted in memory (`path` then only names it).

    Returns:
        The name of the sheet that will be read.

    Raises:
        InputError: not a workbook, too large when inflated, no such sheet, or a sheet reaching
            beyond MAX_COLUMNS, MAX_SHEET_ROWS or MAX_SHEET_CELLS.
    """
    name = shown or path.name
    check_workbook_size(path.stat().st_size if data is None else len(data), name)
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as archive:
            _check_inflated_size(archive, name)
            chosen, part = sheet_part(archive, sheet, name)
            extent = _extent(archive, part, name, chosen)
            _check_true_sizes(archive, part)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ParseError, defusedxml.DefusedXmlException, KeyError,
            EOFError, OSError):
        raise InputError(
            f"{name} is not a readable .xlsx workbook (its archive or its list of sheets is damaged). "
            "Open it in Excel and save it again as .xlsx, or export it as CSV."
        ) from None
    _check_extent(extent, name, chosen)
    return chosen


def check_workbook_size(size: int, name: str) -> None:
    """Refuse a workbook file (plain or encrypted) larger than MAX_WORKBOOK_BYTES, before reading it.

    Raises:
        InputError: too large, with what to do instead.
    """
    if size > MAX_WORKBOOK_BYTES:
        raise InputError(
            f"{name} is {_mb(size)}; the workbench reads workbooks of up to "
            f"{_mb(MAX_WORKBOOK_BYTES)}. Save the sheet as CSV UTF-8 and import that."
        )


def _check_inflated_size(archive: zipfile.ZipFile, name: str) -> None:
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_WORKBOOK_XML_BYTES:
        raise InputError(
            f"{name} would expand to {_mb(total)} when opened; the workbench opens workbooks of up to "
            f"{_mb(MAX_WORKBOOK_XML_BYTES)} expanded. If it is a genuine export, save the sheet as "
            "CSV UTF-8 and import that; otherwise do not open it (it may be a zip bomb)."
        )


def _check_true_sizes(archive: zipfile.ZipFile, scanned: str) -> None:
    """Inflate every other XML part once, through zipfile, which stops at each part's declared size
    and fails its CRC if there was more: so no part can inflate past what was checked above."""
    for info in archive.infolist():
        if info.filename != scanned and info.filename.endswith((".xml", ".rels")):
            with archive.open(info) as part:
                while part.read(SCAN_CHUNK):
                    pass


def _small_xml(archive: zipfile.ZipFile, part: str) -> Element:
    info = archive.getinfo(part)
    if info.file_size > 16 * 1024**2:
        raise zipfile.BadZipFile(part)
    # defusedxml refuses a DTD or entity declaration, which no Office part has: no entity expansion.
    return defusedxml.ElementTree.fromstring(archive.read(info), forbid_dtd=True)


def sheet_part(archive: zipfile.ZipFile, sheet: str | None, name: str) -> tuple[str, str]:
    """The chosen sheet's name and the archive part holding its XML."""
    book = _small_xml(archive, "xl/workbook.xml")
    sheets = [(s.get("name", ""), s.get(RELATIONSHIPS)) for s in book.iter() if _local(s.tag) == "sheet"]
    if not sheets:
        raise InputError(f"{name} has no sheets. Open it in Excel, check it holds the export, and save it.")
    if sheet is not None and sheet not in [s for s, _ in sheets]:
        raise InputError(f'{name} has no sheet "{sheet}". Sheets: {", ".join(s for s, _ in sheets)}.')
    chosen, rel_id = next((s, r) for s, r in sheets if sheet is None or s == sheet)
    rels = _small_xml(archive, "xl/_rels/workbook.xml.rels")
    target = next(r.get("Target", "") for r in rels.iter() if r.get("Id") == rel_id)
    part = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return chosen, part.replace("xl/./", "xl/")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _extent(archive: zipfile.ZipFile, part: str, name: str, sheet: str) -> SheetExtent:
    """The furthest row and column any cell of the sheet can land on, read without parsing cells.

    Cells and rows normally carry their position (r="AB12"); one without it follows the one
    before, so each such tag could push one further: counted in, the bound stays safe. The work
    is done by the regular-expression engine over whole chunks, not per cell in Python.
    """
    max_row = max_col = unplaced_rows = unplaced_cells = 0
    dimension_seen = False
    with archive.open(part) as xml:
        rest = b""
        while chunk := xml.read(SCAN_CHUNK):
            text = rest + chunk
            cut = text.rfind(b">") + 1
            if cut == 0 and len(text) > SCAN_CHUNK * 2:
                cut = len(text)  # no tag ends here at all: not XML a sheet would hold
            piece, rest = text[:cut], text[cut:]
            if not dimension_seen:
                dimension_seen = _check_dimension(piece, name, sheet)
            tags = POSITIONED_TAG.findall(piece)
            unplaced_rows += tags.count((b"row", b""))
            unplaced_cells += tags.count((b"c", b""))
            joined = b" ".join([position for _, position in tags])
            max_col = max([max_col, *(_column_number(c) for c in set(LETTERS.findall(joined)))])
            max_row = max([max_row, *(int(d) for d in set(DIGITS.findall(joined)))])
    # A cell without a position follows the one before it in its row: the total is a safe bound.
    return SheetExtent(max_row + unplaced_rows, max_col + unplaced_cells)


def _check_dimension(piece: bytes, name: str, sheet: str) -> bool:
    """Refuse at once a sheet that declares itself wider or longer than the limits."""
    found = DIMENSION.search(piece)
    if not found:
        return b"<sheetData" in piece or b":sheetData" in piece
    last = found.group(1).split(b":")[-1].replace(b"$", b"")
    match = re.fullmatch(rb"([A-Za-z]{1,7})(\d{1,12})", last)
    if match:
        _check_extent(SheetExtent(int(match.group(2)), _column_number(match.group(1))), name, sheet)
    return True


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + (char - 64)
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _check_extent(extent: SheetExtent, name: str, sheet: str) -> None:
    reach = f"{_column_letters(extent.columns)}{extent.rows}" if extent.columns and extent.rows else ""
    fix = (
        f'Sheet "{sheet}" reaches cell {reach}. Delete the rows and columns beyond your data (or copy '
        "just the data into a new workbook), or save the sheet as CSV UTF-8, and import it again."
    )
    if extent.columns > MAX_COLUMNS:
        raise InputError(
            f"{name}: sheet \"{sheet}\" spans {extent.columns:,} columns; the workbench reads at most "
            f"{MAX_COLUMNS:,} (a real export has tens). {fix}"
        )
    if extent.rows > MAX_SHEET_ROWS:
        raise InputError(f"{name}: sheet \"{sheet}\" goes past Excel's last row. {fix}")
    if extent.rows * extent.columns > MAX_SHEET_CELLS:
        raise InputError(
            f"{name}: sheet \"{sheet}\" spans {extent.rows:,} rows by {extent.columns:,} columns, more "
            f"than the {MAX_SHEET_CELLS:,} cells the workbench reads from a workbook. {fix}"
        )


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_COLUMNS",
    "MAX_FIELD_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_WORKBOOK_BYTES",
    "MAX_WORKBOOK_XML_BYTES",
    "MAX_SHEET_ROWS",
    "MAX_SHEET_CELLS",
    "MAX_ZIP_MEMBERS",
    "SheetExtent",
    "check_size",
    "check_workbook",
    "check_workbook_size",
    "too_many_columns",
    "field_too_long",
]
