"""Workbooks saved with Excel's 1904 date system (Mac Excel): their dates read as Excel shows them.

In such a workbook day 0 is 1 January 1904, not 30 December 1899, so a serial day number read on the
usual basis lands 4 years and 1 day early. Real .xlsx files built with openpyxl in tmp_path, the
real import, and a real store.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from workbench import ingest
from workbench.privacy import pseudonymise

JOINED = dt.date(2020, 4, 3)
SERIAL_1904 = 42462  # 3 April 2020 in the 1904 system (43924 in the 1900 system)
CALLED = dt.datetime(2020, 4, 3, 10, 15)


def members_workbook(path: Path, joined: list, *, date1904: bool = True, formatted: bool = False) -> Path:
    """A member list of one member a row (SYN0001, ...), joined as given: dates or serial numbers,
    the numbers shown as dates when `formatted`."""
    book = openpyxl.Workbook()
    if date1904:
        book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(["Membership Number", "First Name", "Joined"])
    for row, value in enumerate(joined, start=2):
        sheet.append([f"SYN{row - 1:04d}", "Sam", value])
        if formatted or isinstance(value, dt.date):
            sheet.cell(row=row, column=3).number_format = "dd/mm/yyyy"
    book.save(path)
    return path


def joined_on(con, number: str) -> dt.date | None:
    key = pseudonymise.member_keys(con, [number])[0]
    return con.execute("SELECT joined_on FROM members WHERE member_key = ?", [key]).fetchone()[0]


def test_date_cells_of_a_1904_workbook_keep_their_day(con, tmp_path):
    # openpyxl writes each date as a 1904 serial (42462); Excel shows 03/04/2020.
    path = members_workbook(tmp_path / "mac.xlsx", [dt.datetime(2020, 4, 3), JOINED])
    assert ingest.import_members(con, path).loaded == 2
    assert joined_on(con, "SYN0001") == joined_on(con, "SYN0002") == JOINED


def test_serials_formatted_as_dates_in_a_1904_workbook_keep_their_day(con, tmp_path):
    path = members_workbook(tmp_path / "mac.xlsx", [SERIAL_1904], formatted=True)
    assert ingest.import_members(con, path).loaded == 1
    assert joined_on(con, "SYN0001") == JOINED


def test_plain_serial_numbers_in_a_1904_workbooks_date_column_count_from_1904(con, tmp_path):
    # A number with no date format in a date column: read as a serial day of the workbook's own system.
    path = members_workbook(tmp_path / "mac.xlsx", [SERIAL_1904, SERIAL_1904 + 0.75])
    assert ingest.import_members(con, path).loaded == 2
    assert joined_on(con, "SYN0001") == joined_on(con, "SYN0002") == JOINED


def test_the_same_serial_in_a_1900_workbook_is_the_1900_day(con, tmp_path):
    path = members_workbook(tmp_path / "pc.xlsx", [SERIAL_1904], date1904=False)
    assert ingest.import_members(con, path).loaded == 1
    assert joined_on(con, "SYN0001") == dt.date(2016, 4, 2)  # 42462 counted from 30 December 1899


def test_call_times_written_as_serials_in_a_1904_workbook(con, tmp_path):
    members = members_workbook(tmp_path / "members.xlsx", [JOINED])
    ingest.import_members(con, members)
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(["Call ID", "Membership Number", "Round", "Caller", "Date", "Outcome"])
    sheet.append(["K1", "SYN0001", "R1", "C0001", CALLED, "No answer"])  # a date cell
    sheet.append(["K2", "SYN0001", "R1", "C0001", SERIAL_1904 + 10.25 / 24, "No answer"])  # a number
    sheet.cell(row=2, column=5).number_format = "dd/mm/yyyy hh:mm"
    book.save(tmp_path / "calls.xlsx")
    result = ingest.import_calls(con, tmp_path / "calls.xlsx")
    assert (result.loaded, result.rejected) == (2, 0)
    stored = dict(con.execute("SELECT call_id, called_at FROM calls").fetchall())
    assert stored == {"K1": CALLED, "K2": CALLED}


def _with_date_system(path: Path, written: bytes) -> Path:
    """The workbook at `path` with its workbookPr's date1904 attribute written as given (b'true'),
    as another program than openpyxl may write it."""
    copy = io.BytesIO()
    with zipfile.ZipFile(path) as archive, zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as out:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename == "xl/workbook.xml":
                assert b'date1904="1"' in data
                data = data.replace(b'date1904="1"', b'date1904="' + written + b'"')
            out.writestr(info, data)
    path.write_bytes(copy.getvalue())
    return path


@pytest.mark.parametrize(("written", "joined"), [
    (b"true", JOINED), (b"1", JOINED), (b"false", dt.date(2016, 4, 2)), (b"0", dt.date(2016, 4, 2)),
])
def test_the_date_system_is_read_however_the_flag_is_written(con, tmp_path, written, joined):
    path = _with_date_system(members_workbook(tmp_path / "mac.xlsx", [SERIAL_1904]), written)
    assert ingest.import_members(con, path).loaded == 1
    assert joined_on(con, "SYN0001") == joined


def test_a_zipped_1904_workbook_keeps_its_date_system(con, tmp_path):
    book = members_workbook(tmp_path / "mac.xlsx", [SERIAL_1904])
    with zipfile.ZipFile(tmp_path / "mac.zip", "w") as archive:
        archive.write(book, "mac.xlsx")
    assert ingest.import_members(con, tmp_path / "mac.zip").loaded == 1
    assert joined_on(con, "SYN0001") == JOINED
