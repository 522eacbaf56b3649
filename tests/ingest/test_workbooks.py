"""Reading .xlsx sheets: merged cells, Excel error values and formulas never calculated.

Every workbook here is a real file written by openpyxl or xlsxwriter into tmp_path.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from workbench import ingest
from workbench.errors import InputError
from workbench.ingest import workbooks

HEADER = ["Membership Number", "First Name", "Last Name", "Phone", "Ward", "Branch", "Age"]


def member(n: int) -> list:
    return [f"SYN{n:07d}", "Ann", "Smith", f"07700 900{n:03d}", "Central", "Ashcombe", 50]


def wards_and_branches(con) -> list[tuple]:
    return con.execute("SELECT ward, branch FROM members ORDER BY member_key").fetchall()


def member_count(con) -> int:
    return con.execute("SELECT count(*) FROM members").fetchone()[0]


# -- merged cells -------------------------------------------------------------------------------------


@pytest.fixture
def merged_book(tmp_path: Path) -> Path:
    """Four members; Branch merged over F2:F5 and Ward over E2:E3, as a person would lay them out."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for n in range(1, 5):
        sheet.append(member(n))
    sheet.merge_cells("F2:F5")
    sheet.merge_cells("E2:E3")
    path = tmp_path / "merged.xlsx"
    book.save(path)
    return path


def test_a_merged_cell_gives_its_value_to_every_row_it_covers(con, merged_book):
    result = ingest.import_members(con, merged_book, actor="test")
    assert result.loaded == 4
    assert wards_and_branches(con) == [("Central", "Ashcombe")] * 4


def test_merged_cells_are_named_in_a_warning(merged_book):
    data = workbooks.read_frame(merged_book, None)
    assert list(data["Branch"]) == ["Ashcombe"] * 4
    [warning] = workbooks.warnings(data)
    assert 'Sheet "Sheet": E2:E3, F2:F5 are merged cells' in warning
    assert "value was used for every row" in warning


def test_a_merged_cell_across_columns_fills_each_column(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ward", "Branch", "Age"])
    sheet.append(["Central", None, 50])
    sheet.merge_cells("A2:B2")
    book.save(tmp_path / "across.xlsx")
    data = workbooks.read_frame(tmp_path / "across.xlsx", None)
    assert (data.loc[0, "Ward"], data.loc[0, "Branch"]) == ("Central", "Central")
    assert "A2:B2 is a merged cell; its value" in workbooks.warnings(data)[0]


def test_a_blank_merged_cell_changes_nothing_and_says_nothing(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(member(1))
    sheet.append(member(2))
    sheet["E2"], sheet["E3"] = None, None
    sheet.merge_cells("E2:E3")
    book.save(tmp_path / "blank.xlsx")
    data = workbooks.read_frame(tmp_path / "blank.xlsx", None)
    assert list(data["Ward"]) == ["", ""]
    assert workbooks.warnings(data) == []


def test_a_merged_header_cell_is_refused_and_nothing_is_loaded(con, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Membership Number", "Address", None, "Ward"])
    sheet.append(["SYN0000001", "1 High St", "Ashcombe", "Central"])
    sheet.merge_cells("B1:C1")
    book.save(tmp_path / "header.xlsx")
    with pytest.raises(InputError) as caught:
        ingest.import_members(con, tmp_path / "header.xlsx", actor="test")
    message = str(caught.value)
    assert 'header.xlsx: sheet "Sheet": B1:C1 is a merged cell in the header row' in message
    assert "Unmerge B1:C1, name each of its columns" in message
    assert "1 High St" not in message
    assert member_count(con) == 0


# -- Excel errors and formulas never calculated --------------------------------------------------------


def error_book(path: Path, error: str) -> Path:
    """One member whose Ward is a formula Excel calculated to `error`, as Excel itself saves it."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    sheet.write_row(1, 0, member(1))
    sheet.write_formula(1, 4, "=1/0", None, error)
    book.close()
    return path


def openpyxl_book(path: Path, ward: str) -> Path:
    """One member whose Ward (E2) openpyxl writes as given: an error value or a formula, with no value."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(member(1))
    sheet["E2"] = ward
    book.save(path)
    return path


@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"])
def test_an_excel_error_is_refused_naming_the_cell_and_nothing_is_loaded(con, tmp_path, error):
    path = error_book(tmp_path / "errors.xlsx", error)
    with pytest.raises(InputError) as caught:
        ingest.import_members(con, path, actor="test")
    assert str(caught.value) == (
        f'errors.xlsx, sheet "Sheet1": E2 holds an Excel error ({error}): fix the formula or type the '
        "value, then import again. Nothing was imported."
    )
    assert member_count(con) == 0


def test_a_typed_error_value_is_refused_too(tmp_path):
    # openpyxl stores "#N/A" as an error value, as pasting values from Excel does.
    path = openpyxl_book(tmp_path / "typed.xlsx", "#N/A")
    with pytest.raises(InputError, match=r"E2 holds an Excel error \(#N/A\)"):
        workbooks.read_frame(path, None)


def test_a_formula_never_calculated_is_refused(con, tmp_path):
    # openpyxl saves the formula with no value.
    path = openpyxl_book(tmp_path / "uncalculated.xlsx", '=CONCATENATE("Cen", "tral")')
    with pytest.raises(InputError) as caught:
        ingest.import_members(con, path, actor="test")
    assert str(caught.value) == (
        'uncalculated.xlsx, sheet "Sheet": E2 holds a formula Excel never calculated: open and save the '
        "file in Excel (which calculates it), or paste values, then import again. Nothing was imported."
    )
    assert member_count(con) == 0


def test_many_bad_cells_are_counted_in_sheet_order_with_each_fix(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for n in range(1, 9):
        sheet.append(member(n))
        sheet[f"E{n + 1}"] = "#REF!" if n % 2 else "=1+1"
    book.save(tmp_path / "many.xlsx")
    with pytest.raises(InputError) as caught:
        workbooks.read_frame(tmp_path / "many.xlsx", None)
    lines = str(caught.value).splitlines()
    assert lines[0] == 'many.xlsx, sheet "Sheet": 8 cells have no value to import:'
    assert lines[1:4] == [
        "  E2 holds an Excel error (#REF!).",
        "  E3 holds a formula Excel never calculated.",
        "  E4 holds an Excel error (#REF!).",
    ]
    assert lines[6] == "  ... and 3 more."
    assert lines[7].startswith("For an Excel error, fix the formula or type the value, then import again; "
                               "for a formula never calculated, open and save the file in Excel")


def rewrite_sheet(source: Path, target: Path, change) -> Path:
    """A copy of the workbook with its first sheet's XML changed, to write what Excel writes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, change(data) if info.filename == "xl/worksheets/sheet1.xml" else data)
    return target


def test_calculated_formulas_load_including_one_giving_empty_text(con, tmp_path):
    written = tmp_path / "written.xlsx"
    book = xlsxwriter.Workbook(written)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    sheet.write_row(1, 0, member(1))
    sheet.write_row(2, 0, member(2))
    sheet.write_formula(1, 4, '="Cen"&"tral"', None, "Central")
    sheet.write_formula(2, 4, '=""', None, "")
    book.close()
    # Excel saves a formula that gives empty text as type "str" with an empty value: calculated.
    path = rewrite_sheet(written, tmp_path / "calculated.xlsx",
                         lambda xml: xml.replace(b'<c r="E3">', b'<c r="E3" t="str">'))
    ingest.import_members(con, path, actor="test")
    assert sorted(wards_and_branches(con), key=str) == [("Central", "Ashcombe"), (None, "Ashcombe")]


def test_namespaced_sheet_xml_is_scanned_too(tmp_path):
    """The Open XML SDK writes tags with a prefix (<x:c>); an uncalculated formula there is found."""
    plain = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Ward"])
    book.active["A2"] = "=1+1"
    book.save(plain)

    def prefix(xml: bytes) -> bytes:
        for tag in (b"c", b"f", b"v"):
            for start in (b"<", b"</"):
                for end in (b">", b" "):
                    xml = xml.replace(start + tag + end, start + b"x:" + tag + end)
        main = b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        return xml.replace(b"<worksheet ", b"<worksheet " + main)

    prefixed = rewrite_sheet(plain, tmp_path / "prefixed.xlsx", prefix)
    assert b"<x:f>" in zipfile.ZipFile(prefixed).read("xl/worksheets/sheet1.xml")
    with pytest.raises(InputError, match="A2 holds a formula Excel never calculated"):
        workbooks.read_frame(prefixed, None)


# -- the OOXML escape (_xHHHH_) -------------------------------------------------------------------------

# Text a workbook cannot hold as typed: xlsxwriter writes U+FFFE, U+FFFF and control characters as _xHHHH_
# and a literal "_xHHHH_" as "_x005F_xHHHH_"; calamine decodes only _x00HH_, and "_x00+F_" as if it were one.
AWKWARD = ["\ufffe", "\uffff", "a\x01b\x1bc\x1f", "x\ry", "_x0041_", "_x005F_", "_x005f_", "_xFFFE_",
           "\ufffex0041_", "_x00+F_", "__x0041__", "_xD800_", "\U0001f600", "plain"]


@pytest.mark.parametrize("inline", [False, True], ids=["shared strings", "inline strings"])
def test_text_a_workbook_escapes_reads_back_exactly(tmp_path, inline):
    path = tmp_path / "awkward.xlsx"
    book = xlsxwriter.Workbook(path, {"constant_memory": inline, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "Ward")
    for row, text in enumerate(AWKWARD, start=1):
        sheet.write_string(row, 0, text)
    book.close()
    assert [row[0] for row in workbooks.read_rows(path)] == ["Ward", *AWKWARD]
    assert list(workbooks.read_frame(path, None)["Ward"]) == AWKWARD
    assert [row[0] for row in workbooks.read_rows(path, data=path.read_bytes())] == ["Ward", *AWKWARD]


def test_escapes_are_decoded_once_as_the_standard_says_whoever_wrote_them(tmp_path):
    """ECMA-376 ST_Xstring: each _xHHHH_ (a UTF-16 code, hex in either case) is decoded once, in order."""
    written = tmp_path / "written.xlsx"
    book = xlsxwriter.Workbook(written, {"constant_memory": True})
    book.add_worksheet().write_column(0, 0, ["Ward", "ONE", "TWO", "THREE", "FOUR", "FIVE"])
    book.close()
    raw = {b"ONE": b"North_xfffe_End", b"TWO": b"_x005f_xFFFE_", b"THREE": b"_xD83D__xDE00_ smile",
           b"FOUR": b"_x0041__x005F__xD800_", b"FIVE": b"_x005F_x00+F_"}

    def escape(xml: bytes) -> bytes:
        for placeholder, text in raw.items():
            xml = xml.replace(b">" + placeholder + b"<", b">" + text + b"<")
        return xml

    path = rewrite_sheet(written, tmp_path / "escaped.xlsx", escape)
    expected = ["North\ufffeEnd", "_xFFFE_", "\U0001f600 smile", "A__xD800_", "_x00+F_"]
    assert [row[0] for row in workbooks.read_rows(path)[1:]] == expected
