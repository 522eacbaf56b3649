"""exports: formula-safe CSV and XLSX, print-ready HTML, notices, atomic 0600 files."""

from __future__ import annotations

import codecs
import csv
import io
import os
import shutil
import stat
import subprocess
import tempfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import returned

HOSTILE = [
    '=HYPERLINK("http://x","click")',
    "+44 7700 900123",
    "@SUM(1)",
    "-2+3",
    "\tTab",
    "\rCR",
    "=1+1",
    "\u202eevil\u202c name",
]
SAFE = ["Alice", "O'Brien", "07700 900123", "", "Anne-Marie", "Zoë"]
NOTICE = exports.Notice(
    "CONFIDENTIAL: test list",
    ("List ID: FU-20200415-ABCDE.", "Report it: if lost, tell dataprotection@example.org."),
    running="CONFIDENTIAL · List FU-20200415-ABCDE",
)


def _frame(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Row": range(1, len(names) + 1),
            "First Name": names,
            "Phone": ["+447700900001"] * len(names),
            "Outcome": [""] * len(names),
        }
    )


@pytest.mark.parametrize("value", HOSTILE[:-1])
def test_formula_like_cells_get_a_quote(value):
    escaped = exports.escape_cell(value)
    assert escaped == "'" + value
    assert exports.unescape_cell(escaped) == value


@pytest.mark.parametrize("value", [*SAFE, HOSTILE[-1]])
def test_other_cells_are_left_alone(value):
    assert exports.escape_cell(value) == value
    assert exports.unescape_cell(value) == value


def test_numbers_are_not_escaped():
    assert exports.escape_cell(-2) == -2


# Written out here, not read from exports.FORMULA_TRIGGERS, so a shortened list there fails these tests:
# OWASP's six, and the full-width and small forms a spreadsheet also takes for = + - @.
OWASP_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
WIDE_TRIGGERS = ("\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\ufe62", "\ufe63", "\ufe6b")
LEADING = (" ", "\n", "\u00a0", "\u3000", "\u200b", "\ufeff", "\x0b")  # what a spreadsheet skips
HIDDEN_PREFIXES = ["\n=cmd|'/c calc'!A0", "\uff1dcmd|'/c calc'!A0", "  =1+1", "\u3000@SUM(1)",
                   "\u200b+44", "\ufe63 2", "\r\n=1",
                   " \t1", "\n\r1"]  # a tab or carriage return behind whitespace (found by hypothesis)


def _runs_as_formula(text: str) -> bool:
    if text.startswith(OWASP_TRIGGERS):
        return True
    rest = text
    while rest[:1] in LEADING and rest:
        rest = rest[1:]
    return rest.startswith(OWASP_TRIGGERS + WIDE_TRIGGERS)


@pytest.mark.parametrize("value", HIDDEN_PREFIXES + [t + "x" for t in OWASP_TRIGGERS + WIDE_TRIGGERS])
def test_formula_prefixes_behind_whitespace_and_in_wide_forms_get_a_quote(value):
    assert exports.escape_cell(value) == "'" + value
    assert exports.unescape_cell("'" + value) == value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from([*OWASP_TRIGGERS, *WIDE_TRIGGERS, *LEADING, "a", "1", "'", "é"])
               | st.characters(), max_size=12))
def test_escaping_round_trips_and_leaves_no_live_formula(text):
    escaped = exports.escape_cell(text)
    if _runs_as_formula(text):
        assert escaped == "'" + text
    assert not _runs_as_formula(escaped)
    assert exports.unescape_cell(escaped) == text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_csv_quotes_every_field_escapes_formulas_and_starts_with_the_notice(tmp_path):
    path = exports.write_csv(_frame(HOSTILE), tmp_path / "list.csv", notice=NOTICE)
    assert _mode(path) == 0o600
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == '"# CONFIDENTIAL: test list"'
    assert lines[1].startswith('"# List ID: FU-20200415-ABCDE')
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    table = [r for r in rows if r and not r[0].startswith("#")]
    assert table[0] == ["Row", "First Name", "Phone", "Outcome"]
    names = [r[1] for r in table[1:]]
    assert names[:7] == ["'" + v for v in HOSTILE[:7]]
    assert names[7] == HOSTILE[7]
    assert all(r[2] == "'+447700900001" for r in table[1:])  # a + phone keeps its OWASP quote
    # QUOTE_ALL: every field of every data line is quoted, even numbers and blanks.
    assert lines[len(NOTICE.lines) + 3].startswith('"1","\'=HYPERLINK(')


def test_csv_reads_back_unescaped(tmp_path):
    path = exports.write_csv(_frame(HOSTILE), tmp_path / "list.csv", notice=NOTICE)
    header, rows = returned.read_table(path, header_first="Row")
    assert header == ["Row", "First Name", "Phone", "Outcome"]
    assert [r[1][1] for r in rows] == HOSTILE
    assert rows[0][0] == len(NOTICE.lines) + 4  # the line a spreadsheet shows


def test_xlsx_has_no_formulas_and_keeps_text_as_text(tmp_path):
    path = exports.write_xlsx(
        _frame(HOSTILE + SAFE),
        tmp_path / "list.xlsx",
        notice=NOTICE,
        sheet=exports.Sheet(editable=("Outcome",), choices={"Outcome": ["resolved"]}),
    )
    assert _mode(path) == 0o600
    ws = openpyxl.load_workbook(path).active
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type != "f" for c in cells)
    assert ws["A1"].value == "CONFIDENTIAL: test list"
    assert ws["A2"].value == "List ID: FU-20200415-ABCDE."
    header_row = len(NOTICE.lines) + 3
    assert [c.value for c in ws[header_row]] == ["Row", "First Name", "Phone", "Outcome"]
    # Control characters are stored as _xHHHH_ in the XML; Excel shows them as themselves.
    names = [unescape(ws.cell(header_row + 1 + i, 2).value) for i in range(len(HOSTILE))]
    assert names[:7] == ["'" + v for v in HOSTILE[:7]]
    assert names[7] == HOSTILE[7]  # right-to-left text survives as it was
    phone = ws.cell(header_row + 1, 3)
    assert phone.data_type == "s" and phone.value == "'+447700900001"
    assert ws.protection.sheet and not ws.cell(header_row + 1, 4).protection.locked


def test_xlsx_reads_back_unescaped(tmp_path):
    path = exports.write_xlsx(_frame(HOSTILE), tmp_path / "list.xlsx", notice=NOTICE)
    header, rows = returned.read_table(path, header_first="Row")
    assert [r[1][1] for r in rows] == HOSTILE
    assert [r[1][0] for r in rows] == list(range(1, len(HOSTILE) + 1))


def test_html_escapes_markup_isolates_bidi_and_carries_the_notice_twice(tmp_path):
    frame = _frame(["<script>alert(1)</script>", HOSTILE[-1]])
    path = exports.write_html(
        frame, tmp_path / "list.html", notice=NOTICE, title="Test list", row_numbers=True
    )
    assert _mode(path) == 0o600
    page = path.read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"<bdi>{HOSTILE[-1]}</bdi>" in page
    assert page.count("Report it: if lost, tell dataprotection@example.org.") == 2  # header and footer
    for rule in (
        "size: A4",
        "thead { display: table-header-group; }",
        "break-inside: avoid",
        "overflow-wrap: anywhere",
        "@top-center",
        "counter(page)",
    ):
        assert rule in page


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "list.csv"
    target.write_text("the old list")

    def broken(temp: Path) -> None:
        temp.write_text("half a list")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        exports.atomic_write(target, broken, force=True)
    assert target.read_text() == "the old list"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv"]


def test_writing_into_a_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        exports.write_csv(_frame(["A"]), tmp_path / "nowhere" / "list.csv")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("list.doc", b"x", "Unsupported file extension: '.doc'"),
        ("list.xlsx", b"List ID,Row\n", "list.xlsx is not a readable .xlsx workbook"),
        ("list.csv", b"# only a notice\n", 'no header row starting with "Row"'),
        # A UTF-16 mark (Excel's "Unicode Text") is read as UTF-16: these bytes hold no header in it.
        ("list.csv", b"\xff\xfe\x00bad", 'no header row starting with "Row"'),
        ("list.csv", b"", 'no header row starting with "Row"'),
    ],
)
def test_unreadable_returns_say_what_to_do(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        returned.read_table(path, header_first="Row")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_a_returned_csv_is_read_in_the_encodings_spreadsheets_save(tmp_path, encoding):
    path = tmp_path / "list.csv"
    path.write_bytes("Row;Name\r\n1;Zoë Ní Bhriain\r\n".encode(encoding))
    assert returned.read_table(path, header_first="Row") == (["Row", "Name"], [(2, ["1", "Zoë Ní Bhriain"])])


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(
    not _chromium() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (under CI=true this test must run)",
)
def test_html_prints_on_a4_with_every_row_and_a_header_on_every_page(tmp_path):
    for tool in ("pdfinfo", "pdftotext"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install poppler-utils"
    # Long names must wrap, not be cut off: each ends with a token that must survive whole.
    names = [
        f"Person{i:03d} with a rather long double-barrelled name ending End{i:03d}" for i in range(1, 81)
    ]
    frame = _frame(names)
    html_path = exports.write_html(
        frame, tmp_path / "list.html", notice=NOTICE, title="Test list", row_numbers=True
    )
    pdf = tmp_path / "list.pdf"
    subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html_path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    info = subprocess.run(
        [shutil.which("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert "(A4)" in info and pages >= 2
    text = subprocess.run(
        [shutil.which("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    per_page = text.split("\f")[:pages]
    for number, page in enumerate(per_page, start=1):
        assert "List FU-20200415-ABCDE" in page, f"page {number} has no running header"
        if "Person" in page:
            assert "First Name" in page, f"page {number} does not repeat the table header"
        assert f"Page {number} of {pages}" in page
    for i in range(1, 81):
        assert f"Person{i:03d}" in text, f"row {i} is missing from the printout"
        assert f"End{i:03d}" in text, f"row {i} is cut off"
    assert text.count("Report it: if lost") == 2  # the notice opens and closes the printout


# -- a workbook is made to be printed and filled in ------------------------------------------------


def _printed_list(tmp_path: Path, **sheet) -> openpyxl.worksheet.worksheet.Worksheet:
    frame = pd.DataFrame({"Row": [1, 2], "First Name": ["Ann", "Bo"], "Outcome": ["", ""],
                          "Call-back prompt": ["Ask about food shopping.", "Ask how they are."],
                          "A column whose name is much longer than forty characters": ["", ""]})
    notice = exports.Notice("CONFIDENTIAL: test list", ("Shred it when the calls are done. " * 9,))
    path = exports.write_xlsx(frame, tmp_path / "list.xlsx", notice=notice, sheet_name="Calls",
                              sheet=exports.Sheet(**sheet) if sheet else None)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Calls"]
    return book.active


def test_a_workbook_prints_on_a4_landscape_one_page_wide_with_its_header_on_every_page(tmp_path):
    ws = _printed_list(tmp_path)
    # The notice spans the table, one line a row, tall enough for its wrapped text; then a blank row.
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:E1", "A2:E2"}
    assert ws["A1"].font.b and ws.row_dimensions[2].height == 45  # 306 characters: three lines of 150
    assert [c.value for c in ws[4]] == ["Row", "First Name", "Outcome", "Call-back prompt",
                                        "A column whose name is much longer than forty characters"]
    assert all(c.font.b for c in ws[4])
    assert ws.freeze_panes == "A5" and ws.print_title_rows == "$4:$4"  # the header on every page
    assert (ws.page_setup.paperSize, ws.page_setup.orientation) == (9, "landscape")
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    assert ws.oddFooter.center.text == "Page &P of &N"
    assert all(c.alignment.wrap_text for row in ws.iter_rows(min_row=4) for c in row)
    widths = {k: round(v.width) for k, v in ws.column_dimensions.items()}
    assert widths == {"A": 11, "B": 15, "C": 12, "D": 21, "E": 41}  # from the names, 10 to 40 wide
    # No Sheet: nothing to fill in, so no protection and no drop-downs.
    assert not ws.protection.sheet and not ws.data_validations.dataValidation


def test_only_the_columns_to_fill_in_are_open_with_their_choices(tmp_path):
    ws = _printed_list(tmp_path, editable=("Outcome",), choices={"Outcome": ["resolved", "unreachable"]},
                       widths={"Call-back prompt": 30})
    assert ws.protection.sheet and ws.protection.password is None  # a guard against slips, not a lock
    assert ws.protection.sort  # sorting stays off: a sorted list no longer matches its Row numbers
    (validation,) = ws.data_validations.dataValidation
    assert (str(validation.sqref), validation.type, validation.formula1) == (
        "C5:C6", "list", '"resolved,unreachable"')
    for row in ws.iter_rows(min_row=5, max_row=6):
        assert [c.protection.locked for c in row] == [True, True, False, True, True]
        assert row[2].fill.fgColor.rgb == "FFFFFDE7" and row[1].fill.fgColor.rgb == "00000000"
    assert round(ws.column_dimensions["C"].width) == 17 and round(ws.column_dimensions["D"].width) == 31


def test_csv_is_utf8_with_a_bom_and_crlf_lines_for_excel_with_its_notice_on_hash_lines(tmp_path):
    path = exports.write_csv(pd.DataFrame({"Ward": ["Zoë's"]}), tmp_path / "t.csv", notice=NOTICE)
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)  # Excel opens UTF-8 CSV correctly only with the BOM
    assert raw.decode("utf-8-sig").split("\r\n") == [
        '"# CONFIDENTIAL: test list"', '"# List ID: FU-20200415-ABCDE."',
        '"# Report it: if lost, tell dataprotection@example.org."', '"#"', '"Ward"', '"Zoë\'s"', ""]
    bare = exports.write_csv(pd.DataFrame({"n": [1]}), tmp_path / "bare.csv")
    assert bare.read_bytes() == codecs.BOM_UTF8 + b'"n"\r\n"1"\r\n'


@pytest.mark.parametrize(("value", "shown"), [
    (None, ""), (float("nan"), ""), (pd.NaT, ""), (pd.NA, ""),
    (["food", "digital"], "food; digital"), (("a", ["b", None]), "a; b; "),
    (datetime(2020, 4, 15, 9, 5), "15/04/2020 09:05"), (pd.Timestamp("2020-04-15 18:30"), "15/04/2020 18:30"),
    (date(2020, 4, 5), "05/04/2020"), (3, "3"), (2.5, "2.5"), (True, "True"), ("text", "text"),
])
def test_each_kind_of_value_is_shown_as_a_person_reads_it(value, shown):
    assert exports.cell_text(value) == shown


def test_numbers_stay_numbers_and_everything_else_is_text_in_a_workbook(tmp_path):
    frame = pd.DataFrame({"a": [np.int64(7), 1.5, True, float("nan"), "8"]}, dtype=object)
    ws = openpyxl.load_workbook(exports.write_xlsx(frame, tmp_path / "t.xlsx")).active
    cells = [ws.cell(row, 1) for row in range(2, 7)]
    assert [(c.value, c.data_type) for c in cells] == [(7, "n"), (1.5, "n"), ("True", "s"), ("", "s"),
                                                       ("8", "s")]
    csv_rows = exports.write_csv(frame, tmp_path / "t.csv").read_bytes().decode("utf-8-sig").split("\r\n")
    assert csv_rows[1:-1] == ['"7"', '"1.5"', '"True"', '""', '"8"']


# -- the printed HTML page: its title, columns, row numbers and widths -----------------------------


def _html_page(tmp_path: Path, **options) -> str:
    frame = pd.DataFrame({"Row": [1, 2], "First Name": ["Ann", "Bo"], "Call-back prompt": ["Ask.", "Ask."]})
    notice = options.pop("notice", NOTICE)
    path = exports.write_html(frame, tmp_path / "list.html", notice=notice, title="Calls for Ward A",
                              **options)
    return path.read_text(encoding="utf-8")


def test_html_page_shows_its_title_and_column_names(tmp_path):
    """The page's title is both the window title and its heading; each column is headed by its name."""
    page = _html_page(tmp_path)
    assert "<title>Calls for Ward A</title>" in page and "<h1>Calls for Ward A</h1>" in page
    assert ('<th scope="col">Row</th><th scope="col">First Name</th><th scope="col">Call-back prompt</th>'
            in page)
    assert "<td><bdi>1</bdi></td><td><bdi>Ann</bdi></td><td><bdi>Ask.</bdi></td>" in page  # no index column


def test_html_row_numbers_mark_only_the_first_column(tmp_path):
    """With row numbers, only the first column gets the narrow bold style, in every row."""
    page = _html_page(tmp_path, row_numbers=True)
    assert '<colgroup><col class="rownum"><col><col></colgroup>' in page
    assert page.count('<td class="rownum">') == 2 and page.count("<td>") == 4


def test_html_without_row_numbers_marks_no_column(tmp_path):
    """Row numbers are off unless asked for: no column gets their style."""
    page = _html_page(tmp_path)
    assert "<colgroup><col><col><col></colgroup>" in page and 'class="rownum"' not in page


@pytest.mark.parametrize(("width", "kept"), [
    ("22%", True), ("12.5mm", True), ("3em", True),
    ("22", False), ("22px", False), ("22MM", False), (".5em", False), ("22%; color: red", False),
    ("expression(alert(1))", False),
])
def test_html_column_widths_take_only_a_plain_length(tmp_path, width, kept):
    """A width reaches the page's style only as a plain number of mm, % or em; anything else is dropped."""
    page = _html_page(tmp_path, widths={"Call-back prompt": width})
    styled = f'<colgroup><col><col><col style="width: {width}"></colgroup>'
    assert (styled in page) is kept
    assert kept or "<colgroup><col><col><col></colgroup>" in page


def test_html_running_header_is_the_notice_title_unless_one_is_given(tmp_path):
    """Every printed page is headed by the notice's running line, or by its title when it has none."""
    plain = _html_page(tmp_path, notice=exports.Notice("CONFIDENTIAL: Ward A calls"))
    assert '@top-center { content: "CONFIDENTIAL: Ward A calls";' in plain
    assert '<div class="running">CONFIDENTIAL: Ward A calls</div>' in plain
    (tmp_path / "list.html").unlink()
    given = _html_page(tmp_path, notice=exports.Notice("CONFIDENTIAL", running="List FU-1"))
    assert '<div class="running">List FU-1</div>' in given


def test_render_html_numbers_no_rows_unless_asked():
    """The page text on its own (as printed to PDF) has no row-number column unless asked for."""
    frame = pd.DataFrame({"Row": [1], "First Name": ["Ann"]})
    page = exports.render_html(frame, notice=NOTICE, title="Calls")
    assert "<colgroup><col><col></colgroup>" in page and 'class="rownum"' not in page


# -- workbooks: the sheet's name, the notice rows, and nothing that turns into a link or formula ---


def test_a_workbook_sheet_is_named_list_unless_told_otherwise(tmp_path):
    """Both workbook writers name the one sheet "List" by default."""
    frame = pd.DataFrame({"Row": [1]})
    assert openpyxl.load_workbook(exports.write_xlsx(frame, tmp_path / "t.xlsx")).sheetnames == ["List"]
    assert openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(frame))).sheetnames == ["List"]


def _link_and_formula_lines(ws) -> list[tuple[object, str, object]]:
    return [(ws.cell(row, 1).value, ws.cell(row, 1).data_type, ws.cell(row, 1).hyperlink) for row in (2, 3)]


LINK_NOTICE = exports.Notice("CONFIDENTIAL", ("https://example.org/privacy", "{=1+1}"))


def test_a_workbook_notice_never_becomes_a_link_or_an_array_formula(tmp_path):
    """Notice text that looks like a web address or an array formula stays plain text in a workbook."""
    path = exports.write_xlsx(pd.DataFrame({"Row": [1]}), tmp_path / "t.xlsx", notice=LINK_NOTICE)
    ws = openpyxl.load_workbook(path).active
    assert _link_and_formula_lines(ws) == [("https://example.org/privacy", "s", None), ("{=1+1}", "s", None)]


def test_a_workbook_built_in_memory_never_touches_the_disk(tmp_path, monkeypatch):
    """xlsx_bytes (used before encrypting) needs no temporary files: it works with no temp folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    data = exports.xlsx_bytes(pd.DataFrame({"Row": [1], "Outcome": [""]}), notice=LINK_NOTICE,
                              sheet=exports.Sheet(editable=("Outcome",)), sheet_name="Calls")
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book.active
    assert book.sheetnames == ["Calls"] and ws["A1"].value == "CONFIDENTIAL"
    assert _link_and_formula_lines(ws) == [("https://example.org/privacy", "s", None), ("{=1+1}", "s", None)]
    assert ws.protection.sheet and not ws["B6"].protection.locked  # the Sheet is applied


def test_each_notice_row_spans_two_columns_at_least_and_is_as_tall_as_its_wrapped_text():
    """A notice line over one column still spans two cells; 150 characters fit a line, 151 take two."""
    notice = exports.Notice("CONFIDENTIAL", ("a" * 150, "b" * 151))
    data = exports.xlsx_bytes(pd.DataFrame({"Row": [1]}), notice=notice)
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:B1", "A2:B2", "A3:B3"}
    heights = {row: dim.height for row, dim in ws.row_dimensions.items() if dim.height}
    assert heights == {3: 30}  # rows 1 and 2 keep the default height of 15
    assert ws["A1"].font.b and not ws["A2"].font.b and ws["A2"].alignment.wrap_text


def test_an_empty_list_still_offers_its_choices_in_the_first_row():
    """With no rows yet, the drop-down still covers the first row under the header."""
    sheet = exports.Sheet(editable=("Outcome",), choices={"Outcome": ["resolved"]})
    data = exports.xlsx_bytes(pd.DataFrame({"Row": [], "Outcome": []}), sheet=sheet)
    (validation,) = openpyxl.load_workbook(io.BytesIO(data)).active.data_validations.dataValidation
    assert str(validation.sqref) == "B2"


def test_choices_for_a_column_the_list_does_not_have_are_ignored():
    """Choices given for a missing column add no drop-down and no error."""
    sheet = exports.Sheet(editable=("Outcome",), choices={"Not here": ["x"], "Outcome": ["resolved"]})
    data = exports.xlsx_bytes(pd.DataFrame({"Row": [1], "Outcome": [""]}), sheet=sheet)
    (validation,) = openpyxl.load_workbook(io.BytesIO(data)).active.data_validations.dataValidation
    assert (str(validation.sqref), validation.formula1) == ("B2", '"resolved"')


def test_a_protected_workbook_still_lets_a_caller_widen_columns_and_rows():
    """Protection guards the cells, not the layout: columns and rows can be resized to write in."""
    data = exports.xlsx_bytes(pd.DataFrame({"Outcome": [""]}), sheet=exports.Sheet(editable=("Outcome",)))
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws.protection.sheet and not ws.protection.formatColumns and not ws.protection.formatRows
    assert (ws.page_setup.fitToWidth or 1) == 1  # one page wide (1 is the file format's default)


def test_a_typed_quote_before_a_formula_gets_a_second_quote_and_comes_back():
    """A person's own "'=1" is escaped again, so reading it back gives "'=1", not "=1"."""
    assert exports.escape_cell("'=1") == "''=1" and exports.unescape_cell("''=1") == "'=1"
    assert exports.escape_cell("'plain") == "'plain" and exports.unescape_cell("'plain") == "'plain"


@pytest.mark.parametrize("value", ["\x00=1", "\x1f+1", "\u200e@SUM(1)", "\u2060-1"])
def test_a_formula_behind_an_invisible_control_or_format_character_gets_a_quote(value):
    """Control (Cc) and format (Cf) characters are skipped like spaces: the formula behind them counts."""
    assert exports.escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["\x00x", "\u200e1", " \u2060 a"])
def test_invisible_characters_before_plain_text_leave_it_alone(value):
    """Skipped characters before ordinary text do not make it a formula."""
    assert exports.escape_cell(value) == value


def test_an_editable_column_is_open_below_the_table_too_at_its_own_width():
    """The whole column to fill in is unlocked and pale yellow, at the width asked for (16 if none)."""
    sheet = exports.Sheet(editable=("Outcome", "Notes"), widths={"Outcome": 25})
    data = exports.xlsx_bytes(pd.DataFrame({"Row": [1], "Outcome": [""], "Notes": [""]}), sheet=sheet)
    columns = openpyxl.load_workbook(io.BytesIO(data)).active.column_dimensions
    assert [round(columns[c].width) for c in "BC"] == [26, 17]
    for letter in "BC":
        assert columns[letter].protection.locked is False and columns[letter].fill.fgColor.rgb == "FFFFFDE7"
    assert columns["A"].protection.locked


def test_a_cell_holding_an_array_is_shown_with_its_values_not_an_error():
    """An array cell (DuckDB hands list columns over as arrays) is shown, not dropped or an error."""
    text = exports.cell_text(np.array(["food", "digital"]))
    assert "food" in text and "digital" in text
