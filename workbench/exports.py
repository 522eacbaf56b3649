"""Safe CSV, XLSX and HTML writers: the one place export escaping lives.

Every file of people the workbench writes goes through here, so three rules hold once:

1. **No cell can run as a formula** (OWASP CSV injection). A text cell that begins with `=`, `+`, `-`,
   `@`, tab or carriage return (also behind leading whitespace, and in full-width forms such as `＝`)
   gets a single quote in front, in CSV *and* XLSX (so it stays safe
   when a workbook is re-saved as CSV), and every CSV field is quoted. Workbooks are written with
   xlsxwriter's `strings_to_formulas`, `strings_to_urls` and `strings_to_numbers` all off, and every
   text cell with `write_string`, so a phone number stays text and keeps its leading zero. A phone
   written in international form (`+44…`) is therefore shown as `'+44…`: that quote is the OWASP
   answer, not a bug. `unescape_cell` reverses it when a file comes back.
2. **Every file carries its notice** (a `Notice`): `#` lines at the top of a CSV, header rows in a
   workbook, a header and a footer on an HTML page.
3. **Files are private and whole** (`atomic_write`): written to a new 0600 temporary file in the same
   folder (O_EXCL|O_NOFOLLOW), then moved into place in one step, so a crash never leaves half a
   list; a symlink or an existing file at the target is refused unless the caller forces it.

This module is the workbench's one writer: no other module opens a file for writing (a test reads
the package's source to hold that, with a short, explained allow-list). Text and bytes go through
`write_text` and `write_bytes`; a scratch copy streamed into a private folder uses `private_file`.
"""

from __future__ import annotations

import contextlib
import csv
import numbers
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

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
    r"""Neutralise a text cell that a spreadsheet would run as a formula (OWASP); others pass through.

    A formula prefix counts wherever a spreadsheet would still see it: behind leading whitespace or
    invisible characters (`"\n=cmd"`), and in its full-width or small forms (`＝ ＋ － ＠`).

    Examples:
        >>> escape_cell('=HYPERLINK("http://x","click")')
        '\'=HYPERLINK("http://x","click")'
        >>> escape_cell("\n=cmd"), escape_cell("＝1+1")
        ("'\n=cmd", "'＝1+1")
        >>> escape_cell("07700 900123"), escape_cell(-2), escape_cell(" plain")
        ('07700 900123', -2, ' plain')
    """
    if isinstance(value, str) and (is_formula_like(value) or _looks_escaped(value)):
        return ESCAPE + value
    return value


def _looks_escaped(text: str) -> bool:
    # "'=1" typed by a person gets a second quote, so `unescape_cell` gives back "'=1", not "=1".
    return text.startswith(ESCAPE) and is_formula_like(text[1:])


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could take this text for a formula.

    Examples:
        >>> is_formula_like("@SUM(A1)"), is_formula_like("\\u200b +1"), is_formula_like("O'Brien")
        (True, True, False)
        >>> is_formula_like(" \\t1"), is_formula_like(" 1\\t")
        (True, False)
    """
    for char in text:
        if unicodedata.normalize("NFKC", char) in FORMULA_TRIGGERS:
            return True  # a trigger, or its full-width form; a tab or return behind spaces too
        if not (char.isspace() or unicodedata.category(char) in ("Cc", "Cf")):
            return False
        # whitespace or an invisible character: skipped by a spreadsheet, so the next one decides
    return False


def unescape_cell(value: object) -> object:
    """Undo `escape_cell` for a value read back from a returned file.

    Examples:
        >>> unescape_cell("'+447700900123"), unescape_cell("O'Brien")
        ('+447700900123', "O'Brien")
    """
    # Exactly the inverse: the quote goes only if escape_cell would have put it there.
    if isinstance(value, str) and value.startswith(ESCAPE) and escape_cell(value[1:]) == value:
        return value[1:]
    return value


def cell_text(value: object) -> str:
    """How a value is shown in a file: lists joined with '; ', dates day first, blanks empty.

    Examples:
        >>> cell_text(pd.NaT), cell_text(["food", "digital"]), cell_text(date(2020, 4, 15))
        ('', 'food; digital', '15/04/2020')
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(cell_text(v) for v in value)
    # Before the date checks: pandas' NaT is a datetime that cannot be formatted.
    with contextlib.suppress(TypeError, ValueError):
        if pd.isna(value):
            return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
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


def atomic_write(path: str | Path, write: Callable[[Path], None], *, force: bool = False) -> Path:
    """Write a file whole or not at all, private from the first byte, never through a symlink.

    `write(temp_path)` fills a new file created beside the target with O_CREAT|O_EXCL|O_NOFOLLOW and
    mode 0600 (so nobody else can open it, even for a moment, and nobody can have planted it), then
    `os.replace` renames it over `path` in one step. A symlink at `path` is never followed: the rename
    replaces the link itself, and only with `force`.

    Args:
        path: the file to write.
        write: fills the temporary file named by its argument (it may reopen it by name).
        force: replace an existing file (or symlink) at `path`; without it an existing target is refused.

    Returns:
        The path written (mode 0600, owned by whoever runs the workbench).

    Raises:
        InputError: the target exists (without force) or is a folder, or the folder is missing or
            cannot be written.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> oct(atomic_write(folder / "a.txt", lambda t: t.write_text("hi")).stat().st_mode & 0o777)
        '0o600'
        >>> atomic_write(folder / "a.txt", lambda t: t.write_text("again"))
        Traceback (most recent call last):
        ...
        workbench.errors.InputError: Cannot write ...: a file already exists there; ... --force ...
    """
    path = Path(path)
    check_target(path, force)
    temp = _private_temp(path)
    try:
        write(temp)
        os.chmod(temp, 0o600, follow_symlinks=False)  # `write` may have recreated it by name
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        _place(temp, path, force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return path


def _place(temp: Path, path: Path, force: bool) -> None:
    if force:
        os.replace(temp, path)  # replaces a file or a symlink itself, never what a link points to
        return
    # A hard link fails if anything appeared at the target while we wrote: no check-then-write race.
    try:
        os.link(temp, path, follow_symlinks=False)
    except FileExistsError:
        check_target(path, force)  # raises the clear message
        raise
    except OSError:
        # A filesystem without hard links: check once more, then rename.
        check_target(path, force)
        os.replace(temp, path)


def check_target(path: Path, force: bool = False) -> None:
    """Refuse a target `atomic_write` would refuse, before any work (e.g. one of several files).

    Raises:
        InputError: the folder is missing, or the target exists (a folder always; a file or a
            symlink unless `force`).
    """
    if not path.parent.is_dir():
        raise InputError(f"Cannot write {path}: the folder {path.parent} does not exist. Create it first.")
    if path.is_symlink() or path.exists():
        what = "a symbolic link" if path.is_symlink() else "a folder" if path.is_dir() else "a file"
        if force and what != "a folder":
            return
        fix = "choose another name" + ("" if what == "a folder" else ", or add --force to replace it")
        raise InputError(f"Cannot write {path}: {what} already exists there; {fix}. Nothing was written.")


# O_EXCL|O_NOFOLLOW: a fresh file of our own, never one planted (or linked) by someone else.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _private_temp(path: Path) -> Path:
    for _attempt in range(100):
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        try:
            os.close(os.open(temp, _NEW_FILE, 0o600))
            return temp
        except FileExistsError:
            continue
        except OSError as error:
            raise InputError(f"Cannot write in {path.parent}: {error.strerror}.") from None
    raise InputError(f"Cannot write in {path.parent}: could not create a temporary file there.")


def write_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write text (UTF-8) the safe way (`atomic_write`): whole, 0600, never through a symlink.

    Examples:
        >>> import tempfile
        >>> page = write_text(Path(tempfile.mkdtemp()) / "page.html", "<p>hi</p>")
        >>> page.read_text(), oct(page.stat().st_mode & 0o777)
        ('<p>hi</p>', '0o600')
    """
    return atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"), force=force)


def write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write bytes the safe way (`atomic_write`): whole, 0600, never through a symlink."""
    return atomic_write(path, lambda temp: temp.write_bytes(data), force=force)


def private_file(path: str | Path) -> BinaryIO:
    """A new file opened for writing bytes, mode 0600 from the first byte, never through a symlink.

    For a scratch copy streamed into a private temporary folder (an unzipped or re-encoded import):
    nothing may already be at `path`. A file to keep goes through `atomic_write` instead.

    Raises:
        InputError: something is already at `path`, or the folder cannot be written.
    """
    try:
        return os.fdopen(os.open(path, _NEW_FILE, 0o600), "wb")
    except FileExistsError:
        raise InputError(f"Cannot write {Path(path).name}: something is already there.") from None
    except OSError as error:
        raise InputError(f"Cannot write in {Path(path).parent}: {error.strerror}.") from None


def write_csv(
    frame: pd.DataFrame, path: str | Path, *, notice: Notice | None = None, force: bool = False
) -> Path:
    """A CSV with every field quoted and formula-like text escaped, the notice on `#` lines first.

    Readers skip lines whose first field starts with `#` (`ingest.returned.read_table` does); in a
    spreadsheet they show as a block of text above the table.

    Returns:
        The path written (mode 0600).
    """

    def write(temp: Path) -> None:
        with open(temp, "w", encoding="utf-8-sig", newline="") as out:
            write_csv_to(out, frame, notice=notice)

    return atomic_write(path, write, force=force)


def write_csv_to(stream: TextIO, frame: pd.DataFrame, *, notice: Notice | None = None) -> None:
    r"""Write the same safe CSV as `write_csv` to an open text stream (stdout, for piping).

    Every field is quoted and formula-like text escaped, the header row too (a branch name can
    become a column header).

    Examples:
        >>> import io
        >>> out = io.StringIO()
        >>> write_csv_to(out, pd.DataFrame({"=ward": ["=1+1"], "n": [3]}))
        >>> out.getvalue().splitlines()
        ['"\'=ward","n"', '"\'=1+1","3"']
    """
    writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    if notice is not None:
        for line in notice.text_lines():
            writer.writerow([f"{NOTICE_MARK} {line}"])
        writer.writerow([NOTICE_MARK])
    writer.writerow([escape_cell(str(c)) for c in frame.columns])
    writer.writerows(_cells(frame))


def write_xlsx(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    notice: Notice | None = None,
    sheet: Sheet | None = None,
    sheet_name: str = "List",
    force: bool = False,
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

    return atomic_write(path, write, force=force)


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


# How a workbook looks: the notice's title and text, the header row, locked cells, and the cells left
# open to fill in (pale yellow, so a person sees where to write).
TITLE_FORMAT = {"bold": True, "font_size": 12}
TEXT_FORMAT = {"text_wrap": True, "valign": "top"}
HEADER_FORMAT = {"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True, "valign": "top"}
CELL_FORMAT = {"text_wrap": True, "valign": "top", "border": 1, "locked": True}
OPEN_FORMAT = {"text_wrap": True, "valign": "top", "border": 1, "locked": False, "bg_color": "#FFFDE7"}


def _fill_sheet(book, ws, frame: pd.DataFrame, notice: Notice | None, sheet: Sheet) -> None:
    bold, text = book.add_format(TITLE_FORMAT), book.add_format(TEXT_FORMAT)
    header, cell, open_cell = (book.add_format(HEADER_FORMAT), book.add_format(CELL_FORMAT),
                               book.add_format(OPEN_FORMAT))
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
    row_numbers: bool = False,
    widths: Mapping[str, str] | None = None,
    force: bool = False,
) -> Path:
    """A print-ready HTML page (A4): the notice in a header and a footer, table headers on every page.

    Text is HTML-escaped, and each cell is isolated for bidirectional text (`<bdi>`), so a name in
    right-to-left characters cannot reorder the cells beside it.

    Args:
        row_numbers: whether the first column holds row numbers (it gets a narrow, bold style).
        widths: CSS widths by column name, e.g. {"Call-back prompt": "22%"}; the rest share the page.

    Returns:
        The path written (mode 0600).
    """
    page = render_html(frame, notice=notice, title=title, row_numbers=row_numbers, widths=widths)
    return write_text(path, page, force=force)


def render_html(
    frame: pd.DataFrame,
    *,
    notice: Notice,
    title: str,
    row_numbers: bool = False,
    widths: Mapping[str, str] | None = None,
) -> str:
    """The HTML text `write_html` writes, from templates/list.html (autoescaped: see `pages`).

    The template is given title, running, notice, columns (name, rownum, width), rows (cell texts)
    and row_numbers.
    """
    widths = widths or {}
    columns = [
        {"name": str(c), "rownum": row_numbers and i == 0, "width": _width(widths.get(str(c), ""))}
        for i, c in enumerate(frame.columns)
    ]
    rows = [[cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return pages.render("list.html", title=title, running=notice.running or notice.title, notice=notice,
                        columns=columns, rows=rows, row_numbers=row_numbers)


def _width(css: str) -> str | None:
    # Only a plain length reaches a style attribute.
    return css if re.fullmatch(r"\d+(\.\d+)?(mm|%|em)", css) else None


__all__ = [
    "ESCAPE",
    "FORMATS",
    "FORMULA_TRIGGERS",
    "Notice",
    "Sheet",
    "atomic_write",
    "check_target",
    "cell_text",
    "escape_cell",
    "is_formula_like",
    "private_file",
    "render_html",
    "unescape_cell",
    "write_csv",
    "write_csv_to",
    "write_bytes",
    "write_html",
    "write_text",
    "write_xlsx",
    "xlsx_bytes",
]
