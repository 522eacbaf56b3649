"""Membership numbers as spreadsheets and scripts mangle them: each reaches the member it names, or is
refused; none becomes a new, empty member that takes another member's calls."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import ingest
from workbench.ingest import ImportRejected

NUMBERS = [f"1000000000{i:02d}" for i in range(1, 7)]


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    path.write_text(frame.to_csv(index=False), encoding="utf-8")
    return path


def _members(numbers: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "Membership Number": numbers,
        "First Name": [f"Name{i}" for i in range(len(numbers))],
        "Phone": [f"07700 9001{i:02d}" for i in range(len(numbers))],
        "Ward": ["Kingsfield"] * len(numbers),
        "Branch": ["North"] * len(numbers),
    })


def _calls(numbers: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "Call ID": [f"C{i}" for i in range(len(numbers))],
        "Membership Number": numbers,
        "Round": ["R1"] * len(numbers),
        "Date": ["03/04/2020 10:15"] * len(numbers),
        "Outcome": ["Answered"] * len(numbers),
        "Needs Support": ["Y"] * len(numbers),
        "Need Categories": ["Food"] * len(numbers),
    })


@pytest.fixture
def held(con, tmp_path):
    """The store holding the six members, numbered as the member list writes them."""
    ingest.import_members(con, _csv(_members(NUMBERS), tmp_path / "members.csv"), actor="test")
    return con


def _calls_per_member(con) -> dict[str, int]:
    rows = con.execute(
        "SELECT i.membership_number, count(c.call_id) FROM identities i "
        "LEFT JOIN calls c USING (member_key) GROUP BY 1"
    ).fetchall()
    return dict(rows)


def test_numbers_written_as_decimals_reach_the_members_they_name(held, tmp_path):
    """pandas writes a whole-number column as 100000000001.0: the number is all there."""
    path = _csv(_calls([f"{n}.0" for n in NUMBERS]), tmp_path / "calls.csv")
    result = ingest.import_calls(held, path, actor="t")
    assert result.loaded == 6 and result.members_created == 0
    assert _calls_per_member(held) == dict.fromkeys(NUMBERS, 1)


def test_numbers_in_scientific_notation_are_refused_not_merged_into_one_member(held, tmp_path):
    """Excel shows 100000000001 as 1.00E+11: six members' calls would land on one new member."""
    path = _csv(_calls(["1.00E+11"] * 6), tmp_path / "calls.csv")
    with pytest.raises(ImportRejected) as refused:
        ingest.import_calls(held, path, actor="t")
    problems = refused.value.result.problems
    assert list(problems["row"]) == [2, 3, 4, 5, 6, 7]
    assert problems["problem"].str.contains("scientific notation").all()
    assert "format the column as text" in refused.value.result.problems["fix"].iloc[0]
    assert held.execute("SELECT count(*) FROM calls").fetchone()[0] == 0
    assert held.execute("SELECT count(*) FROM members").fetchone()[0] == 6


def test_a_member_list_in_scientific_notation_is_refused_for_that_reason(con, tmp_path):
    path = _csv(_members(["1.00E+11", "1.00E+11"]), tmp_path / "members.csv")
    with pytest.raises(ImportRejected) as refused:
        ingest.import_members(con, path, actor="t")
    assert refused.value.result.problems["problem"].str.contains("scientific notation").all()


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u2060", "\u00a0\u200b"])
def test_a_number_of_invisible_characters_alone_is_blank(con, tmp_path, invisible):
    """A zero-width space, byte-order mark or word joiner alone is not a member numbered ''."""
    path = _csv(_members(["SYN1", invisible]), tmp_path / "members.csv")
    with pytest.raises(ImportRejected) as refused:
        ingest.import_members(con, path, actor="t")
    problems = refused.value.result.problems
    assert list(problems["row"]) == [3] and problems["problem"].iloc[0].startswith("is blank")


def test_calls_whose_numbers_are_invisible_characters_are_refused_not_given_to_one_member(held, tmp_path):
    path = _csv(_calls(["\u200b", "\ufeff", "\u2060"]), tmp_path / "calls.csv")
    with pytest.raises(ImportRejected) as refused:
        ingest.import_calls(held, path, actor="t")
    assert list(refused.value.result.problems["row"]) == [2, 3, 4]
    assert held.execute("SELECT count(*) FROM members").fetchone()[0] == 6


def test_a_branch_or_name_of_invisible_characters_is_stored_blank(con, tmp_path):
    frame = _members(["SYN1"]).assign(Branch=["\u200b"], **{"First Name": ["\ufeffAnna\u200b"]})
    ingest.import_members(con, _csv(frame, tmp_path / "members.csv"), actor="t")
    branch = con.execute("SELECT branch FROM members").fetchone()[0]
    name = con.execute("SELECT first_name FROM identities").fetchone()[0]
    assert (branch, name) == (None, "Anna")


def test_calls_that_match_none_of_the_members_held_say_so(held, tmp_path):
    """Numbers written differently from the member list (here with a prefix) make new members: the
    organiser is told how many, out of how many, before and after the import."""
    path = _csv(_calls([f"M-{n}" for n in NUMBERS[:4]] + NUMBERS[4:]), tmp_path / "calls.csv")
    dry = ingest.import_calls(held, path, actor="t", dry_run=True)
    result = ingest.import_calls(held, path, actor="t")
    for outcome in (dry, result):
        warning = next(w for w in outcome.warnings if "match no member" in w)
        assert warning.startswith("4 of the 6 membership numbers in this file match no member held")
        assert "M-" not in warning  # numbers are identifiers: counted, never quoted
    assert result.members_created == 4


def test_calls_mostly_of_members_held_give_no_such_warning(held, tmp_path):
    path = _csv(_calls(NUMBERS + ["100000000099"]), tmp_path / "calls.csv")
    result = ingest.import_calls(held, path, actor="t")
    assert result.members_created == 1
    assert not [w for w in result.warnings if "match no member" in w]


@pytest.mark.parametrize(("number", "first"), [("Total", ""), ("TOTALS:", ""), ("30", "Total members"),
                                               ("", "Grand total")])
def test_a_totals_row_at_the_foot_of_a_member_list_is_refused_not_made_a_member(con, tmp_path, number, first):
    frame = _members(NUMBERS[:2])
    frame.loc[len(frame)] = [number, first, "", "", ""]
    with pytest.raises(ImportRejected) as refused:
        ingest.import_members(con, _csv(frame, tmp_path / "members.csv"), actor="t")
    problems = refused.value.result.problems
    assert set(problems["row"]) == {4}
    assert problems["problem"].str.contains("is the label of a totals row, not a member").any()
    assert con.execute("SELECT count(*) FROM members").fetchone()[0] == 0


@pytest.mark.parametrize("name", ["Totally", "Sumaya", "Countess"])
def test_names_that_begin_like_a_totals_label_are_names(con, tmp_path, name):
    frame = _members(NUMBERS[:1]).assign(**{"First Name": [name]})
    assert ingest.import_members(con, _csv(frame, tmp_path / "members.csv"), actor="t").loaded == 1
