"""Safe CSV, XLSX and HTML writers: the one place export escaping lives.

Every file of people the workbench writes goes through here, so three rules hold once:

1. **No cell can run as a formula** (OWASP CSV injection). A text cell that begins with `=`, `+`, `-`,
   `@`, tab or carriage return gets a single quote in front, in CSV *and* XLSX (so it stays safe
   when a workbook is re-saved as CSV), and every CSV field is quoted. Workbooks are written with
   xlsxwriter's `strings_to_formulas`, `strings_to_urls` and `strings_to_numbers` all off, and every
   text cell with `write_string`, so a phone number stays text and keeps its leading zero. A phone
   written in international form (`+44…`) is therefore shown as `'+44…`: that quote is the OWASP
   answer, not a bug. `unescape_cell` reverses it when a file comes back.
2. **Every file carries its notice** (a `Notice`): `#` lines at the top of a CSV, header rows in a
   workbook, a header and a footer on an HTML page.
3. **Files are private and whole**: written to a temporary file in the same folder, then renamed
   over the target (`os.replace`), so a crash never leaves half a list; mode 0600.
"""

from __future__ import annotations

import contextlib
import csv
import numbers
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from workbench import pages
from workbench.errors import InputError

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
NOTICE_MARK = "#"
FORMATS = ("csv", "xlsx", "html")
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


@dataclass(frozen=True)
class Notice:
    """The data-protection notice a file carries: a title and short lines of plain text.

    Examples:
        >>> Notice("Confidential", ("Shred it when the calls are done.",)).text_lines()
        ['Confidential', 'Shred it when the calls are done.']
    """

    title: str
    lines: tuple[str, ...] = ()
    running: str = ""  # one short line repeated on every printed page (HTML)

    def text_lines(self) -> list[str]:
        return [self.title, *self.lines]


@dataclass(frozen=True)
class Sheet:
    """How a workbook's table may be filled in: columns left editable, and drop-down choices."""

    editable: tuple[str, ...] = ()
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    widths: Mapping[str, float] = field(default_factory=dict)


def escape_cell(value: object) -> object:
    """Neutralise a text cell that a spreadsheet would run as a formula (OWASP); others pass through.

    Examples:
        >>> escape_cell('=HYPERLINK("http://x","click")')
        '\\'=HYPERLINK("http://x","click")'
        >>> escape_cell("07700 900123"), escape_cell(-2)
        ('07700 900123', -2)
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return ESCAPE + value
    return value


def unescape_cell(value: object) -> object:
    """Undo `escape_cell` for a value read back from a returned file.

    Examples:
        >>> unescape_cell("'+447700900123"), unescape_cell("O'Brien")
        ('+447700900123', "O'Brien")
    """
    if isinstance(value, str) and value.startswith(ESCAPE) and value[1:2] and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def cell_text(value: object) -> str:
    """How a value is shown in a file: lists joined with '; ', dates day first, blanks empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(cell_text(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    with contextlib.suppress(TypeError, ValueError):
        if pd.isna(value):
            return ""
    return str(value)


def _cells(frame: pd.DataFrame) -> list[list[object]]:
    # Numbers stay numbers (a real number cannot run as a formula); everything else becomes text.
    rows = []
    for record in frame.itertuples(index=False, name=None):
        rows.append([v if _is_number(v) else escape_cell(cell_text(v)) for v in record])
    return rows


def _is_number(value: object) -> bool:
    # numbers.Real covers numpy's integer and float scalars too, which pandas hands back.
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not pd.isna(value)


def protect(path: str | Path) -> None:
    """Give a file the workbench creates mode 0600: owner read/write only."""
    with contextlib.suppress(FileNotFoundError):
        Path(path).chmod(0o600)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write a file whole or not at all: `write(temp_path)`, then rename over `path`; mode 0600.

    Raises:
        InputError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"Cannot write {path}: the folder {path.parent} does not exist. Create it first.")
    try:
        # mkstemp creates the file 0600 in the target folder, so the rename stays on one filesystem.
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as error:
        raise InputError(f"Cannot write in {path.parent}: {error.strerror}.") from None
    os.close(handle)
    try:
        write(Path(temp))
        protect(temp)
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    protect(path)
    return path


def write_csv(frame: pd.DataFrame, path: str | Path, *, notice: Notice | None = None) -> Path:
    """A CSV with every field quoted and formula-like text escaped, the notice on `#` lines first.

    Readers skip lines whose first field starts with `#` (`read_table` does); in a spreadsheet they
    show as a block of text above the table.

    Returns:
        The path written (mode 0600).
    """

    def write(temp: Path) -> None:
        with open(temp, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            if notice is not None:
                for line in notice.text_lines():
                    writer.writerow([f"{NOTICE_MARK} {line}"])
                writer.writerow([NOTICE_MARK])
            writer.writerow([escape_cell(str(c)) for c in frame.columns])
            writer.writerows(_cells(frame))

    return atomic_write(path, write)


def write_xlsx(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    notice: Notice | None = None,
    sheet: Sheet | None = None,
    sheet_name: str = "List",
) -> Path:
    """A workbook whose text can never become a formula, with the notice in its first rows.

    The table's header row is frozen and repeats on every printed page. With a `Sheet`, the sheet
    is protected (no password: a guard against slips, not a lock) except the editable columns,
    which get drop-downs where choices are given.

    Returns:
        The path written (mode 0600).
    """
    import xlsxwriter

    sheet = sheet or Sheet()

    def write(temp: Path) -> None:
        book = xlsxwriter.Workbook(str(temp), XLSX_OPTIONS)
        try:
            _fill_sheet(book, book.add_worksheet(sheet_name), frame, notice, sheet)
        finally:
            book.close()

    return atomic_write(path, write)


def xlsx_bytes(
    frame: pd.DataFrame, *, notice: Notice | None = None, sheet: Sheet | None = None, sheet_name: str = "List"
) -> bytes:
    """The workbook `write_xlsx` writes, built in memory: for encrypting before anything reaches a disk.

    Returns:
        The .xlsx file's bytes.
    """
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {**XLSX_OPTIONS, "in_memory": True})
    try:
        _fill_sheet(book, book.add_worksheet(sheet_name), frame, notice, sheet or Sheet())
    finally:
        book.close()
    return buffer.getvalue()


def _fill_sheet(book, ws, frame: pd.DataFrame, notice: Notice | None, sheet: Sheet) -> None:
    bold = book.add_format({"bold": True, "font_size": 12})
    text = book.add_format({"text_wrap": True, "valign": "top"})
    header = book.add_format(
        {"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True, "valign": "top"}
    )
    cell = book.add_format({"text_wrap": True, "valign": "top", "border": 1, "locked": True})
    open_cell = book.add_format(
        {"text_wrap": True, "valign": "top", "border": 1, "locked": False, "bg_color": "#FFFDE7"}
    )
    columns = [str(c) for c in frame.columns]
    top = 0
    if notice is not None:
        # Each notice line spans the table's width, tall enough for its wrapped text.
        last_col = max(len(columns) - 1, 1)
        for i, line in enumerate(notice.text_lines()):
            ws.merge_range(top, 0, top, last_col, escape_cell(line), bold if i == 0 else text)
            ws.set_row(top, 15 * max(1, -(-len(line) // 150)))
            top += 1
        top += 1
    for j, name in enumerate(columns):
        ws.write_string(top, j, escape_cell(name), header)
        ws.set_column(j, j, sheet.widths.get(name, max(10, min(40, len(name) + 4))))
    for i, row in enumerate(_cells(frame), start=top + 1):
        for j, value in enumerate(row):
            fmt = open_cell if columns[j] in sheet.editable else cell
            if _is_number(value):
                ws.write_number(i, j, value, fmt)
            else:
                ws.write_string(i, j, value, fmt)
    _finish_sheet(ws, columns, top, len(frame), sheet, open_cell)


def _finish_sheet(ws, columns: list[str], top: int, rows: int, sheet: Sheet, open_cell) -> None:
    last = top + max(rows, 1)
    for name, options in sheet.choices.items():
        if name in columns:
            j = columns.index(name)
            ws.data_validation(top + 1, j, last, j, {"validate": "list", "source": list(options)})
    ws.freeze_panes(top + 1, 0)
    ws.repeat_rows(top)
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_footer("&CPage &P of &N")
    if sheet.editable:
        for j, name in enumerate(columns):
            if name in sheet.editable:
                ws.set_column(j, j, sheet.widths.get(name, 16), open_cell)
        ws.protect("", {"format_columns": True, "format_rows": True, "sort": False})


def write_html(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    notice: Notice,
    title: str,
    template: str = "list.html",
    row_numbers: bool = False,
    widths: Mapping[str, str] | None = None,
) -> Path:
    """A print-ready HTML page (A4): the notice in a header and a footer, table headers on every page.

    Text is HTML-escaped, and each cell is isolated for bidirectional text (`<bdi>`), so a name in
    right-to-left characters cannot reorder the cells beside it.

    Args:
        template: a Jinja2 template in workbench/templates given title, running, notice, columns
            (name, rownum, width), rows (cell texts) and row_numbers.
        row_numbers: whether the first column holds row numbers (it gets a narrow, bold style).
        widths: CSS widths by column name, e.g. {"Call-back prompt": "22%"}; the rest share the page.

    Returns:
        The path written (mode 0600).
    """
    page = render_html(
        frame, notice=notice, title=title, template=template, row_numbers=row_numbers, widths=widths
    )
    return atomic_write(path, lambda temp: temp.write_text(page, encoding="utf-8"))


def render_html(
    frame: pd.DataFrame,
    *,
    notice: Notice,
    title: str,
    template: str = "list.html",
    row_numbers: bool = False,
    widths: Mapping[str, str] | None = None,
) -> str:
    """The HTML text `write_html` writes, from a Jinja2 template (autoescaped: see `pages`)."""
    widths = widths or {}
    columns = [
        {"name": str(c), "rownum": row_numbers and i == 0, "width": _width(widths.get(str(c), ""))}
        for i, c in enumerate(frame.columns)
    ]
    rows = [[cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return pages.render(template, title=title, running=notice.running or notice.title, notice=notice,
                        columns=columns, rows=rows, row_numbers=row_numbers)


def _width(css: str) -> str | None:
    # Only a plain length reaches a style attribute.
    return css if re.fullmatch(r"\d+(\.\d+)?(mm|%|em)", css) else None


def read_table(
    path: str | Path, *, header_first: str, data: bytes | None = None
) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """Read a CSV or XLSX this module wrote (and a person filled in): header and data rows.

    Notice lines (`#`) and blank lines are skipped; the header is the first row whose first cell is
    `header_first`. Cells are unescaped (`unescape_cell`) and stripped.

    Args:
        data: the workbook's bytes, when they were decrypted in memory (`path` then only names it).

    Returns:
        (header, rows) where each row is (the row number a spreadsheet shows, its cells).

    Raises:
        InputError: not a .csv or .xlsx file, a file that cannot be read as one, or no header row.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(
            f"Unsupported file extension: '{path.suffix}' ({path.name}). Supported formats: "
            ".csv, .xlsx (the list as it was sent out, with the outcome columns filled in)."
        )
    raw = _read_csv_rows(path) if suffix == ".csv" else _read_xlsx_rows(path, data)
    for index, (_line, cells) in enumerate(raw):
        if cells and str(cells[0]).strip() == header_first:
            header = [str(c or "").strip() for c in cells]
            rows = [
                (n, [_clean(c) for c in r])
                for n, r in raw[index + 1 :]
                if any(_clean(c) not in ("", None) for c in r) and not str(r[0] or "").startswith(NOTICE_MARK)
            ]
            return header, rows
    raise InputError(
        f'{path.name}: no header row starting with "{header_first}" was found. Send back the '
        "list as it was exported, with its header row unchanged."
    )


def _clean(value: object) -> object:
    value = unescape_cell(value.strip() if isinstance(value, str) else value)
    return "" if value is None else value


def _read_csv_rows(path: Path) -> list[tuple[int, list[object]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [
                (n, row)
                for n, row in enumerate(csv.reader(handle), start=1)
                if row and not row[0].startswith(NOTICE_MARK)
            ]
    except UnicodeDecodeError:
        raise InputError(
            f"{path.name} is not a UTF-8 CSV file. Save it from your spreadsheet as "
            '"CSV UTF-8 (comma delimited)" and try again.'
        ) from None
    except (OSError, csv.Error) as error:
        raise InputError(f"Cannot read {path.name} as CSV ({type(error).__name__}).") from None


def _read_xlsx_rows(path: Path, data: bytes | None = None) -> list[tuple[int, list[object]]]:
    import io
    import zipfile

    import openpyxl
    from openpyxl.utils.escape import unescape

    try:
        source = path if data is None else io.BytesIO(data)
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        raise InputError(
            f"{path.name} is not an Excel workbook (.xlsx). Send back the .xlsx file as it "
            "was exported, or save the list as .xlsx or .csv."
        ) from None
    try:
        ws = book.worksheets[0]
        # Control characters are stored as _xHHHH_ in the file; openpyxl leaves them so.
        return [
            (n, [unescape(v) if isinstance(v, str) else v for v in row])
            for n, row in enumerate(ws.iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()


__all__ = [
    "ESCAPE",
    "FORMATS",
    "FORMULA_TRIGGERS",
    "Notice",
    "Sheet",
    "atomic_write",
    "cell_text",
    "escape_cell",
    "read_table",
    "render_html",
    "unescape_cell",
    "write_csv",
    "write_html",
    "write_xlsx",
    "xlsx_bytes",
]
