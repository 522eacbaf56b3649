"""Which sheet of a workbook is read: hidden, chart and empty sheets are passed over, and the import
says which sheet it read.

Every workbook here is a real file written by xlsxwriter into tmp_path and read by the real import.
"""

from __future__ import annotations

import pytest
import xlsxwriter

from workbench import ingest
from workbench.errors import InputError

HEADER = ["Membership Number", "First Name", "Last Name", "Phone", "Ward", "Branch"]


def member(n: int) -> list:
    return [f"SYN{n:07d}", "Ann", "Smith", f"07700 900{n:03d}", "Central", "Ashcombe"]


def put(sheet, members: range, top: int = 0) -> None:
    sheet.write_row(top, 0, HEADER)
    for row, n in enumerate(members, start=top + 1):
        sheet.write_row(row, 0, member(n))


def numbers(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT membership_number FROM identities ORDER BY 1").fetchall()]


# -- F2, F10: hidden, chart and empty sheets are not read by default -----------------------------------


def hidden_old_list(path, state: str = "hidden"):
    """A workbook whose first sheet, "Old list" (3 members), is hidden behind "Members" (30)."""
    book = xlsxwriter.Workbook(path)
    old = book.add_worksheet("Old list")
    put(old, range(1, 4))
    put(book.add_worksheet("Members"), range(11, 41))
    book.worksheets()[1].activate()
    old.hide() if state == "hidden" else old.very_hidden()
    book.close()
    return path


@pytest.mark.parametrize("state", ["hidden", "very hidden"])
def test_a_hidden_first_sheet_is_passed_over_for_the_visible_one_and_the_note_says_so(con, tmp_path, state):
    path = hidden_old_list(tmp_path / "hidden.xlsx", state)
    result = ingest.import_members(con, path, actor="test")
    assert result.loaded == 30 and numbers(con)[0] == "SYN0000011"
    note = next(w for w in result.warnings if w.startswith("Read sheet"))
    assert note.startswith('Read sheet "Members" (sheet 2 of 2), the first visible sheet with data.')
    assert f'Not read: "Old list" ({state}). To import one of those, use --sheet NAME.' in note


def test_a_hidden_sheet_is_read_when_named(con, tmp_path):
    path = hidden_old_list(tmp_path / "hidden.xlsx")
    result = ingest.import_members(con, path, actor="test", sheet="Old list")
    assert result.loaded == 3
    assert 'Read sheet "Old list" (sheet 1 of 2).' in result.warnings


@pytest.mark.parametrize("first", ["empty", "chart"])
def test_an_empty_or_chart_first_sheet_is_passed_over(con, tmp_path, first):
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(path)
    if first == "chart":
        chart = book.add_chart({"type": "column"})
        chart.add_series({"values": "=Members!$A$2:$A$4"})
        book.add_chartsheet("Chart").set_chart(chart)
    else:
        book.add_worksheet("Sheet1")
    put(book.add_worksheet("Members"), range(1, 6))
    book.close()
    result = ingest.import_members(con, path, actor="test")
    assert result.loaded == 5
    why = "a chart" if first == "chart" else "empty"
    name = "Chart" if first == "chart" else "Sheet1"
    assert (f'Read sheet "Members" (sheet 2 of 2), the first visible sheet with data. Not read: "{name}" '
            f"({why}).") in result.warnings


def test_a_workbook_with_no_visible_data_names_its_sheets_and_suggests_sheet(con, tmp_path):
    path = tmp_path / "nothing.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Sheet1")
    hidden = book.add_worksheet("Members")
    put(hidden, range(1, 3))
    hidden.hide()
    book.close()
    with pytest.raises(InputError) as error:
        ingest.import_members(con, path, actor="test")
    message = str(error.value)
    assert message.startswith('nothing.xlsx: no visible sheet has anything to import. Sheets: "Sheet1" '
                              '(empty), "Members" (hidden).')
    assert "--sheet NAME" in message and "has no header row" not in message
    assert numbers(con) == []


def test_a_chart_sheet_named_with_sheet_is_refused_naming_the_sheets_of_cells(con, tmp_path):
    path = tmp_path / "chart.xlsx"
    book = xlsxwriter.Workbook(path)
    put(book.add_worksheet("Members"), range(1, 3))
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=Members!$A$2:$A$3"})
    book.add_chartsheet("Chart").set_chart(chart)
    book.close()
    with pytest.raises(InputError, match='sheet "Chart" is a chart, which holds no cells to import. Choose '
                                         'a sheet of cells with --sheet NAME: "Members".'):
        ingest.import_members(con, path, actor="test", sheet="Chart")


# -- F3: one tab per branch is refused, not read one tab of; other sheets are named in a note ----------


def branch_book(path, header_of=lambda branch: HEADER):
    """A tab per branch, each with its own members, as a hand-kept list is often laid out."""
    book = xlsxwriter.Workbook(path)
    for start, branch in ((1, "Ashcombe"), (11, "Brackenhurst"), (21, "Elderfield")):
        sheet = book.add_worksheet(branch)
        sheet.write_row(0, 0, header_of(branch))
        for row, n in enumerate(range(start, start + 4), start=1):
            sheet.write_row(row, 0, member(n))
    book.close()
    return path


def test_a_list_split_into_one_tab_per_branch_is_refused_naming_the_tabs(con, tmp_path):
    path = branch_book(tmp_path / "branches.xlsx")
    with pytest.raises(InputError) as error:
        ingest.import_members(con, path, actor="test")
    message = str(error.value)
    assert message.startswith('branches.xlsx: sheets "Brackenhurst", "Elderfield" have the same columns as '
                              'sheet "Ashcombe"')
    assert 'Nothing was imported. Import each sheet on its own: --sheet "Ashcombe", then --sheet ' in message
    assert "SYN" not in message and "Smith" not in message
    assert numbers(con) == []
    assert ingest.import_members(con, path, actor="test", sheet="Elderfield").loaded == 4


def test_tabs_whose_headers_are_spelled_differently_count_as_the_same_columns(con, tmp_path):
    spelled = {"Ashcombe": HEADER, "Brackenhurst": ["Membership No.", "First name", "Surname", "Mobile",
                                                    "Ward", "Branch"]}
    path = branch_book(tmp_path / "branches.xlsx", lambda branch: spelled.get(branch, HEADER))
    with pytest.raises(InputError, match='sheets "Brackenhurst", "Elderfield" have the same columns'):
        ingest.import_members(con, path, actor="test")


def test_a_sheet_of_other_content_after_the_data_is_named_in_the_note_and_not_quoted(con, tmp_path):
    path = tmp_path / "notes.xlsx"
    book = xlsxwriter.Workbook(path)
    put(book.add_worksheet("Members"), range(1, 6))
    notes = book.add_worksheet("Read me")
    notes.write(0, 0, "Mrs Leach needs her prescription collected")
    notes.write(1, 0, "Call Gary Bates after 6pm")
    calls = book.add_worksheet("Calls")
    calls.write_row(0, 0, ["Membership Number", "Date", "Outcome", "Notes"])
    calls.write_row(1, 0, ["SYN0000001", "03/04/2020", "answered", "lonely"])
    book.close()
    result = ingest.import_members(con, path, actor="test")
    assert result.loaded == 5
    note = next(w for w in result.warnings if w.startswith("Read sheet"))
    assert note == ('Read sheet "Members" (sheet 1 of 3). Not read: "Read me" (other columns), "Calls" '
                    "(other columns). To import one of those, use --sheet NAME.")


def test_a_notes_sheet_read_first_is_refused_naming_the_sheet_with_the_data(con, tmp_path):
    """A "Read me" tab before the data: its sentences are no column names. The refusal says which
    sheet was read and which was not, and quotes none of the notes."""
    path = tmp_path / "readme-first.xlsx"
    book = xlsxwriter.Workbook(path)
    notes = book.add_worksheet("Read me")
    notes.write(0, 0, "Mrs Leach needs her prescription collected")
    notes.write(1, 0, "Call Gary Bates after 6pm")
    put(book.add_worksheet("Members"), range(1, 6))
    book.close()
    with pytest.raises(InputError) as refused:
        ingest.import_members(con, path, actor="test")
    message = str(refused.value)
    assert 'Read sheet "Read me" (sheet 1 of 2). Not read: "Members" (other columns). To import one of ' \
           "those, use --sheet NAME." in message
    assert "Leach" not in message and "Bates" not in message
    assert ingest.import_members(con, path, actor="test", sheet="Members").loaded == 5


# -- F9: a title above the header row -----------------------------------------------------------------


def problem_rows(con, path, **options) -> list[int]:
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_members(con, path, actor="test", **options)
    return list(rejected.value.result.problems["row"])


def titled_book(path, merged: bool = False):
    """A title in A1 (or merged across A1:F1), a blank row, the header on row 3, and four members; the
    third (row 6) has no membership number."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Members")
    if merged:
        sheet.merge_range(0, 0, 0, len(HEADER) - 1, "Northvale members", book.add_format({"bold": True}))
    else:
        sheet.write(0, 0, "Northvale welfare calls - April 2020")
    sheet.write_row(2, 0, HEADER)
    for row, n in enumerate(range(1, 5), start=3):
        sheet.write_row(row, 0, [None, *member(n)[1:]] if row == 5 else member(n))
    book.close()
    return path


@pytest.mark.parametrize("merged", [False, True])
def test_a_title_above_the_header_is_skipped_with_a_note(con, tmp_path, merged):
    result = ingest.import_members(con, titled_book(tmp_path / "titled.xlsx", merged), actor="test",
                                   skip_invalid=True)
    assert (result.loaded, result.rejected) == (3, 1)
    assert "Row 1 holds a title; the column names are on row 3, so rows 1-2 were skipped." in result.warnings
    assert not [w for w in result.warnings if "merged" in w]


@pytest.mark.parametrize("merged", [False, True])
def test_problems_below_a_title_name_the_sheets_own_row_numbers(con, tmp_path, merged):
    path = titled_book(tmp_path / "titled.xlsx", merged)
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_members(con, path, actor="test")
    message = str(rejected.value)
    assert list(rejected.value.result.problems["row"]) == [6]
    assert "person's details" not in message and "Unmerge" not in message


@pytest.mark.parametrize(("name", "text"), [
    ("excel.csv", "Northvale welfare calls - April 2020,,,,,\n,,,,,\n{rows}"),  # as Excel saves the sheet
    ("typed.csv", "Northvale welfare calls\n\n{rows}"),
    ("semicolons.csv", "Northvale welfare calls\nPrepared by the secretary\n{rows}"),
])
def test_a_title_above_the_header_of_a_csv_is_skipped_with_a_note(con, tmp_path, name, text):
    delimiter = ";" if name.startswith("semicolons") else ","
    rows = "".join(delimiter.join(cells) + "\n" for cells in [HEADER, *(member(n) for n in range(1, 4))])
    path = tmp_path / name
    path.write_text(text.format(rows=rows), encoding="utf-8")
    result = ingest.import_members(con, path, actor="test")
    assert result.loaded == 3 and numbers(con)[0] == "SYN0000001"
    assert any("the column names are on row 3, so rows 1-2 were skipped." in w for w in result.warnings)



# -- F8: two columns with the same name ----------------------------------------------------------------


def test_two_columns_with_the_same_name_are_refused_by_letter(con, tmp_path):
    path = tmp_path / "phones.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Members")
    sheet.write_row(0, 0, ["Membership Number", "First Name", "Last Name", "Phone", "Phone", "Ward", "ward"])
    sheet.write_row(1, 0, ["SYN0000001", "Ann", "Smith", None, "07700 900123", "Central", "Old Central"])
    book.close()
    with pytest.raises(InputError) as error:
        ingest.import_members(con, path, actor="test")
    message = str(error.value)
    assert message.startswith('phones.xlsx, sheet "Members": columns D and E are both named "Phone"; columns '
                              'F and G are both named "Ward", so the import would read only one of each.')
    assert "rename one" in message and "900123" not in message and "Central" not in message
    assert numbers(con) == []


def test_two_columns_with_the_same_name_in_a_csv_are_refused_by_position(con, tmp_path):
    path = tmp_path / "phones.csv"
    path.write_text("Membership Number,Phone,Last Name,Phone\nSYN0000001,,Smith,07700 900123\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match='phones.csv: columns 2 and 4 are both named "Phone", so the import '
                                         "would read only one of each"):
        ingest.import_members(con, path, actor="test")


# -- F1: a number formatted "000000" is read as Excel shows it -----------------------------------------


def test_a_zero_padded_number_is_read_with_its_leading_zeros_and_other_numbers_as_before(con, tmp_path):
    path = tmp_path / "padded.xlsx"
    book = xlsxwriter.Workbook(path)
    six, eight, plain = (book.add_format({"num_format": f}) for f in ("000000", "00000000", "0"))
    sheet = book.add_worksheet("Members")
    sheet.write_row(0, 0, ["Membership Number", "First Name", "Age"])
    sheet.write_number(1, 0, 121, six)  # Excel shows 000121
    sheet.write_number(2, 0, 4567, eight)  # 00004567
    sheet.write_number(3, 0, 989, plain)  # 989: a plain whole-number format pads nothing
    sheet.write_string(4, 0, "000042", six)  # text stays as typed
    for row in range(1, 5):
        sheet.write_string(row, 1, "Ann")
        sheet.write_number(row, 2, 40 + row, six)  # a whole-number field reads the same either way
    book.close()
    assert ingest.import_members(con, path, actor="test").loaded == 4
    assert numbers(con) == ["000042", "00004567", "000121", "989"]
    ages = con.execute("SELECT age FROM members ORDER BY age").fetchall()
    assert [a for (a,) in ages] == [41, 42, 43, 44]
