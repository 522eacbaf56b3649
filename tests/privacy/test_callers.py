"""Caller ids become pseudonyms at import, and the release scan never refuses a report over a number.

Issue 13: a caller id of "1" blocked every report, because the scan matched it inside counts.
Real imports of small CSV files into a real encrypted store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import ingest, reports
from workbench.errors import DisclosureError
from workbench.privacy import pseudonymise
from workbench.reports import disclosure

MEMBERS = "Membership Number,First Name,Last Name,Phone,Postcode,Ward,Branch,Age\n" + "".join(
    f"SYN00000{i:02d},Pat,Quillfeather{i},07700 9001{i:02d},NV1 1AA,Rookton,Ashcombe,{30 + i}\n"
    for i in range(1, 31)
)
CALLS_HEADER = ("Call ID,Membership Number,Round,Caller,Date,Outcome,Wellbeing,Needs Support,Need Categories,"
                "Urgency\n")


def _calls(path: Path, callers: list[str], start: int = 1) -> Path:
    # Every third call finds a need, so a report has something in every table.
    rows = [f"CL{start + i:04d},SYN00000{i % 30 + 1:02d},R1,{caller},{1 + i % 28:02d}/04/2020 10:00,"
            f"Answered,4,{'Y,Food,High' if i % 3 == 0 else 'N,,'}\n" for i, caller in enumerate(callers)]
    path.write_text(CALLS_HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def members(con, tmp_path):
    path = tmp_path / "members.csv"
    path.write_text(MEMBERS, encoding="utf-8")
    ingest.import_members(con, path, actor="test")
    return con


def test_caller_ids_are_replaced_by_pseudonyms_at_import(members, tmp_path):
    con = members
    callers = ["1", "2", " Ana Volunteer ", "1", "ana volunteer", "1"] * 5
    ingest.import_calls(con, _calls(tmp_path / "calls.csv", callers), actor="test")
    held = dict(con.execute("SELECT call_id, caller FROM calls").fetchall())
    assert set(held.values()) <= {"C0001", "C0002", "C0003"} and len(set(held.values())) == 3
    # The same person (case and spaces aside) is one pseudonym; different ids are different ones.
    assert held["CL0001"] == held["CL0004"] == held["CL0006"]
    assert held["CL0003"] == held["CL0005"] != held["CL0001"] != held["CL0002"]
    # No raw id is kept anywhere in the store's caller mapping.
    mapping = con.execute("SELECT source_hash, caller FROM caller_ids").fetchall()
    assert len(mapping) == 3 and all(len(h) == 64 and "ana" not in h for h, _ in mapping)


def test_a_caller_keeps_their_pseudonym_in_later_imports(members, tmp_path):
    con = members
    ingest.import_calls(con, _calls(tmp_path / "r1.csv", ["7", "8"]), actor="test")
    first = dict(con.execute("SELECT call_id, caller FROM calls").fetchall())
    ingest.import_calls(con, _calls(tmp_path / "r2.csv", ["9", "8", "7"], start=100), actor="test")
    later = dict(con.execute("SELECT call_id, caller FROM calls").fetchall())
    assert later["CL0101"] == first["CL0002"] and later["CL0102"] == first["CL0001"]
    assert later["CL0100"] not in first.values()
    assert sorted(set(later.values())) == ["C0001", "C0002", "C0003"]


def test_pseudonyms_number_on_past_9999():
    assert pseudonymise.caller_pseudonym(1) == "C0001"
    assert pseudonymise.caller_pseudonym(10000) == "C10000"


def test_a_report_is_not_blocked_by_a_caller_id_any_number_contains(members, tmp_path):
    con = members
    ingest.import_calls(con, _calls(tmp_path / "calls.csv", ["1"] * 30), actor="test")
    # A store imported before callers were pseudonymised still holds the raw "1".
    con.execute("UPDATE calls SET caller = '1'")
    result = reports.build(con, tmp_path / "report", profile="internal", actor="test")
    assert result.released


@pytest.mark.parametrize("caller", ["C0001", "ana volunteer"])
def test_a_caller_id_above_the_floor_is_still_caught_where_it_leaks(members, tmp_path, caller):
    con = members
    ingest.import_calls(con, _calls(tmp_path / "calls.csv", ["x"] * 30), actor="test")
    con.execute("UPDATE calls SET caller = ?", [caller])
    leaked = tmp_path / "table.csv"
    leaked.write_text(f"who,count\n{caller.title()},10\n", encoding="utf-8")
    with pytest.raises(DisclosureError, match="a caller id"):
        disclosure.check_release(con, [leaked], allowed_words=frozenset({"who", "count"}))


@pytest.mark.parametrize("caller", ["1", "42", "12", "1.5"])
def test_numbers_never_count_as_caller_ids(members, tmp_path, caller):
    con = members
    ingest.import_calls(con, _calls(tmp_path / "calls.csv", ["x"] * 30), actor="test")
    con.execute("UPDATE calls SET caller = ?", [caller])
    table = tmp_path / "table.csv"
    table.write_text("ward,count\nRookton,1\nRookton,12\nRookton,42\nRookton,1.5\n", encoding="utf-8")
    assert disclosure.scan_release(con, [table], allowed_words=frozenset({"ward", "count", "rookton"})) == []
