"""Read a sheet of an .xlsx workbook as rows of text, with calamine (fast, read-only).

`limits.check_workbook` runs first: calamine lays a sheet out as a dense grid, so a workbook must
be shown to be reasonable before it is opened. A workbook calamine cannot parse (broken XML, a
character XML forbids) is the file's problem, and the message names the file and sheet.
openpyxl and xlsxwriter stay for writing workbooks.

Two things a person sees in Excel that calamine gives as blanks are handled here. A merged cell
shows its value across every cell it covers, so that value is copied into each (and the user is
told). A cell holding an Excel error (#DIV/0!, #N/A, ...) or a formula no spreadsheet ever
calculated has no value to import, so the sheet is refused, naming each such cell: calamine does
not say which cells these are, so the sheet's XML is scanned for them, chunk by chunk.

Text XML cannot carry (U+FFFE, control characters) is stored as an `_xHHHH_` escape, which calamine
decodes only in part; `_with_escapes_resolved` makes what it reads what the standard says was written.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import zipfile
from pathlib import Path

import duckdb
import pandas as pd

from workbench.errors import InputError
from workbench.ingest import headers, limits

# The name of the column holding each row's number in the file; see files.ROW.
ROW_NAME = "\x01row"


def read_frame(path: Path, sheet: str | None) -> pd.DataFrame:
    """The chosen sheet as text cells, with each row's number in the sheet.

    Without a sheet named, the first visible sheet of cells with anything in it is read (see
    `_first_with_data`). Merged cells in the data give their value to every cell they cover.
    `warnings(frame)` says which sheet was read, which were not, and which cells were filled.

    Raises:
        InputError: not a workbook, no such sheet, no sheet with data, beyond the limits, cells that
            cannot be parsed, a merged cell in the header row, or cells holding an Excel error or an
            uncalculated formula.
    """
    listed = limits.workbook_sheets(path)
    if sheet is None:
        chosen, rows, merged, skipped = _first_with_data(path, listed)
        skipped |= _sheets_after(path, listed, chosen, rows)
    else:
        chosen, skipped = limits.check_workbook(path, sheet), {}
        rows, merged = _calamine(path, chosen, None, merged=True)
    _refuse_valueless_cells(path, chosen)
    _pad_numbers(rows, _padded_cells(path, chosen))
    filled = fill_merged(rows, merged, path.name, chosen)
    result = frame(rows, f'{path.name}, sheet "{chosen}"', letters=True)
    result.attrs["warnings"] = (_sheet_note(listed, chosen, skipped) + warnings(result)
                                + _merged_warning(filled, chosen))
    return result


def warnings(data: pd.DataFrame) -> list[str]:
    """What `read_frame` changed that the user should check (merged cells filled), as sentences."""
    return list(data.attrs.get("warnings", []))


def read_rows(path: Path, sheet: str | None = None, *, data: bytes | None = None) -> list[list]:
    """The chosen sheet (default: the first) as calamine gives it: a list per row from row 1, cells as
    str, float, bool, date or datetime ("" when empty). Checked against the limits first.

    Args:
        data: the workbook's bytes, when they were decrypted in memory (`path` then only names it).

    Raises:
        InputError: not a workbook, no such sheet, beyond the limits, or cells that cannot be parsed.
    """
    chosen = limits.check_workbook(path, sheet, data=data)
    return _calamine(path, chosen, data)[0]


def _calamine(path: Path, chosen: str, data: bytes | None, *, merged: bool = False) -> tuple[list, list]:
    """The sheet's cells, and (if asked) its merged ranges as ((top, left), (bottom, right)), 0-based."""
    import python_calamine

    try:
        data = _with_escapes_resolved(path, chosen, data)
        source = python_calamine.CalamineWorkbook.from_path(str(path)) if data is None else (
            python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)))
        with source as book:
            found = book.get_sheet_by_name(chosen)
            return found.to_python(skip_empty_area=False), (found.merged_cell_ranges or []) if merged else []
    except Exception as error:  # calamine's own errors, and a Rust panic surfaced as an exception
        raise _unreadable(path, chosen, error) from None


def _unreadable(path: Path, sheet: str, error: Exception) -> InputError:
    return InputError(
        f'{path.name}: sheet "{sheet}" could not be read ({_reason(error)}); the workbook is '
        "damaged or holds characters a workbook may not. Open it in Excel and save it again as "
        ".xlsx, or export the sheet as CSV UTF-8, and import that."
    )


def _reason(error: Exception) -> str:
    # calamine's messages can quote cell text: keep only the kind of error.
    return type(error).__name__


# -- which sheet: the one named, or the first visible sheet of cells with data ------------------------


def _first_with_data(path: Path, listed: list) -> tuple[str, list, list, dict[str, str]]:
    """The first visible sheet of cells holding anything: its name, rows and merged ranges, and why
    each sheet before it was passed over (hidden, a chart, empty).

    Hidden sheets are passed over: a person sees the visible ones, and a very hidden sheet cannot
    even be shown from Excel's menus, so reading one would import what nobody can check.

    Raises:
        InputError: no sheet has anything to import; naming every sheet and what it is.
    """
    skipped: dict[str, str] = {}
    for sheet in listed:
        why = _passed_over(sheet)
        if why is None:
            chosen = limits.check_workbook(path, sheet.name)
            rows, merged = _calamine(path, chosen, None, merged=True)
            # A sheet of uncalculated formulas reads as blank, but is not empty: it is refused later.
            if _has_values(rows) or _valueless_cells(path, chosen, None)[1]:
                return chosen, rows, merged, skipped
            why = "empty"
        skipped[sheet.name] = why
    raise _nothing_to_read(path.name, skipped)


def _passed_over(sheet) -> str | None:
    """Why a sheet is not a candidate to read by default, or None when it is."""
    if not sheet.has_cells:
        return limits.KIND_NAMES[sheet.kind]
    if not sheet.visible:
        return "very hidden" if sheet.state == "veryHidden" else "hidden"
    return None


def _has_values(rows: list[list]) -> bool:
    return any(_filled(row) for row in rows)


def _nothing_to_read(name: str, skipped: dict[str, str]) -> InputError:
    listed = ", ".join(f'"{sheet}" ({why})' for sheet, why in skipped.items())
    return InputError(
        f"{name}: no visible sheet has anything to import. Sheets: {listed}. If the data is on a hidden "
        "sheet, choose it with --sheet NAME; otherwise check the right file was chosen. Nothing was "
        "imported."
    )


HEAD_ROWS = 12  # rows of another sheet read to find its header row: enough for a title block above it
SAME_SHARE = 0.8  # two header rows whose names match at least this share have the same columns
SHOWN_SHEETS = 10  # sheets named in one message; the rest are counted


def _sheets_after(path: Path, listed: list, chosen: str, rows: list[list]) -> dict[str, str]:
    """Why each sheet after the one read was not read (hidden, a chart, empty, other columns).

    Raises:
        InputError: other visible sheets have the sheet's columns: the list is split across sheets
            (one tab per branch), and reading one would leave the rest behind without a word.
    """
    later = listed[[s.name for s in listed].index(chosen) + 1 :]
    skipped = {s.name: why for s in later if (why := _passed_over(s))}
    header = _header_names(rows)
    same = []
    for name, head in _heads(path, [s.name for s in later if s.name not in skipped]).items():
        if not _has_values(head):
            skipped[name] = "empty"
        elif _same_columns(header, _header_names(head)):
            same.append(name)
        else:
            skipped[name] = "other columns"
    if same:
        raise _split_list(path.name, chosen, same)
    return skipped


def _heads(path: Path, names: list[str]) -> dict[str, list[list]]:
    """The first HEAD_ROWS rows of each named sheet, each checked against the limits first."""
    import python_calamine

    if not names:
        return {}
    try:
        limits.check_sheets(path, names)
    except InputError as error:
        raise InputError(f"{error} To read one sheet only, choose it with --sheet NAME.") from None
    heads = {}
    with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
        for name in names:
            try:
                heads[name] = book.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=HEAD_ROWS)
            except Exception as error:  # calamine's own errors, and a Rust panic surfaced as an exception
                raise _unreadable(path, name, error) from None
    return heads


def _header_names(rows: list[list]) -> list[str]:
    """The names in the header row, as `frame` will find it (blank cells left out)."""
    index = header_index(rows)
    cells = [_cell(c) for c in rows[index]] if index >= 0 else []
    return [c.strip() for c in cells if c not in (None, "") and c.strip()]


def _same_columns(these: list[str], those: list[str]) -> bool:
    """Two header rows name the same columns: at least SAME_SHARE of the longer one's columns stand
    for a column of the other, spelled the same or matching the same field (Membership No. and
    Membership Number; Surname and Last Name). A row of one cell (a title, a note) never matches.
    """
    if min(len(these), len(those)) < 2:
        return False
    fuzzy = max(len(these), len(those)) <= FUZZY_COLUMNS
    keys = {_column_key(h, fuzzy) for h in these}
    matched = sum(_column_key(h, fuzzy) in keys for h in those)
    return matched >= SAME_SHARE * max(len(these), len(those))


FUZZY_COLUMNS = 200  # wider rows compare by spelling only: rapidfuzz per header and field name adds up


def _column_key(header: str, fuzzy: bool) -> str:
    """The field a header stands for, as the import would match it, or else its normalised spelling."""
    if fuzzy:
        closeness, field = headers.closest_field(header)
        if closeness >= headers.ACCEPT:
            return field
    return headers.normalise(header)


def _split_list(name: str, chosen: str, same: list[str]) -> InputError:
    shown = ", ".join(f'"{s}"' for s in same[:SHOWN_SHEETS]) + (
        f" and {len(same) - SHOWN_SHEETS:,} more" if len(same) > SHOWN_SHEETS else "")
    them = "sheet" if len(same) == 1 else "sheets"
    return InputError(
        f'{name}: {them} {shown} {"has" if len(same) == 1 else "have"} the same columns as sheet "{chosen}", '
        "so the list looks split across sheets (one per branch, say); an import reads one sheet, and "
        "the others would be left out. Nothing was imported. Import each sheet on its own: "
        f'--sheet "{chosen}", then --sheet "{same[0]}", and so on.'
    )


SHEET_NOTE = "Read sheet"  # how the note naming the sheet read begins (an import refused repeats it)


def _sheet_note(listed: list, chosen: str, skipped: dict[str, str]) -> list[str]:
    """Which sheet was read, when the workbook has more than one, and which were not and why."""
    if len(listed) < 2:
        return []
    position = [s.name for s in listed].index(chosen) + 1
    first = "" if position == 1 or not skipped else ", the first visible sheet with data"
    note = f'{SHEET_NOTE} "{chosen}" (sheet {position} of {len(listed)}){first}.'
    if skipped:
        shown = ", ".join(f'"{sheet}" ({why})' for sheet, why in skipped.items())
        note += f" Not read: {shown}."
        if set(skipped.values()) - {"empty", *limits.KIND_NAMES.values()}:  # one may hold data
            note += " To import one of those, use --sheet NAME."
    return [note]


# -- the OOXML escape: _xHHHH_ --------------------------------------------------------------------------
#
# XML cannot carry most control characters, U+FFFE or U+FFFF, so ECMA-376 (ST_Xstring) stores such a
# character as _xHHHH_, its UTF-16 code in hex, and a literal "_xHHHH_" with its underscore escaped:
# "_x005F_xHHHH_". A reader decodes every _xHHHH_ once, left to right (openpyxl's utils.escape.unescape);
# xlsxwriter writes these escapes (xmlwriter._escape_control_characters). calamine decodes only _x00HH_,
# and "_x00+H_" as if it were one (Rust's from_str_radix takes a "+"): U+FFFE came back as the text
# "_xFFFE_", which is also how it rightly reads a person's "_xFFFE_" (written "_x005F_xFFFE_"), so no
# correction of its output can tell the two apart. Instead the XML it reads has each escape it would
# misread resolved first: decoded to the character itself (which calamine reads as text), or, for
# "_x00+H_", its underscore escaped. The _x00HH_ escapes it decodes rightly are left to it, so each
# escape is still decoded once.
ESCAPE = re.compile(  # a UTF-16 pair of escapes (a character past U+FFFF), one escape, or "_x00+H_"
    rb"_x([Dd][89ABab][0-9A-Fa-f]{2})__x([Dd][C-Fc-f][0-9A-Fa-f]{2})_|_x([0-9A-Fa-f]{4})_|_(?=x00\+[0-9A-Fa-f]_)"
)
MISREAD = re.compile(rb"_x(?!00)[0-9A-Fa-f]{4}_|_x00\+[0-9A-Fa-f]_")  # some escape calamine may misread


def _with_escapes_resolved(path: Path, sheet: str, data: bytes | None) -> bytes | None:
    """The workbook for calamine: `data` as given (None: the file at `path`) when its sheet and shared
    strings hold no escape calamine misreads, the usual case; else a copy, in memory, with them resolved."""
    with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as archive:
        _, part = limits.sheet_part(archive, sheet, path.name)
        parts = [n for n in archive.namelist() if n == part or n.lower() == "xl/sharedstrings.xml"]
        if not any(_may_be_misread(archive, n) for n in parts):
            return data
        resolved = {n: ESCAPE.sub(_resolve_escape, archive.read(n)) for n in parts}
        copy = io.BytesIO()
        with zipfile.ZipFile(copy, "w") as out:  # stored, not compressed: it is read once, at once
            for info in archive.infolist():
                out.writestr(info.filename, resolved[info.filename] if info.filename in resolved
                             else archive.read(info))
        return copy.getvalue()


def _may_be_misread(archive: zipfile.ZipFile, part: str) -> bool:
    with archive.open(part) as xml:
        tail = b""
        while chunk := xml.read(SCAN_CHUNK):
            if MISREAD.search(tail + chunk):
                return True
            tail = chunk[-6:]  # an escape cut where a chunk ends is found with the next
    return False


def _resolve_escape(match: re.Match) -> bytes:
    r"""One escape as calamine should be given it: its character, or as it was when calamine reads it so.

    Examples:
        >>> [ESCAPE.sub(_resolve_escape, x).decode() for x in (b"_xFFFE_", b"_x005F_xFFFE_", b"_x00+F_")]
        ['\ufffe', '_x005F_xFFFE_', '_x005F_x00+F_']
        >>> resolved = ESCAPE.sub(_resolve_escape, b"_xD83D__xDE00__x0001__xD800_")
        >>> resolved.decode() == "\U0001f600_x0001__xD800_"
        True
    """
    high, low, code = match.groups()
    if high:
        return chr(0x10000 + (int(high, 16) - 0xD800) * 0x400 + int(low, 16) - 0xDC00).encode()
    if code is None:
        return b"_x005F_"  # "_x00+H_" is text: calamine reads "_x005F_" as "_", then "x00+H_"
    if code.startswith(b"00") or 0xD800 <= int(code, 16) <= 0xDFFF:
        return match.group()  # calamine decodes _x00HH_ rightly; half a UTF-16 pair stays as text
    return chr(int(code, 16)).encode()


# -- merged cells ----------------------------------------------------------------------------------

SHOWN_CELLS = 5  # cells or ranges named in one message; the rest are counted


def fill_merged(rows: list[list], merged: list, name: str, sheet: str) -> list[str]:
    """Copy each merged range's value (held in its top-left cell) into every cell it covers, in place.

    Excel shows a merged cell's value across the whole range, so that is what a person reads on each
    row; calamine gives only the top-left cell its value. A range holding nothing changes nothing.

    Returns:
        The ranges that were filled, as Excel names them ("I2:I5").

    Raises:
        InputError: a merged cell with a value reaches into the header row. Its one name would have to
            stand for several columns (or a column's name would become data), so it is refused.
    """
    header = header_index(rows)
    filled = []
    for (top, left), (bottom, right) in sorted(merged):
        value = rows[top][left] if top < len(rows) and left < len(rows[top]) else ""
        if value in (None, "") or bottom < header:  # a title merged across the top is not read
            continue
        ref = f"{cell_ref(top, left)}:{cell_ref(bottom, right)}"
        if top <= header <= bottom:
            raise _merged_header(name, sheet, ref)
        # Only within the grid calamine read: a range reaching below the data adds no rows of its own.
        for row in rows[top : bottom + 1]:
            row[left : right + 1] = [value] * len(row[left : right + 1])
        filled.append(ref)
    return filled


# -- the header row: the first row with any value, or the row below a title ----------------------------

TITLE_ROWS = 3  # a title block holds at most this many rows of one cell (a title, a subtitle, a date)
TITLE_SPAN = 6  # and ends, blank rows included, within this many rows of the first


def header_index(rows: list[list]) -> int:
    """The 0-based index of the header row: the first row with any value, unless that row starts a
    short title block (rows of one cell of text, such as "Northvale welfare calls - April 2020" or
    a title merged across the top) directly above a row that looks like column names. -1 if blank.

    Examples:
        >>> header_index([["Welfare calls"], [], ["Membership Number", "Phone"], ["SYN1", "07700 900123"]])
        2
        >>> header_index([["Name"], ["Ann, Smith", "Leeds"]])
        0
    """
    first = next((i for i, row in enumerate(rows) if _filled(row)), -1)
    titles = 0
    for index in range(max(first, 0), min(len(rows), first + TITLE_SPAN + 1)):
        filled = _filled(rows[index])
        if not filled:
            continue
        if len(filled) == 1 and isinstance(filled[0], str) and titles < TITLE_ROWS:
            if _names_a_field(filled[0]):
                return first  # a header of one column, not a title
            titles += 1
            continue
        return index if titles and _looks_like_header(filled) else first
    return first


def _filled(row: list) -> list:
    return [c for c in row if c not in (None, "")]


def _looks_like_header(cells: list) -> bool:
    """Column names: two or more cells of text, none shaped like data, one naming a field the
    workbench knows (so a row of a person's details is never taken for them)."""
    return (len(cells) >= 2 and all(isinstance(c, str) for c in cells)
            and not headers.looks_like_data(cells) and any(_names_a_field(c) for c in cells))


def _names_a_field(cell: str) -> bool:
    return _column_key(cell, fuzzy=True) in FIELD_NAMES


FIELD_NAMES = {field for fields in headers.KINDS.values() for field in fields}


def _title_note(rows: list[list], header: int) -> list[str]:
    """What was skipped above the header row, when it sits below a title: by row number, not text."""
    first = next((i for i, row in enumerate(rows) if _filled(row)), header)
    if header <= first:
        return []
    titles = [i + 1 for i in range(first, header) if _filled(rows[i])]
    held = f"Row {titles[0]} holds a title" if len(titles) == 1 else (
        f"Rows {', '.join(map(str, titles[:-1]))} and {titles[-1]} hold a title")
    skipped = "row 1 was skipped" if header == 1 else f"rows 1-{header} were skipped"
    return [f"{held}; the column names are on row {header + 1}, so {skipped}."]


def _merged_header(name: str, sheet: str, ref: str) -> InputError:
    return InputError(
        f'{name}: sheet "{sheet}": {ref} is a merged cell in the header row, so one name covers '
        "several cells. The header row needs one cell per column, each with its own name. Unmerge "
        f"{ref}, name each of its columns, and import again."
    )


def _merged_warning(filled: list[str], sheet: str) -> list[str]:
    if not filled:
        return []
    shown = ", ".join(filled[:SHOWN_CELLS]) + (
        f" and {len(filled) - SHOWN_CELLS:,} more" if len(filled) > SHOWN_CELLS else "")
    what, whose = ("are merged cells", "each one's") if len(filled) > 1 else ("is a merged cell", "its")
    return [
        f'Sheet "{sheet}": {shown} {what}; {whose} value was used for every row and column it covers, '
        "as Excel shows it. Check those rows are meant to share it."
    ]


def cell_ref(row: int, column: int) -> str:
    """A 0-based row and column as Excel names the cell.

    Examples:
        >>> cell_ref(1, 7)
        'H2'
    """
    letters, number = "", column + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


# -- cells with no value: Excel errors and formulas never calculated --------------------------------

SCAN_CHUNK = 4 * 1024 * 1024
# Tags may carry a namespace prefix (<x:c>, written by the Open XML SDK). A cell typed "e" holds an
# Excel error; its cached text is the error's name.
ERROR_CELL = re.compile(  # [^>/]* after the type: a self-closed <c .../> has no value to read
    rb"<(?:\w+:)?c\s([^>]*\bt=[\"']e[\"'][^>/]*)>(.*?)</(?:\w+:)?c>", re.DOTALL
)
# A formula followed by no value, or an empty one: the file was written by a program (openpyxl, a
# script) and never opened in a spreadsheet that calculates. Found from where a formula ends, a
# literal the regex engine jumps between: the whole-cell pattern, tried at every tag, took 2.3 s on
# a 130 MB sheet of 300,000 formulas; these take 0.3 s. The whole-cell pattern is kept for sheets
# whose tags carry a namespace prefix, which are rare.
NO_VALUE = rb"\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>"
FORMULA_END = re.compile(rb"</f>" + NO_VALUE)
SHARED_FORMULA_END = re.compile(rb"<f\b[^>]*/>" + NO_VALUE)  # <f t="shared" si="0"/>: a copied formula
FORMULA_ONLY_CELL = re.compile(
    rb"<(?:\w+:)?c(\s[^>]*)?>\s*<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>[^<]*</(?:\w+:)?f>)\s*"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>"
)
PREFIXED_FORMULA = re.compile(rb"<\w+:f\b")
REFERENCE = re.compile(rb"\br=[\"']([A-Za-z]{1,3}\d{1,7})[\"']")
CELL_TYPE = re.compile(rb"\bt=[\"'](\w+)[\"']")
ERROR_NAME = re.compile(rb"<(?:\w+:)?v>(#[A-Z0-9/_]{1,14}[!?]?)</")


FIXES = {  # kind: (what it is, how to fix it)
    "error": ("an Excel error", "fix the formula or type the value, then import again"),
    "formula": (
        "a formula never calculated",
        "open and save the file in Excel (which calculates it), or paste values, then import again",
    ),
}


def _refuse_valueless_cells(path: Path, sheet: str, data: bytes | None = None) -> None:
    """Refuse the sheet if any cell holds an Excel error or a formula never calculated.

    Such a cell reads as blank, so importing it would lose a value without a word.

    Raises:
        InputError: naming the first few cells (H2), what each holds, and how to fix it.
    """
    found, total, kinds = _valueless_cells(path, sheet, data)
    if not total:
        return
    where = f'{path.name}, sheet "{sheet}"'
    fixes = _fixes(kinds)
    if total == 1:
        raise InputError(f"{where}: {found[0][0]} holds {found[0][1]}: {fixes}. Nothing was imported.")
    lines = "".join(f"\n  {ref} holds {what}." for ref, what in found)
    more = f"\n  ... and {total - len(found):,} more." if total > len(found) else ""
    raise InputError(
        f"{where}: {total:,} cells have no value to import:{lines}{more}\n"
        f"{fixes[0].upper()}{fixes[1:]}. Nothing was imported."
    )


def _fixes(kinds: set[str]) -> str:
    if len(kinds) == 1:
        return FIXES[next(iter(kinds))][1]
    return "; ".join(f"for {FIXES[k][0]}, {FIXES[k][1]}" for k in sorted(kinds))


def _valueless_cells(path: Path, sheet: str, data: bytes | None) -> tuple[list[tuple[str, str]], int, set]:
    """The first SHOWN_CELLS such cells as (reference, what it holds), their count, and their kinds."""
    found: list[tuple[str, str]] = []
    total, kinds = 0, set()
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as archive:
            # The part was found and checked by limits.check_workbook, which this follows.
            _, part = limits.sheet_part(archive, sheet, path.name)
            for piece in _sheet_pieces(archive, part):
                for _, ref, kind, what in sorted(_scan(piece)):  # in the sheet's order
                    total += 1
                    kinds.add(kind)
                    if len(found) < SHOWN_CELLS:
                        found.append((ref, what))
    except (zipfile.BadZipFile, KeyError, EOFError, OSError) as error:
        raise _unreadable(path, sheet, error) from None
    return found, total, kinds


def _sheet_pieces(archive: zipfile.ZipFile, part: str):
    """The sheet's XML in pieces that end after a row, so no cell is split between two."""
    with archive.open(part) as xml:
        rest = b""
        while chunk := xml.read(SCAN_CHUNK):
            text = rest + chunk
            # "row>" ends a row tag (</row>, </x:row>). Excel writes ">" in text as "&gt;", so a
            # cell's own text does not end a piece; at worst one cell at a cut would go unnamed.
            cut = text.rfind(b"row>") + 4
            if cut == 3:  # no row ends here: one very wide row, or not a sheet; bounded all the same
                cut = len(text) if len(text) > 4 * SCAN_CHUNK else 0
            yield text[:cut]
            rest = text[cut:]
        yield rest


def _scan(piece: bytes):
    """(offset, reference, kind, what it holds) for each cell of the piece with no value to import."""
    # Plain substring tests first: most pieces of most sheets have neither, and skip the regexes.
    if b't="e"' in piece or b"t='e'" in piece:
        yield from _error_cells(piece)
    # One writer wrote the whole sheet, so its tags either all carry a prefix or none do.
    if b"<f" in piece:
        yield from _uncalculated_cells(piece, prefixed=False)
    elif b":f" in piece and PREFIXED_FORMULA.search(piece):
        yield from _uncalculated_cells(piece, prefixed=True)


def _error_cells(piece: bytes):
    for match in ERROR_CELL.finditer(piece):
        name = ERROR_NAME.search(match.group(2))
        shown = f"an Excel error ({name.group(1).decode()})" if name else "an Excel error"
        yield match.start(), _reference(match.group(1)), "error", shown


def _uncalculated_cells(piece: bytes, *, prefixed: bool):
    if prefixed:
        found = [(m.start(), m.group(1) or b"") for m in FORMULA_ONLY_CELL.finditer(piece)]
    else:
        ends = [*FORMULA_END.finditer(piece), *SHARED_FORMULA_END.finditer(piece)]
        found = [_cell_start(piece, m.start()) for m in ends]
    for start, attributes in found:
        kind = CELL_TYPE.search(attributes)
        # A formula giving empty text is written with type "str" and an empty value: calculated.
        if kind is None or kind.group(1) not in (b"str", b"inlineStr", b"s", b"e"):
            yield start, _reference(attributes), "formula", "a formula Excel never calculated"


def _cell_start(piece: bytes, inside: int) -> tuple[int, bytes]:
    """Where the cell holding position `inside` begins, and its attributes. "<" never appears in a
    cell's text (XML escapes it), so the nearest "<c" before is the cell's own tag."""
    start = piece.rfind(b"<c", 0, inside)
    return start, piece[start + 2 : piece.find(b">", start)] if start >= 0 else b""


def _reference(attributes: bytes) -> str:
    found = REFERENCE.search(attributes)
    return found.group(1).decode().upper() if found else "a cell (its position is not recorded)"


# -- numbers shown with leading zeros: the "000000" format ---------------------------------------------
#
# A membership number typed as a number and formatted "000000" shows 000121 in Excel; calamine gives
# the number, 121, and drops the format. What the organiser sees is what a calls file will quote, so
# such cells are read as shown. Only formats of zeros alone: any other format keeps the number as read.

PADDED_FORMAT = re.compile(r"0{2,}")  # a whole format code of two or more zeros
STYLED_CELL = rb"<(?:\w+:)?c\s([^>]*\bs=[\"'](?:%s)[\"'][^>]*)>"


def _padded_cells(path: Path, sheet: str) -> dict[tuple[int, int], int]:
    """(row, column), 0-based, of each number cell of the sheet with a zero-padded format: its width."""
    with zipfile.ZipFile(path) as archive:
        styles = _padded_styles(archive)
        if not styles:
            return {}
        _, part = limits.sheet_part(archive, sheet, path.name)
        pattern = re.compile(STYLED_CELL % b"|".join(re.escape(s) for s in styles))
        found = {}
        for piece in _sheet_pieces(archive, part):
            for match in pattern.finditer(piece):
                attributes = match.group(1)
                kind, ref = CELL_TYPE.search(attributes), REFERENCE.search(attributes)
                if ref and (kind is None or kind.group(1) == b"n"):  # a number, not text
                    style = re.search(rb"\bs=[\"'](\d+)", attributes).group(1)
                    found[_position(ref.group(1))] = styles[style]
    return found


def _padded_styles(archive: zipfile.ZipFile) -> dict[bytes, int]:
    """Each cell style (its index, as a cell's s="3" names it) whose number format is zeros alone,
    and how many digits it shows. Built-in formats have none: "0" (id 1) pads nothing."""
    part = next((n for n in archive.namelist() if n.lower() == "xl/styles.xml"), None)
    if part is None:
        return {}
    try:
        styles = limits.small_xml(archive, part)
    except limits.DAMAGED:  # a damaged styles part: the cells read as they always have
        return {}
    widths = {f.get("numFmtId"): len(f.get("formatCode", "")) for f in styles.iter()
              if limits.local_name(f.tag) == "numFmt" and PADDED_FORMAT.fullmatch(f.get("formatCode", ""))}
    cell_styles = next((e for e in styles.iter() if limits.local_name(e.tag) == "cellXfs"), [])
    formats = [xf.get("numFmtId") for xf in cell_styles if limits.local_name(xf.tag) == "xf"]
    return {str(i).encode(): widths[f] for i, f in enumerate(formats) if f in widths}


def _position(ref: bytes) -> tuple[int, int]:
    """A cell reference (b"AB12") as a 0-based (row, column)."""
    letters = re.match(rb"[A-Za-z]+", ref).group()
    column = 0
    for char in letters.upper():
        column = column * 26 + char - 64
    return int(ref[len(letters):]) - 1, column - 1


def _pad_numbers(rows: list[list], padded: dict[tuple[int, int], int]) -> None:
    """Whole numbers in the given cells as text with their leading zeros, as Excel shows them."""
    for (row, column), width in padded.items():
        value = rows[row][column] if row < len(rows) and column < len(rows[row]) else None
        if isinstance(value, float) and value.is_integer():
            rows[row][column] = ("-" if value < 0 else "") + f"{abs(int(value)):0{width}d}"


# -- rows to a frame --------------------------------------------------------------------------------


def frame(rows, where: str = "the file", *, letters: bool = False) -> pd.DataFrame:
    """Rows of cells as an all-text frame: the header row (see `header_index`) names the columns, the
    rows above it (a title) and blank rows go; each row keeps its number in the file.

    Args:
        where: the file (and sheet) as messages name it.
        letters: a sheet's columns are named by letter (D), a text file's by position (column 4).

    Raises:
        InputError: two columns of the header row have the same name (`refuse_duplicate_headers`).

    A row longer than the header gets columns of its own (reported as extra), never silently cut.
    `warnings(frame)` says when rows above the header were skipped.
    """
    rows = iter(rows)
    head = list(itertools.islice(rows, TITLE_SPAN + HEAD_ROWS))
    at = header_index(head)
    header, data, numbers = None, [], []
    for number, values in enumerate(itertools.chain(head, rows), start=1):
        cells = [_cell(v) for v in values]
        if header is None:
            if number > at and any(c not in (None, "") for c in cells):
                refuse_duplicate_headers(cells, where, letters=letters)
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
    result.attrs["warnings"] = _title_note(head, at)
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
    """Header cells made unique ("Ward", "Ward_1") and named where blank ("column3").

    Two cells with the same name are refused first (`refuse_duplicate_headers`); what is left to
    rename is a blank cell whose "column3" a real header already took, and columns past the header.
    """
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


def refuse_duplicate_headers(cells: list, where: str, *, letters: bool) -> None:
    """Refuse a header row that names two columns the same ("Phone" and "Phone", or "phone").

    Renaming one ("Phone_1") gave a name the file does not have, and the import used only the first:
    a member whose number was in the second column lost it without a word. Blank cells are not names.
    A row shaped like data is left alone: it is a person's row, refused later without being repeated.

    Args:
        where: the file (and sheet) as messages name it.
        letters: name columns as Excel does (D), else by position (column 4).

    Raises:
        InputError: naming each set of columns that share a name, and how to fix it.
    """
    names = [str(c).strip() if c not in (None, "") else "" for c in cells]
    if headers.looks_like_data([n for n in names if n]):
        return
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        if name:
            groups.setdefault(headers.normalise(name) or name.casefold(), []).append(index)
    shared = [found for found in groups.values() if len(found) > 1]
    if shared:
        clashes = "; ".join(_clash(found, names[found[0]], letters) for found in shared)
        raise InputError(
            f"{where}: {clashes}, so the import would read only one of each. Each column needs a name of "
            'its own: rename one (for example add "mobile" or "landline") and import again. Nothing was '
            "imported."
        )


def _clash(columns: list[int], name: str, letters: bool) -> str:
    named = [cell_ref(0, c)[:-1] if letters else str(c + 1) for c in columns]
    listed = ", ".join(named[:-1]) + f" and {named[-1]}"
    shown = name if len(name) <= 60 else name[:57] + "..."
    return f'columns {listed} are {"both" if len(columns) == 2 else "all"} named "{shown}"'


__all__ = [
    "ROW_NAME",
    "read_frame",
    "warnings",
    "read_rows",
    "fill_merged",
    "header_index",
    "cell_ref",
    "frame",
    "load_frame",
    "unique_headers",
    "refuse_duplicate_headers",
]
