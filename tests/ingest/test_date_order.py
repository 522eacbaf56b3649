"""A call export's dates judged as a column: month first, mixed, or as Excel left them.

Each cell alone cannot say whether 04/05/2020 is 4 May or 5 April; the column can. Real files in
tmp_path, the real import, and a real store.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from workbench import ingest
from workbench.ingest import dates


def calls_file(path: Path, when: list[str]) -> Path:
    """A plain call export with one call a row, dated as given, for members it creates."""
    frame = pd.DataFrame(
        {
            "Call ID": [f"D{i:02d}" for i in range(len(when))],
            "Membership Number": [f"SYN{i:04d}" for i in range(len(when))],
            "Round": "R1",
            "Caller": "C0001",
            "Date": when,
            "Outcome": "No answer",
        }
    )
    frame.to_csv(path, index=False)
    return path


def stored(con) -> dict[str, dt.datetime]:
    return dict(con.execute("SELECT call_id, called_at FROM calls").fetchall())


# -- the column's order, from its cells ---------------------------------------------------------------


def test_date_order_counts_each_kind_and_where_it_first_appears():
    groups = [
        ("04/13/2020 10:00", 3, 14),  # (the group's first cell, cells, that cell's row)
        ("04/01/2020", 2, 2),
        (" 4/4/2020", 1, 9),
        ("13.04.2020", 1, 20),
        ("yesterday", 5, 1),
        ("2020-04-01", 7, 1),
        ("31/31/2020", 1, 3),
    ]
    order = dates.date_order(groups)
    assert (order.day_first, order.month_first, order.either, order.same) == (1, 3, 2, 1)
    assert order.example("month_first") == "row 14 (04/13/2020)"
    assert order.example("day_first") == "row 20 (13.04.2020)"
    assert order.verdict == "mixed"


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [
        ({"month_first": 16, "either": 12}, "month first"),
        ({"month_first": 11, "either": 11, "same": 1}, "month first"),
        ({"month_first": 1}, "month first"),
        ({"month_first": 1, "either": 2}, "unclear"),  # one mistyped date decides nothing
        ({"day_first": 3, "month_first": 1, "either": 5}, "mixed"),
        ({"day_first": 400, "month_first": 1, "either": 300}, "day first"),  # a typo among 400
        ({"month_first": 400, "day_first": 1, "either": 300}, "month first"),
        ({"day_first": 19, "month_first": 1}, "mixed"),
        ({"day_first": 16, "either": 12}, "day first"),
        ({"either": 12, "same": 1}, "day first"),  # nothing tells: the workbench's default
        ({}, "day first"),
    ],
)
def test_a_column_is_month_first_when_its_dates_say_so_and_none_says_otherwise(counts, verdict):
    assert dates.DateOrder(**counts).verdict == verdict


# -- a plain export written month first ----------------------------------------------------------------


def test_a_month_first_column_is_read_month_first_with_a_note_saying_so(con, tmp_path):
    # A US tool's export: every call in April 2020, written mm/dd/yyyy. 04/01 ... 04/12 read either
    # way; judged alone they were loaded as 4 January ... 4 December.
    when = [f"04/{day:02d}/2020 10:00" for day in range(1, 29)]
    result = ingest.import_calls(con, calls_file(tmp_path / "us.csv", when), skip_invalid=True)
    assert (result.loaded, result.rejected) == (28, 0)
    assert sorted(stored(con).values()) == [dt.datetime(2020, 4, day, 10) for day in range(1, 29)]
    note = next(n for n in result.notes if "month first" in n)
    assert note.startswith('column "Date" was read month first (m/d/yyyy): 16 of its dates read only')
    assert "first: row 14 (04/13/2020)" in note
    # 04/04 is the same day either way, so 11 of the 12 were a decision.
    assert "The 11 that read either way (first: row 2 (04/01/2020)) were read month first" in note


def test_a_day_first_date_in_a_month_first_column_is_refused_and_told_to_follow_the_column(con, tmp_path):
    # Two months written month first, 36 of whose dates read only that way, and one typed day first.
    when = [f"{month:02d}/{day:02d}/2020" for month in (4, 5) for day in range(13, 31)] + ["13/04/2020"]
    result = ingest.import_calls(con, calls_file(tmp_path / "us.csv", when), skip_invalid=True,
                                 rejects=tmp_path / "r.csv")
    assert (result.loaded, result.rejected) == (36, 1)
    (fix,) = result.problems.loc[result.problems["column"] == "Date", "fix"]
    assert fix == "write the date month first as m/d/yyyy, as this column's other dates are (or yyyy-mm-dd)"


def test_one_month_first_date_in_a_day_first_column_decides_nothing(con, tmp_path):
    # Calls in the first days of April, written day first, and one typed month first: read month
    # first, the rest would be 4 January, 4 February and 4 March; read day first, guessed.
    when = ["01/04/2020", "02/04/2020", "03/04/2020 18:00", "04/13/2020"]
    result = ingest.import_calls(
        con, calls_file(tmp_path / "early.csv", when), skip_invalid=True, rejects=tmp_path / "r.csv"
    )
    assert (result.loaded, result.rejected) == (0, 4)
    assert not any("was read month first" in n for n in result.notes)
    warning = next(w for w in result.warnings if "two different days" in w)
    assert warning.startswith('3 dates read as two different days in column "Date" (first: row 2 (01/04/')
    assert "this column may be month first (row 5 (04/13/2020) reads only that way" in warning
    assert "If its dates are day first, correct those that read only month first" in warning


def test_a_mistyped_date_in_a_long_day_first_column_is_its_own_problem_and_no_other_date_is(con, tmp_path):
    # A month of calls written day first, and one typed month first: only that one is refused.
    when = [f"{day:02d}/04/2020" for day in range(1, 31)] * 2 + ["04/13/2020"]
    result = ingest.import_calls(
        con, calls_file(tmp_path / "uk.csv", when), skip_invalid=True, rejects=tmp_path / "r.csv"
    )
    assert (result.loaded, result.rejected) == (60, 1)
    assert stored(con)["D05"] == dt.datetime(2020, 4, 6)  # 06/04/2020: 6 April, as the column says
    assert not [w for w in result.warnings if "two different days" in w]


# -- a mixed column ------------------------------------------------------------------------------------


MIXED = ["13/04/2020", "04/14/2020", "05/04/2020 09:30", "04/04/2020", "4/6/2020"]


def test_a_mixed_column_makes_its_either_way_dates_row_problems(con, tmp_path):
    path = calls_file(tmp_path / "mixed.csv", MIXED)
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_calls(con, path)
    problems = rejected.value.result.problems.set_index("row")
    assert list(problems.index) == [3, 4, 6]
    assert set(problems["column"]) == {"Date"}
    assert "is not a date we can read" in problems.loc[3, "problem"]  # 04/14: only month first
    for row in (4, 6):  # 05/04 and 4/6: 5 April or 4 May, 4 June or 6 April
        problem = problems.loc[row, "problem"]
        assert problem.startswith("reads as two different days (day first or month first)")
        assert "row 2 (13/04/2020) reads only day first and row 3 (04/14/2020) only month first" in problem
    assert 'mixed.csv row 4, column "Date": 05/04/2020 09:30 reads as two different days' in str(
        rejected.value
    )


def test_skip_invalid_never_guesses_a_mixed_columns_either_way_dates(con, tmp_path):
    path = calls_file(tmp_path / "mixed.csv", MIXED)
    result = ingest.import_calls(con, path, skip_invalid=True, rejects=tmp_path / "mixed.rejects.csv")
    # Only the dates that say their order, and 04/04 (the same day either way), are loaded.
    assert stored(con) == {"D00": dt.datetime(2020, 4, 13), "D03": dt.datetime(2020, 4, 4)}
    assert result.rejected == 3
    warning = next(w for w in result.warnings if "two different days" in w)
    assert warning.startswith('2 dates read as two different days in column "Date" (first: row 4 (05/04/')
    assert "Write every date in the column the same way" in warning


# -- a tool's format that reads dates day first -------------------------------------------------------


def test_a_day_first_format_with_month_first_dates_guesses_none_and_names_the_month_first_profile(
    con, tmp_path
):
    members = pd.DataFrame({"Membership Number": ["SYN1", "SYN2", "SYN3"], "VANID": ["101", "102", "103"]})
    members.to_csv(tmp_path / "members.csv", index=False)
    ingest.import_members(con, tmp_path / "members.csv")
    van = pd.DataFrame(
        {
            "Voter File VANID": ["101", "102", "103"],
            "Contact Name": ["Ng, Zoe", "Khan, Amir", "Lee, Sam"],
            "Date Canvassed": ["3/30/2020", "4/2/2020", "4/4/2020"],  # a US instance's export
            "Result": ["Canvassed", "Not Home", "Not Home"],
        }
    )
    van.to_csv(tmp_path / "van.csv", index=False)
    result = ingest.import_calls(con, tmp_path / "van.csv", skip_invalid=True, rejects=tmp_path / "r.csv")
    assert result.profile == "van"
    assert (result.loaded, result.rejected) == (1, 2)  # 4/4 is the same day either way
    rejects = pd.read_csv(result.rejects_path, dtype=str)
    assert "reads as two different days" in " ".join(rejects.astype(str).to_numpy().ravel())
    warning = next(w for w in result.warnings if "two different days" in w)
    assert "the NGP VAN / EveryAction contact history (day-first dates) format is read day first" in warning
    assert warning.endswith("If the export writes dates month first, import it with --profile van_us.")


# -- a day-first file opened in Excel set to US dates ---------------------------------------------------


def test_date_cells_beside_text_that_reads_one_way_only_are_warned_of(con, tmp_path):
    import xlsxwriter

    def workbook(name: str, cells: list) -> Path:
        path = tmp_path / name
        book = xlsxwriter.Workbook(path)
        sheet = book.add_worksheet("Calls")
        shown = book.add_format({"num_format": "m/d/yyyy h:mm"})
        sheet.write_row(0, 0, ["Call ID", "Membership Number", "Round", "Caller", "Date", "Outcome"])
        for row, cell in enumerate(cells, start=1):
            sheet.write_row(row, 0, [f"{name[:2]}{row:02d}", f"SYN{row:04d}", "R1", "C0001"])
            if isinstance(cell, dt.datetime):
                sheet.write_datetime(row, 4, cell, shown)
            else:
                sheet.write_string(row, 4, cell)
            sheet.write_string(row, 5, "No answer")
        book.close()
        return path

    def warned(path: Path) -> list[str]:
        result = ingest.import_calls(con, path, dry_run=True)
        return [w for w in result.warnings if "date cell" in w]

    # 01/04/2020 ... 12/04/2020 typed in a day-first CSV became date cells for 4 January ... 4 December;
    # 13/04/2020 ... 28/04/2020 stayed text.
    april = [dt.datetime(2020, day, 4, 10) if day <= 12 else f"{day}/04/2020 10:00" for day in range(1, 29)]
    (warning,) = warned(workbook("mangled.xlsx", april))
    assert warning.startswith('column "Date" holds 12 date cells, each with a day of 12 or less, beside 16')
    assert "read only day first (first: row 14 (13/04/2020))" in warning
    # Ordinary workbooks: all date cells, all text, or cells with a day over 12 beside the text.
    assert warned(workbook("cells.xlsx", [dt.datetime(2020, 4, day, 10) for day in range(1, 29)])) == []
    assert warned(workbook("texts.xlsx", [f"{day:02d}/04/2020" for day in range(1, 29)])) == []
    later = [dt.datetime(2020, 4, 20), "13/04/2020", dt.datetime(2020, 5, 4)]
    assert warned(workbook("typed.xlsx", later)) == []
