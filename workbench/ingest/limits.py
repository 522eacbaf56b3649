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
        sheet: the sheet asked for, or None for the first visible sheet of cells.
        shown: the name to use in messages (default: the file's name).
        data: the workbook's bytes, when they were decrypted in memory (`path` then only names it).

    Returns:
        The name of the sheet that will be read.

    Raises:
        InputError: not a workbook, too large when inflated, no such sheet, a sheet without cells (a
            chart), or a sheet reaching beyond MAX_COLUMNS, MAX_SHEET_ROWS or MAX_SHEET_CELLS.
    """
    return check_sheets(path, [sheet], shown=shown, data=data)[0]


def check_sheets(
    path: Path, sheets: list[str | None], *, shown: str | None = None, data: bytes | None = None
) -> list[str]:
    """`check_workbook` for several sheets at once: the archive is checked once, each sheet's extent
    on its own. Returns their names.

    Raises:
        InputError: as `check_workbook`, for the first sheet found wanting.
    """
    name = shown or path.name
    check_workbook_size(path.stat().st_size if data is None else len(data), name)
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as archive:
            _check_inflated_size(archive, name)
            chosen = [sheet_part(archive, sheet, name) for sheet in sheets]
            extents = [(_extent(archive, part, name, sheet), sheet) for sheet, part in chosen]
            _check_true_sizes(archive, {part for _, part in chosen})
    except DAMAGED:
        raise _damaged(name) from None
    for extent, sheet in extents:
        _check_extent(extent, name, sheet)
    return [sheet for sheet, _ in chosen]


def workbook_sheets(path: Path, *, shown: str | None = None) -> list[Sheet]:
    """Every sheet the workbook lists, in its order, with what it is and whether it is hidden.

    Raises:
        InputError: not a readable workbook, or one listing no sheets.
    """
    name = shown or path.name
    check_workbook_size(path.stat().st_size, name)
    try:
        with zipfile.ZipFile(path) as archive:
            return list_sheets(archive, name)
    except DAMAGED:
        raise _damaged(name) from None


def uses_1904_dates(path: Path) -> bool:
    """Whether the workbook counts its serial days from 1904 (`<workbookPr date1904="1"/>`), as Mac
    Excel saved workbooks. calamine reads date cells by it, but gives a number in a cell not shown as
    a date as the bare number, which the import may read as a date (`dates.parse_sql`): counted from
    1900 it would be 4 years and 1 day early. The attribute is an XML boolean: "1" or "true".

    Raises:
        InputError: not a readable workbook.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            book = small_xml(archive, "xl/workbook.xml")
    except DAMAGED:
        raise _damaged(path.name) from None
    settings = next((e for e in book.iter() if local_name(e.tag) == "workbookPr"), None)
    return settings is not None and settings.get("date1904", "").strip() in ("1", "true")


DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, ParseError, defusedxml.DefusedXmlException, KeyError,
           EOFError, OSError)


def _damaged(name: str) -> InputError:
    return InputError(
        f"{name} is not a readable .xlsx workbook (its archive or its list of sheets is damaged). "
        "Open it in Excel and save it again as .xlsx, or export it as CSV."
    )


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


def _check_true_sizes(archive: zipfile.ZipFile, scanned: set[str]) -> None:
    """Inflate every other XML part once, through zipfile, which stops at each part's declared size
    and fails its CRC if there was more: so no part can inflate past what was checked above."""
    for info in archive.infolist():
        if info.filename not in scanned and info.filename.endswith((".xml", ".rels")):
            with archive.open(info) as part:
                while part.read(SCAN_CHUNK):
                    pass


def small_xml(archive: zipfile.ZipFile, part: str) -> Element:
    """A small XML part of the workbook (its list of sheets, its styles), parsed safely.

    Raises:
        zipfile.BadZipFile: the part is larger than such a part ever is.
        KeyError: no such part.
    """
    info = archive.getinfo(part)
    if info.file_size > 16 * 1024**2:
        raise zipfile.BadZipFile(part)
    # defusedxml refuses a DTD or entity declaration, which no Office part has: no entity expansion.
    return defusedxml.ElementTree.fromstring(archive.read(info), forbid_dtd=True)


@dataclass(frozen=True)
class Sheet:
    """A sheet as the workbook lists it: its name, the archive part holding it, what it is, and whether
    Excel shows it."""

    name: str
    part: str
    kind: str  # the last word of its relationship's type: worksheet, chartsheet, dialogsheet, macrosheet
    state: str  # visible, hidden, or veryHidden (hidden so that Excel's menus cannot show it)

    @property
    def has_cells(self) -> bool:
        """A sheet of cells, the only kind an import can read (a chart sheet holds a chart). A sheet
        of a kind not known here is taken to hold cells, as it was before kinds were told apart."""
        return self.kind not in KIND_NAMES

    @property
    def visible(self) -> bool:
        return self.state == "visible"


KIND_NAMES = {"chartsheet": "a chart", "dialogsheet": "a dialog sheet", "macrosheet": "a macro sheet"}


def list_sheets(archive: zipfile.ZipFile, name: str) -> list[Sheet]:
    """Every sheet workbook.xml lists, in its order.

    Raises:
        InputError: the workbook lists no sheets.
    """
    book = small_xml(archive, "xl/workbook.xml")
    rels = {r.get("Id"): r for r in small_xml(archive, "xl/_rels/workbook.xml.rels").iter()}
    found = []
    for element in book.iter():
        if local_name(element.tag) == "sheet":
            rel = rels.get(element.get(RELATIONSHIPS))
            target, kind = ("", "") if rel is None else (rel.get("Target", ""), rel.get("Type", ""))
            found.append(Sheet(element.get("name", ""), _part(target), kind.rsplit("/", 1)[-1],
                               element.get("state", "visible")))
    if not found:
        raise InputError(f"{name} has no sheets. Open it in Excel, check it holds the export, and save it.")
    return found


def _part(target: str) -> str:
    # No relationship gives no part: reading it then fails as a damaged workbook.
    if not target:
        return ""
    part = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return part.replace("xl/./", "xl/")


def sheet_part(archive: zipfile.ZipFile, sheet: str | None, name: str) -> tuple[str, str]:
    """The chosen sheet's name and the archive part holding its XML. None chooses the first visible
    sheet of cells (else the first sheet of cells): a chart sheet has no cells to read.

    Raises:
        InputError: no such sheet, or the sheet is a chart (or another sheet without cells).
    """
    listed = list_sheets(archive, name)
    names = [s.name for s in listed]
    if sheet is not None and sheet not in names:
        raise InputError(f'{name} has no sheet "{sheet}". Sheets: {", ".join(names)}.')
    if sheet is None:
        ranked = sorted(listed, key=lambda s: (not s.has_cells, not s.visible))  # stable: keeps the order
        chosen = ranked[0]
    else:
        chosen = next(s for s in listed if s.name == sheet)
    if not chosen.has_cells:
        raise _no_cells(name, chosen, listed)
    return chosen.name, chosen.part


def _no_cells(name: str, chosen: Sheet, listed: list[Sheet]) -> InputError:
    cells = [f'"{s.name}"' for s in listed if s.has_cells]
    choose = f"Choose a sheet of cells with --sheet NAME: {', '.join(cells)}." if cells else (
        "The workbook has no sheet of cells: check the right file was chosen.")
    return InputError(
        f'{name}: sheet "{chosen.name}" is {KIND_NAMES[chosen.kind]}, which '
        f"holds no cells to import. {choose}"
    )


def local_name(tag: str) -> str:
    """An XML tag without its namespace: "{http://...}sheet" -> "sheet"."""
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
    "Sheet",
    "check_size",
    "check_workbook",
    "check_sheets",
    "workbook_sheets",
    "uses_1904_dates",
    "list_sheets",
    "sheet_part",
    "local_name",
    "small_xml",
    "DAMAGED",
    "check_workbook_size",
    "too_many_columns",
    "field_too_long",
]
