"""A member list's joined dates judged as a column, as a call export's dates are (test_date_order).

Each cell alone cannot say whether 04/05/2019 is 4 May or 5 April; the column can. Real files in
tmp_path, the real import, and a real store.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from workbench import ingest


def members_file(path: Path, joined: list[str], **columns) -> Path:
    """A plain member list, one member a row (SYN0000, ...), joined as given."""
    numbers = [f"SYN{i:04d}" for i in range(len(joined))]
    frame = pd.DataFrame({"Membership Number": numbers, "First Name": "Sam", "Joined": joined, **columns})
    frame.to_csv(path, index=False)
    return path


def joined(con) -> dict[str, dt.date]:
    """Each member's joined date, by membership number."""
    rows = con.execute(
        "SELECT i.membership_number, m.joined_on FROM members m JOIN identities i USING (member_key)"
    ).fetchall()
    return dict(rows)


def test_a_month_first_joined_column_is_read_month_first_with_a_note_saying_so(con, tmp_path):
    # A US tool's member list: everyone joined in April 2019, written mm/dd/yyyy.
    when = [f"04/{day:02d}/2019" for day in range(1, 29)]
    result = ingest.import_members(con, members_file(tmp_path / "us.csv", when))
    assert (result.loaded, result.rejected) == (28, 0)
    assert sorted(joined(con).values()) == [dt.date(2019, 4, day) for day in range(1, 29)]
    note = next(n for n in result.notes if "month first" in n)
    assert note.startswith('column "Joined" was read month first (m/d/yyyy): 16 of its dates read only')
    assert "first: row 14 (04/13/2019)" in note
    assert "The 11 that read either way (first: row 2 (04/01/2019)) were read month first" in note


MIXED = ["13/04/2019", "04/14/2019", "05/04/2019", "04/04/2019", "4/6/2019"]


def test_a_mixed_joined_column_makes_its_either_way_dates_row_problems(con, tmp_path):
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_members(con, members_file(tmp_path / "mixed.csv", MIXED))
    problems = rejected.value.result.problems.set_index("row")
    assert list(problems.index) == [3, 4, 6]
    assert set(problems["column"]) == {"Joined"}
    assert "is not a date we can read" in problems.loc[3, "problem"]  # 04/14: only month first
    for row in (4, 6):  # 05/04 and 4/6: 5 April or 4 May, 4 June or 6 April
        problem = problems.loc[row, "problem"]
        assert problem.startswith("reads as two different days (day first or month first)")
        assert "row 2 (13/04/2019) reads only day first and row 3 (04/14/2019) only month first" in problem
    assert 'mixed.csv row 4, column "Joined": 05/04/2019 reads as two different days' in str(rejected.value)
    assert joined(con) == {}  # nothing was imported


def test_skip_invalid_never_guesses_a_mixed_joined_columns_either_way_dates(con, tmp_path):
    path = members_file(tmp_path / "mixed.csv", MIXED)
    result = ingest.import_members(con, path, skip_invalid=True, rejects=tmp_path / "mixed.rejects.csv")
    assert joined(con) == {"SYN0000": dt.date(2019, 4, 13), "SYN0003": dt.date(2019, 4, 4)}
    assert result.rejected == 3
    warning = next(w for w in result.warnings if "two different days" in w)
    assert warning.startswith('2 dates read as two different days in column "Joined" (first: row 4 (05/04/')
    assert "Write every date in the column the same way" in warning


def test_one_month_first_joined_date_among_few_guesses_none(con, tmp_path):
    when = ["01/04/2019", "02/04/2019", "03/04/2019", "04/13/2019"]
    result = ingest.import_members(
        con, members_file(tmp_path / "early.csv", when), skip_invalid=True, rejects=tmp_path / "r.csv"
    )
    assert (result.loaded, result.rejected) == (0, 4)
    assert not any("was read month first" in n for n in result.notes)
    warning = next(w for w in result.warnings if "two different days" in w)
    assert warning.startswith('3 dates read as two different days in column "Joined" (first: row 2 (01/04/')
    assert "this column may be month first (row 5 (04/13/2019) reads only that way" in warning


def test_a_mistyped_joined_date_in_a_long_day_first_column_does_not_turn_the_column(con, tmp_path):
    when = [f"{day:02d}/04/2019" for day in range(1, 31)] * 2 + ["04/13/2019"]
    result = ingest.import_members(
        con, members_file(tmp_path / "uk.csv", when), skip_invalid=True, rejects=tmp_path / "r.csv"
    )
    assert (result.loaded, result.rejected) == (60, 1)
    assert joined(con)["SYN0005"] == dt.date(2019, 4, 6)  # 06/04/2019: 6 April, as the column says
    assert not [w for w in result.warnings if "two different days" in w]
    assert not any("month first" in n for n in result.notes)


def test_a_day_first_format_with_month_first_joined_dates_guesses_none(con, tmp_path):
    frame = pd.DataFrame(
        {
            "nationbuilder_id": ["1", "2", "3"],
            "membership_number": ["SYN1", "SYN2", "SYN3"],
            "first_name": ["Zoe", "Amir", "Sam"],
            "do_not_call": ["false", "false", "false"],
            "created_at": ["3/30/2019", "4/2/2019", "4/4/2019"],
        }
    )
    frame.to_csv(tmp_path / "nb.csv", index=False)
    result = ingest.import_members(con, tmp_path / "nb.csv", skip_invalid=True, rejects=tmp_path / "r.csv")
    assert result.profile == "nationbuilder_people"
    assert result.rejected == 2  # 3/30 only month first; 4/2 either way; 4/4 the same day either way
    warning = next(w for w in result.warnings if "two different days" in w)
    assert 'in column "created_at"' in warning
    assert "the NationBuilder people export format is read day first" in warning
    assert warning.endswith("Ask for the export with its dates written yyyy-mm-dd.")


def test_a_joined_column_in_a_call_export_is_judged_on_its_own(con, tmp_path):
    # The call dates are day first; the joined dates, month first: each column by its own dates.
    called = [f"{day:02d}/{month:02d}/2020" for month, days in ((5, range(13, 29)), (6, range(13, 25)))
              for day in days]
    calls = pd.DataFrame(
        {
            "Call ID": [f"D{i:02d}" for i in range(28)],
            "Membership Number": [f"SYN{i:04d}" for i in range(28)],
            "Round": "R1",
            "Caller": "C0001",
            "Date": called,
            "Outcome": "No answer",
            "Joined": [f"04/{day:02d}/2019" for day in range(1, 29)],
        }
    )
    calls.to_csv(tmp_path / "calls.csv", index=False)
    result = ingest.import_calls(con, tmp_path / "calls.csv")
    assert (result.loaded, result.rejected) == (28, 0)
    assert sorted(joined(con).values()) == [dt.date(2019, 4, day) for day in range(1, 29)]
    assert con.execute("SELECT min(called_at), max(called_at) FROM calls").fetchone() == (
        dt.datetime(2020, 5, 13), dt.datetime(2020, 6, 24)
    )
    assert any(n.startswith('column "Joined" was read month first') for n in result.notes)
    assert not any(n.startswith('column "Date" was read month first') for n in result.notes)


def test_member_messages_name_no_member(con, tmp_path):
    # The notes and warnings about the joined column quote rows and dates, never a name.
    path = members_file(tmp_path / "mixed.csv", MIXED, **{"Last Name": "Quixotica"})
    result = ingest.import_members(con, path, skip_invalid=True, rejects=tmp_path / "r.csv")
    shown = " ".join(result.notes + result.warnings)
    assert "two different days" in shown
    assert "Quixotica" not in shown and "Sam" not in shown



def test_a_member_workbook_opened_in_excel_set_to_the_other_order_is_warned_of(con, tmp_path):
    import openpyxl

    # 01/04/2019 ... 12/04/2019 typed in a day-first CSV became date cells for 4 January ... 4 December;
    # 13/04/2019 ... 28/04/2019 stayed text.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Membership Number", "First Name", "Joined"])
    for day in range(1, 29):
        sheet.append([f"SYN{day:04d}", "Sam", dt.datetime(2019, day, 4) if day <= 12 else f"{day}/04/2019"])
        sheet.cell(row=day + 1, column=3).number_format = "m/d/yyyy"
    book.save(tmp_path / "mangled.xlsx")
    result = ingest.import_members(con, tmp_path / "mangled.xlsx", dry_run=True)
    (warning,) = [w for w in result.warnings if "date cell" in w]
    assert warning.startswith('column "Joined" holds 12 date cells, each with a day of 12 or less, beside 16')
