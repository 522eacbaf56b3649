"""followups and lists: who is on a list, the notice, the registry, breach reports, returns, next round.

The store is built by hand (ten members) so every count below is exact.
"""

from __future__ import annotations

import csv
import json
import re
import stat
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import exports
from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest.returned import read_table as read_returned
from workbench.lists import breach, followups, registry, returns
from workbench.privacy import erasure, optouts, pseudonymise
from workbench.store import db

PLAIN = "test reads the plain file back"
# membership number, first name, phone, branch, ward, calls [(outcome, wellbeing, urgency, needs)]
NEED = ("answered", 3, "medium")
PEOPLE = [
    (
        "SYN01",
        "Alice",
        "+447700900001",
        "Ashcombe",
        "Kings Park",
        [("answered", 1, "high", ["food", "medicine"])],
    ),
    (
        "SYN02",
        '=HYPERLINK("http://x","click")',
        "+447700900002",
        "Ashcombe",
        "Kings Park",
        [("answered", 3, "medium", ["isolation"])],
    ),
    (
        "SYN03",
        "+44 Bob",
        "+33612345678",
        "Ashcombe",
        "Wren Green",
        [("answered", 3, "medium", ["financial"])],
    ),
    ("SYN04", "@SUM(1)", "+447700900004", "Ashcombe", "Wren Green", [("answered", 4, "low", ["digital"])]),
    ("SYN05", "-2+3", "+447700900005", "Ashcombe", "Wren Green", [("answered", 3, "medium", ["housing"])]),
    (
        "SYN06",
        "\u202eNala",
        "+447700900006",
        "Ashcombe",
        "Kings Park",
        [("answered", 2, "medium", ["other"])],
    ),
    (
        "SYN07",
        "\tTabby",
        "+447700900007",
        "Ashcombe",
        "Kings Park",
        [("answered", 3, "low", ["mental_health"])],
    ),
    (
        "SYN08",
        "Olive",
        "+447700900008",
        "Ashcombe",
        "Kings Park",
        [("answered", 3, "high", ["food"])],
    ),  # opted out
    ("SYN09", "Nophone", None, "Ashcombe", "Kings Park", [("answered", 3, "medium", ["food"])]),
    ("SYN10", "Brenda", "+447700900010", "Brackenhurst", "Moor End", [("answered", 3, "high", ["food"])]),
    ("SYN11", "Una", "+447700900011", "Ashcombe", "Wren Green", [("no_answer", None, None, [])] * 3),
]
ON_LIST = 7  # SYN01-07: SYN08 opted out, SYN09 has no phone, SYN10 another branch, SYN11 no need
WHEN = datetime(2020, 4, 6, 10, 0)


def _key(con, number: str) -> str:
    return pseudonymise.member_keys(con, [number])[0]


def _build(con) -> None:
    now = datetime(2020, 4, 1)
    call = 0
    for number, first, phone, branch, ward, calls in PEOPLE:
        key = _key(con, number)
        con.execute(
            "INSERT INTO members VALUES (?, ?, ?, 'NV1 1AA', 70, DATE '2019-01-01', ?, ?, NULL)",
            [key, branch, ward, now, now],
        )
        phone_hash = pseudonymise.suppression_hashes(con, [phone])[0]
        number_hash = pseudonymise.suppression_hashes(con, [number])[0]
        con.execute(
            "INSERT INTO identities (member_key, membership_number, first_name, last_name, phone, email, "
            "address, phone_hash, membership_hash) VALUES (?, ?, ?, 'Smith', ?, ?, '1 High St', ?, ?)",
            [key, number, first, phone, f"{number.lower()}@example.com", phone_hash, number_hash],
        )
        for i, (outcome, wellbeing, urgency, categories) in enumerate(calls):
            call += 1
            call_id = f"CL{call:04d}"
            con.execute(
                "INSERT INTO calls VALUES (?, ?, 'R1', 'C0001', ?, ?, ?, ?, ?, FALSE, NULL, "
                "'private note', NULL)",
                [call_id, key, WHEN + timedelta(hours=i), outcome, wellbeing, bool(categories), urgency],
            )
            for category in categories:
                con.execute("INSERT INTO call_needs VALUES (?, ?)", [call_id, category])
    optouts.add(con, actor="dp", reason="asked_not_to_be_called", membership_number="SYN08")


@pytest.fixture
def store(con):
    _build(con)
    return con


def _export(con, tmp_path: Path, suffix: str = "xlsx", **options) -> followups.Exported:
    args = {
        "branch": "Ashcombe",
        "purpose": "welfare call-backs",
        "recipient": "Ashcombe secretary",
        "out": tmp_path / f"list.{suffix}",
        "actor": "ana",
        # These tests read the list back as plain text; encrypted lists are tested in test_protection.py.
        "unprotected": PLAIN,
        **options,
    }
    return followups.export(con, **args)


def _row_key(con, list_id: str, row: int) -> str:
    return con.execute(
        "SELECT member_key FROM list_members WHERE list_id = ? AND row_number = ?", [list_id, row]
    ).fetchone()[0]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _text(path: Path) -> str:
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path).active
        return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    return path.read_text(encoding="utf-8-sig")


# ---- exporting -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "html"])
def test_each_format_carries_the_notice_and_only_the_right_people(store, tmp_path, fmt):
    done = _export(store, tmp_path, fmt)
    assert _mode(done.path) == 0o600
    assert done.record.row_count == ON_LIST
    assert done.excluded == {"opted out": 1, "no phone number": 1}
    text = _text(done.path)
    record = done.record
    for needle in (
        record.list_id,
        "Ashcombe secretary",
        "welfare call-backs",
        f"{record.created_at:%d/%m/%Y}",
        f"{record.shred_by:%d %B %Y}",
        "Report it:",
        "Shred it:",
        "Secure it:",
        "dataprotection@example.org",
        "Northvale Labour Party",
    ):
        assert needle in text, f"{needle!r} is missing from the {fmt} list"
    for absent in ("Olive", "Nophone", "Brenda", "Una", "Smith", "High St", "private note", "SYN0"):
        assert absent not in text
    if fmt == "html":
        assert text.count("Secure it:") == 2  # header and footer
    assert record.shred_by == (record.created_at + timedelta(days=14)).date()


REPORT_IT = ("Report it: if this list is lost or stolen, report it immediately to "
             "dataprotection@example.org: it could be a data breach.")
SHRED_IT = ("Shred it: once all the calls have been made, destroy this list securely and confidentially "
            "(shred paper, delete files and emptied downloads), and tell your organiser so it is recorded.")
SECURE_IT = ("Secure it: if you keep it overnight, make sure it is out of sight and not easily accessible to "
             "others.")


def _made(record) -> str:
    return (f"List ID: {record.list_id}. Made by Northvale Labour Party on {record.created_at:%d/%m/%Y}; "
            f"SHRED BY {record.shred_by:%d %B %Y}.")


def test_the_notice_says_who_it_is_for_and_the_three_rules_in_full(store, tmp_path):
    # The data-protection notice printed on every list: its words are the rules the recipient is given.
    record = _export(store, tmp_path).record
    note = followups.notice(store, record)
    assert note.title == "CONFIDENTIAL: Northvale Labour Party welfare follow-up list"
    assert note.lines == (
        _made(record),
        "For: Ashcombe secretary. Purpose: welfare call-backs. Use it for nothing else; do not copy or "
        "share it.",
        REPORT_IT, SHRED_IT, SECURE_IT,
        "It holds members' personal data, including support needs. Write only the outcome, date and your "
        "initials; no notes about health. Any other data-protection questions: dataprotection@example.org.",
    )
    assert note.running == (f"CONFIDENTIAL · Northvale Labour Party · List {record.list_id} · for Ashcombe "
                            f"secretary · shred by {record.shred_by:%d/%m/%Y} · if lost, report to "
                            "dataprotection@example.org")
    protected = followups.next_round(store, purpose="round 2", recipient="calling team", actor="ana",
                                     out=tmp_path / "r2.xlsx", as_of="2020-04-20").record
    note = followups.notice(store, protected)
    assert note.title == "CONFIDENTIAL: Northvale Labour Party next-round call list"
    assert note.lines[1:] == (
        "For: calling team. Purpose: round 2. Use it for nothing else; do not copy or share it.",
        REPORT_IT, SHRED_IT,
        SECURE_IT + " This file is encrypted: never write its passphrase on it or keep the two together.",
        "It holds members' personal data. Load it into the calling tool, then delete this file and any "
        "copies. Any other data-protection questions: dataprotection@example.org.",
    )


def test_the_columns_are_minimal(store, tmp_path):
    done = _export(store, tmp_path, "csv")
    header, rows = read_returned(done.path, header_first=followups.LIST_ID)
    assert header == [
        "List ID",
        "Row",
        "First Name",
        "Phone",
        "Ward",
        "Needs",
        "Urgency",
        "Call-back prompt",
        "Outcome",
        "Date called",
        "Caller initials",
    ]
    first = dict(zip(header, rows[0][1], strict=True))
    assert first["First Name"] == "Alice" and first["Phone"] == "07700 900001"
    assert first["Needs"] == "Food; Medicine" and first["Urgency"] == "High"
    assert first["Call-back prompt"].startswith("Call first.")
    assert [r[1][1] for r in rows] == [str(n) for n in range(1, ON_LIST + 1)]
    assert first["Outcome"] == first["Date called"] == first["Caller initials"] == ""


def test_membership_number_only_when_asked(store, tmp_path):
    done = _export(store, tmp_path, "csv", include_membership_number=True)
    header, rows = read_returned(done.path, header_first=followups.LIST_ID)
    assert "Membership Number" in header
    assert {r[1][header.index("Membership Number")] for r in rows} == {f"SYN0{i}" for i in range(1, 8)}
    assert "membership number" in registry.get(store, done.list_id).data_categories


def test_hostile_names_cannot_run_as_formulas(store, tmp_path):
    done = _export(store, tmp_path, "xlsx")
    ws = openpyxl.load_workbook(done.path).active
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    values = {c.value for c in cells}
    for name in ('=HYPERLINK("http://x","click")', "+44 Bob", "@SUM(1)", "-2+3", "\tTabby"):
        assert "'" + name in values and name not in values
    assert "\u202eNala" in values
    assert "'+33 6 12 34 56 78" in values  # an international phone keeps its OWASP quote
    csv_text = _export(store, tmp_path, "csv").path.read_text(encoding="utf-8-sig")
    assert '"\'=HYPERLINK(""http://x"",""click"")"' in csv_text and '"\'@SUM(1)"' in csv_text


def test_the_list_is_registered_with_its_rows_and_audited(store, tmp_path):
    done = _export(store, tmp_path)
    rows = store.execute(
        "SELECT row_number, member_key, digest FROM list_members WHERE list_id = ? ORDER BY row_number",
        [done.list_id],
    ).fetchall()
    assert [r[0] for r in rows] == list(range(1, ON_LIST + 1))
    assert rows[0][1] == _key(store, "SYN01") and len(rows[0][2].split(":")) == 3
    record = registry.get(store, done.list_id)
    assert (record.kind, record.recipient, record.created_by, record.format) == (
        "followup",
        "Ashcombe secretary",
        "ana",
        "xlsx",
    )
    assert record.filters["branch"] == "Ashcombe" and record.excluded == done.excluded
    entry = store.execute(
        "SELECT actor, counts FROM audit_log WHERE action = 'list_created' AND object_id = ?", [done.list_id]
    ).fetchone()
    assert entry[0] == "ana" and json.loads(entry[1])["rows"] == ON_LIST


@pytest.mark.parametrize(
    "options,message",
    [
        ({"purpose": " "}, "--purpose is required"),
        ({"recipient": ""}, "--recipient is required"),
        ({"fmt": "docx", "out": "list.docx"}, 'Unsupported list format "docx"'),
        ({"fmt": "csv", "out": "list.xlsx"}, "does not end in .csv"),
        ({"branch": "Atlantis"}, 'Unknown branch "Atlantis"'),
        ({"ward": "Moor End"}, "Nobody to put on a list"),
        ({"shred_after_days": 0}, "from 1 to 3650"),
    ],
)
def test_bad_requests_make_no_list(store, tmp_path, options, message):
    if "out" in options:
        options = {**options, "out": tmp_path / options["out"]}
    with pytest.raises(InputError, match=message):
        _export(store, tmp_path, **options)
    assert store.execute("SELECT count(*) FROM lists").fetchone()[0] == 0
    assert not list(tmp_path.glob("list*"))


@pytest.mark.parametrize(("options", "message"), [
    ({"branch": ""}, "A follow-up list is made for one branch: give --branch NAME."),
    ({"limit": 0}, "--limit must be a whole number, 1 or more; got 0."),
    ({"limit": True}, "--limit must be a whole number, 1 or more; got True."),
    ({"limit": "3"}, "--limit must be a whole number, 1 or more; got '3'."),
    ({"out": "list"}, "--out list does not end in .xlsx; name the file list.xlsx."),
    ({"unprotected": "x" * 301}, "The --unprotected reason must be a short sentence (at most 300 "),
    ({"unprotected": "ask ana@example.org"}, "with no phone number or email address in it"),
    ({"actor": " "}, "--by is required: every list records who it is for, why, and who made it."),
])
def test_each_bad_request_is_named_exactly(store, tmp_path, options, message):
    if "out" in options:
        options = {**options, "out": tmp_path / options["out"]}
    with pytest.raises(InputError) as refused:
        _export(store, tmp_path, **options)
    assert message in str(refused.value)
    assert store.execute("SELECT count(*) FROM lists").fetchone()[0] == 0


def test_a_plain_reason_may_be_long_or_hold_a_short_number(store, tmp_path):
    assert _export(store, tmp_path, unprotected="kept in room 101 " + "x" * 283).record.protection.reason
    done = _export(store, tmp_path, "csv", unprotected="  printed   for the   branch  ", fmt="CSV")
    assert done.record.protection.reason == "printed for the branch" and done.record.format == "csv"


def test_the_limit_keeps_the_most_urgent(store, tmp_path):
    everyone = followups.compose(store, branch="Ashcombe")
    first_two = followups.compose(store, branch="Ashcombe", limit=2)
    assert first_two.rows["member_key"].tolist() == everyone.rows["member_key"].tolist()[:2]
    assert everyone.rows["urgency"].tolist()[0] == "high" and len(everyone.rows) == ON_LIST


def test_a_list_finds_each_identity_by_its_number_or_else_by_its_key(store):
    # _build writes identities behind the library's back, with no key_number: every one is then
    # found by member_key. Numbering some, then all, must change nothing on the list.
    def listed():
        composed = followups.compose(store, branch="Ashcombe")
        return composed.rows[["member_key", "first_name", "phone"]].values.tolist(), composed.excluded

    unnumbered = listed()
    number = db.key_number_sql("member_key")
    store.execute(f"UPDATE identities SET key_number = {number} WHERE membership_number < 'SYN05'")
    assert listed() == unnumbered
    store.execute(f"UPDATE identities SET key_number = {number}")
    assert store.execute("SELECT count(*) FROM identities WHERE key_number IS NULL").fetchone()[0] == 0
    assert listed() == unnumbered
    assert len(unnumbered[0]) == ON_LIST and unnumbered[1] == {"opted out": 1, "no phone number": 1}


def test_a_key_number_is_read_only_from_sixteen_lowercase_hex_digits():
    # Otherwise "abc" and "0000000000000abc" would be one number, and one member's name and phone
    # could be found for another.
    values = ["00000000000000ff", "0000000000000abc", "abc", "ABCDEF0123456789", "00000000000000ff0",
              "ffffffffffffffff", "0x00000000000000f", " 00000000000000f", None]
    got = duckdb.sql(f"SELECT {db.key_number_sql('k')} FROM unnest(?::VARCHAR[]) t(k)", params=[values])
    assert [r[0] for r in got.fetchall()] == [255, 2748, None, None, None, 2**64 - 1, None, None, None]


@pytest.mark.parametrize(("options", "message"), [
    ({"checkin_after_days": 0}, "checkin_after_days must be a whole number from 1 to 3650; got 0."),
    ({"checkin_after_days": 3651}, "checkin_after_days must be a whole number from 1 to 3650; got 3651."),
    ({"checkin_after_days": True}, "checkin_after_days must be a whole number from 1 to 3650; got True."),
    ({"wellbeing_at_most": -1}, "wellbeing_at_most must be a whole number from 0 to 5; got -1."),
    ({"wellbeing_at_most": 6}, "wellbeing_at_most must be a whole number from 0 to 5; got 6."),
    ({"wellbeing_at_most": 2.0}, "wellbeing_at_most must be a whole number from 0 to 5; got 2.0."),
])
def test_bad_next_round_settings_are_named_exactly(store, options, message):
    with pytest.raises(InputError) as refused:
        followups.compose_next_round(store, **options)
    assert str(refused.value) == message


def test_next_round_settings_at_their_limits_are_accepted(store):
    for options in ({"checkin_after_days": 1}, {"checkin_after_days": 3650}, {"wellbeing_at_most": 0},
                    {"wellbeing_at_most": 5}):
        assert isinstance(followups.compose_next_round(store, as_of="2020-04-20", **options),
                          followups.Composed)


def test_an_existing_file_is_never_overwritten(store, tmp_path):
    (tmp_path / "list.xlsx").write_text("someone's spreadsheet")
    with pytest.raises(InputError, match="already exists"):
        _export(store, tmp_path)
    assert (tmp_path / "list.xlsx").read_text() == "someone's spreadsheet"


def test_a_failed_write_registers_nothing(store, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        _export(store, tmp_path, out=tmp_path / "missing" / "list.xlsx")
    assert store.execute("SELECT count(*) FROM lists").fetchone()[0] == 0
    assert store.execute("SELECT count(*) FROM audit_log WHERE action = 'list_created'").fetchone()[0] == 0


# ---- registry and destruction ----------------------------------------------------------------------------


def test_registry_flags_lists_past_shred_by_and_records_destruction_once(store, tmp_path):
    done = _export(store, tmp_path, shred_after_days=3)
    shown = registry.lists(store)
    assert shown.loc[0, "status"] == "out" and shown.loc[0, "rows"] == ON_LIST
    late = registry.lists(store, as_of=done.record.shred_by + timedelta(days=2))
    assert late.loc[0, "status"] == "PAST SHRED-BY" and late.loc[0, "days_overdue"] == 2
    record = registry.mark_destroyed(store, done.list_id.lower(), actor="sam")
    assert record.destroyed and record.destroyed_by == "sam"
    assert registry.lists(store, outstanding=True).empty
    assert registry.lists(store).loc[0, "status"] == "destroyed"
    with pytest.raises(InputError, match="already recorded destroyed .* by sam; nothing changed"):
        registry.mark_destroyed(store, done.list_id, actor="sam")
    assert store.execute("SELECT count(*) FROM audit_log WHERE action = 'list_destroyed'").fetchone()[0] == 1


def test_unknown_list_ids_are_named_only_when_they_look_like_ids(store):
    with pytest.raises(InputError, match='No list with ID "FU-20200101-ABCDE"'):
        registry.mark_destroyed(store, "FU-20200101-ABCDE", actor="sam")
    with pytest.raises(InputError, match=r"\(not shown\)"):
        registry.get(store, "07700 900123")


# ---- breach report ---------------------------------------------------------------------------------------


def test_breach_report_gives_counts_and_no_identities(store, tmp_path):
    done = _export(store, tmp_path)
    optouts.add(store, actor="dp", reason="complaint", membership_number="SYN02")
    erasure.erase(store, actor="dp", reason="subject_request", membership_number="SYN03")
    report = breach.breach(store, done.list_id, actor="dp", as_of=done.record.shred_by + timedelta(days=5))
    assert report.since == {"opted out": 1, "erased": 1}
    assert report.past_shred_by == 5 and report.identities is None
    text = breach.render_breach(report)
    for needle in (
        done.list_id,
        "Ashcombe secretary",
        "welfare call-backs",
        f"People on the list: {ON_LIST}",
        "1 erased, 1 opted out",
        "5 days past its shred-by date",
        "support needs",
        "phone number",
        "72 hours",
        "dataprotection@example.org",
    ):
        assert needle in text
    for name, *_ in PEOPLE:
        assert name not in text
    for first in ("Alice", "HYPERLINK", "Tabby", "07700", "+44"):
        assert first not in text
    entry = store.execute("SELECT counts FROM audit_log WHERE action = 'breach_report'").fetchone()
    assert json.loads(entry[0]) == {"rows": ON_LIST, "with_identities": 0}


def test_breach_report_with_identities_is_a_0600_file_for_the_dp_team(store, tmp_path):
    done = _export(store, tmp_path)
    erasure.erase(store, actor="dp", reason="subject_request", membership_number="SYN03")
    path = breach.write_breach(store, done.list_id, tmp_path / "breach.html", actor="dp",
                               with_identities=True)
    assert _mode(path) == 0o600
    text = path.read_text()
    assert "Alice" in text and "+447700900001" in text and "SYN01" in text and "(erased)" in text
    assert "+33612345678" not in text  # the erased member's identity is gone
    entry = store.execute("SELECT counts FROM audit_log WHERE action = 'breach_report'").fetchone()
    assert json.loads(entry[0])["with_identities"] == 1


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_breach_report_escapes_markup_from_the_list_record_in_both_formats(store, tmp_path, suffix):
    done = _export(store, tmp_path, purpose='<script>alert(1)</script> <img src=x onerror=alert(2)>',
                   recipient="Ward <b>secretary</b> | pipe")
    text = breach.write_breach(store, done.list_id, tmp_path / f"breach.{suffix}", actor="dp").read_text()
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;b&gt;secretary&lt;/b&gt;" in text


def test_a_markdown_breach_report_shows_links_and_images_from_the_list_record_as_text(store, tmp_path):
    """Read in a Markdown viewer, a value must not become a link hiding where it goes, nor an image
    fetched from someone's server when the report is opened."""
    from markdown_it import MarkdownIt

    done = _export(store, tmp_path, purpose="[Verify the list](https://evil.example/a) "
                   "![seen](https://evil.example/p.png)", recipient="Ward secretary [x]: https://evil.example/r")
    text = breach.write_breach(store, done.list_id, tmp_path / "breach.md", actor="dp").read_text()
    page = MarkdownIt("commonmark").render(text)
    assert "<a " not in page and "<img" not in page
    assert "[Verify the list](https://evil.example/a)" in page  # shown as typed, as text


# ---- returns ---------------------------------------------------------------------------------------------


MADE = registry.now().date()  # lists are made today: the day a call was made is today or later


def _fill_xlsx(path: Path, outcomes: dict[int, tuple], out: Path) -> Path:
    book = openpyxl.load_workbook(path)
    ws = book.active
    header_row = next(c.row for c in ws["A"] if c.value == followups.LIST_ID)
    header = [c.value for c in ws[header_row]]
    for row_number, values in outcomes.items():
        for column, value in zip(
            (followups.OUTCOME, followups.DATE_CALLED, followups.INITIALS), values, strict=False
        ):
            ws.cell(header_row + row_number, header.index(column) + 1, value)
    book.save(out)
    return out


def _states(con) -> dict[str, str]:
    return dict(con.execute("SELECT member_key, state FROM followups").fetchall())


def _suppressed(con, number: str) -> bool:
    frame = pd.DataFrame({"member_key": [_key(con, number)]})
    return optouts.suppress(con, frame).kept.empty


def test_results_round_trip_through_xlsx(store, tmp_path):
    done = _export(store, tmp_path)
    # SYN01 opts out (by phone) after the list was made, before the results come back.
    optouts.add(store, actor="dp", reason="asked_not_to_be_called", phone="07700 900001")
    filled = _fill_xlsx(
        done.path,
        {
            1: ("resolved", datetime.combine(MADE, datetime.min.time()), "AB"),
            2: ("Unreachable",),
            3: ("needs more help", f"{MADE:%d/%m/%Y}"),
            4: ("opted out",),
        },
        tmp_path / "returned.xlsx",
    )
    result = returns.import_results(store, filled, actor="ana")
    assert result.changed == {"resolved": 1, "unreachable": 1, "needs_more_help": 1, "opted_out": 1}
    assert (result.not_called, result.unchanged, result.list_ids) == (3, 0, (done.list_id,))
    assert _row_key(store, done.list_id, 1) == _key(store, "SYN01")  # the most urgent comes first
    states = _states(store)
    assert states == {
        _key(store, "SYN01"): "resolved",
        _row_key(store, done.list_id, 2): "unreachable",
        _row_key(store, done.list_id, 3): "in_progress",
    }
    assert _suppressed(store, "SYN01"), "a 'resolved' return must not lift a later opt-out"
    opted = _row_key(store, done.list_id, 4)
    assert optouts.suppress(store, pd.DataFrame({"member_key": [opted]})).kept.empty
    entry = store.execute(
        "SELECT source, scope FROM optouts WHERE member_key = ? AND source = 'return'", [opted]
    ).fetchall()
    assert entry == [("return", "calls")]
    assert store.execute(
        "SELECT called_on FROM list_members WHERE list_id = ? AND row_number = 3", [done.list_id]
    ).fetchone()[0] == MADE
    assert (
        store.execute("SELECT count(*) FROM audit_log WHERE action = 'returns_imported'").fetchone()[0] == 1
    )


def test_importing_returns_again_changes_nothing(store, tmp_path):
    done = _export(store, tmp_path)
    first = _fill_xlsx(done.path, {1: ("resolved",), 4: ("opted out",)}, tmp_path / "r1.xlsx")
    returns.import_results(store, first, actor="ana")
    events = store.execute("SELECT count(*) FROM followup_events").fetchone()[0]
    register = store.execute("SELECT count(*) FROM optouts").fetchone()[0]
    again = returns.import_results(store, first, actor="ana")
    assert again.already_imported
    # A later copy of the same list with one more outcome: only the new outcome is recorded.
    second = _fill_xlsx(first, {2: ("unreachable",)}, tmp_path / "r2.xlsx")
    result = returns.import_results(store, second, actor="ana")
    assert result.changed == {"unreachable": 1} and result.unchanged == 2
    assert store.execute("SELECT count(*) FROM followup_events").fetchone()[0] == events + 1
    assert store.execute("SELECT count(*) FROM optouts").fetchone()[0] == register
    assert store.execute("SELECT count(*) FROM imports WHERE kind = 'returns'").fetchone()[0] == 2


# First names a workbook cannot hold as typed (from the Big List of Naughty Strings), one per person on the
# list: xlsxwriter writes U+FFFE, U+FFFF and control characters as _xHHHH_ escapes and a literal "_xHHHH_"
# as "_x005F_xHHHH_". calamine decodes only _x00HH_ (and reads "_x00+F_" as one), so both readings of
# "_xFFFE_" must be told apart from the XML itself.
AWKWARD_NAMES = (
    "\ufffe",
    "Ann\uffff",
    "A\x01\x1b[0mB",
    "_x0041_",
    "_x005F_",
    "_xFFFE_ and \ufffex0041_",
    "_x00+F_",
)


def awkward_names(con) -> None:
    """Give SYN01-07, the people on the list, the awkward first names."""
    for n, name in enumerate(AWKWARD_NAMES, start=1):
        con.execute("UPDATE identities SET first_name = ? WHERE membership_number = ?", [name, f"SYN0{n}"])


def test_names_a_workbook_escapes_come_back_exactly_from_the_unmodified_list(store, tmp_path):
    awkward_names(store)
    done = _export(store, tmp_path)
    header, rows = read_returned(done.path, header_first=followups.LIST_ID)
    names = [cells[header.index(followups.FIRST)] for _, cells in rows]
    assert sorted(names) == sorted(AWKWARD_NAMES)
    for _, cells in rows:  # each on its own row, as stored
        key = _row_key(store, done.list_id, cells[header.index(followups.ROW)])
        stored = store.execute("SELECT first_name FROM identities WHERE member_key = ?", [key]).fetchone()[0]
        assert cells[header.index(followups.FIRST)] == stored
    result = returns.import_results(store, done.path, actor="ana")
    assert (result.changed, result.not_called, result.rows_read) == ({}, ON_LIST, ON_LIST)


def test_a_row_that_opts_out_again_after_a_withdrawal_is_on_the_register_again(store, tmp_path):
    # Opted out, withdrawn as recorded in error, resolved, then opted out again on a later call: the
    # withdrawn entry of that row must not stop the new one (it did: the CLI said "opted out" and the
    # member stayed callable).
    done = _export(store, tmp_path)
    opted = _row_key(store, done.list_id, 4)
    steps = {"a": ("opted out",), "b": ("resolved",), "c": ("opted out", f"{MADE:%d/%m/%Y}")}
    for name, outcome in steps.items():
        if name == "b":
            optouts.withdraw(store, member_key=opted, actor="dp", reason="recorded_in_error")
            assert not optouts.suppress(store, pd.DataFrame({"member_key": [opted]})).kept.empty
        filled = _fill_xlsx(done.path, {4: outcome}, tmp_path / f"{name}.xlsx")
        returns.import_results(store, filled, actor="ana")
    assert optouts.suppress(store, pd.DataFrame({"member_key": [opted]})).kept.empty
    ids = store.execute("SELECT optout_id, withdrawn_at IS NULL FROM optouts WHERE member_key = ? "
                        "ORDER BY recorded_at", [opted]).fetchall()
    assert ids == [(f"return-{done.list_id}-4", False), (f"return-{done.list_id}-4#2", True)]


def test_do_not_call_on_a_return_is_an_opt_out(store, tmp_path):
    # The callers' briefing and the calls import both say "Do Not Call"; a return accepts it too.
    done = _export(store, tmp_path)
    result = returns.import_results(store, _fill_xlsx(done.path, {2: ("DNC",), 3: ("Do not call",)},
                                                      tmp_path / "dnc.xlsx"), actor="ana")
    assert result.changed == {"opted_out": 2}
    for row in (2, 3):
        assert optouts.suppress(store, pd.DataFrame({"member_key": [_row_key(store, done.list_id, row)]})
                                ).kept.empty


def test_notes_typed_under_a_returned_list_are_left_out_with_a_warning(store, tmp_path):
    done = _export(store, tmp_path)
    filled = _fill_xlsx(done.path, {1: ("resolved",)}, tmp_path / "notes.xlsx")
    book = openpyxl.load_workbook(filled)
    sheet = book.active
    header_row = next(c.row for c in sheet["A"] if c.value == followups.LIST_ID)
    header = [c.value for c in sheet[header_row]]
    sheet.cell(sheet.max_row + 2, header.index(followups.INITIALS) + 1, "all done by Sunday, JS")
    book.save(filled)
    result = returns.import_results(store, filled, actor="ana")
    assert result.changed == {"resolved": 1}
    assert result.warnings == ("1 line(s) with no List ID, Row or Outcome (notes or totals typed under the "
                               "list) were left out.",)


def test_a_return_whose_headers_changed_case_and_whose_outcome_holds_invisible_marks_is_read(store, tmp_path):
    done = _export(store, tmp_path)
    typed = {1: ("resolved\u200b",), 2: ("\u200fopted\u00a0out",)}  # a zero-width space, a direction mark
    filled = _fill_xlsx(done.path, typed, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(filled)
    sheet = book.active
    header_row = next(c.row for c in sheet["A"] if c.value == followups.LIST_ID)
    for cell in sheet[header_row]:
        if cell.value in (followups.LIST_ID, followups.OUTCOME):
            cell.value = f" {cell.value.lower()}\u00a0"  # "list id", "outcome": a re-save in another tool
    book.save(filled)
    result = returns.import_results(store, filled, actor="ana")
    assert result.changed == {"resolved": 1, "opted_out": 1}


def test_an_older_copy_of_a_list_does_not_undo_a_newer_one(store, tmp_path):
    done = _export(store, tmp_path)
    newer = _fill_xlsx(done.path, {1: ("resolved", f"{MADE:%d/%m/%Y}")}, tmp_path / "friday.xlsx")
    returns.import_results(store, newer, actor="ana")
    store.execute("UPDATE list_members SET called_on = called_on + 2 WHERE list_id = ? AND row_number = 1",
                  [done.list_id])  # the newer copy's call was two days after the older copy's
    older = _fill_xlsx(done.path, {1: ("unreachable", f"{MADE:%d/%m/%Y}")}, tmp_path / "monday.xlsx")
    with pytest.raises(InputError, match="row 1 of list .* already holds a later result"):
        returns.import_results(store, older, actor="ana")
    assert _states(store)[_row_key(store, done.list_id, 1)] == "resolved"


def test_a_copy_of_a_destroyed_or_lost_list_coming_back_is_recorded_and_flagged(store, tmp_path):
    done = _export(store, tmp_path)
    registry.mark_destroyed(store, done.list_id, actor="sam")
    breach.write_breach(store, done.list_id, tmp_path / "breach.md", actor="dp")
    filled = _fill_xlsx(done.path, {1: ("resolved",)}, tmp_path / "found.xlsx")
    result = returns.import_results(store, filled, actor="ana")
    assert result.changed == {"resolved": 1}  # the call was made: it is recorded
    assert any("recorded as destroyed" in w and "shred every copy" in w for w in result.warnings)
    assert any("reported lost" in w and "data-protection lead" in w for w in result.warnings)
    counts = json.loads(store.execute("SELECT counts FROM audit_log WHERE action = 'returns_imported'"
                                      ).fetchone()[0])
    assert counts["warnings"] == 2


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-8", ","), ("cp1252", ","), ("cp1252", ";")])
def test_results_round_trip_through_csv(store, tmp_path, encoding, delimiter):
    # Re-saved as a spreadsheet might: UTF-8 without QUOTE_ALL; Excel's "CSV (Comma delimited)" on a
    # British PC (Windows-1252); or with a European locale's semicolons.
    store.execute("UPDATE identities SET first_name = 'Zoë' WHERE first_name = 'Alice'")
    for key, name in store.execute("SELECT member_key, first_name FROM identities").fetchall():
        if encoding == "cp1252" and name and not name.isascii() and name != "Zoë":
            # Excel writes "?" for a letter Windows-1252 lacks: that row would rightly be refused.
            store.execute("UPDATE identities SET first_name = 'Ann' WHERE member_key = ?", [key])
    done = _export(store, tmp_path, "csv")
    with open(done.path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header_at = next(i for i, r in enumerate(rows) if r[0] == followups.LIST_ID)
    outcome = rows[header_at].index(followups.OUTCOME)
    rows[header_at + 2][outcome] = "resolved"
    assert any("Zoë" in r for r in rows)
    returned = tmp_path / "returned.csv"
    with open(returned, "w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    result = returns.import_results(store, returned, actor="ana")
    assert result.changed == {"resolved": 1} and result.not_called == ON_LIST - 1
    assert _states(store) == {_row_key(store, done.list_id, 2): "resolved"}


def _edit(path: Path, out: Path, row: int, column: str, value) -> Path:
    book = openpyxl.load_workbook(path)
    ws = book.active
    header_row = next(c.row for c in ws["A"] if c.value == followups.LIST_ID)
    header = [c.value for c in ws[header_row]]
    ws.cell(header_row + 1, header.index(followups.OUTCOME) + 1, "resolved")
    ws.cell(header_row + row, header.index(column) + 1, value)
    book.save(out)
    return out


@pytest.mark.parametrize(
    "row,column,value,message",
    [
        (
            2,
            "List ID",
            "FU-20200101-ZZZZZ",
            'row 11, column List ID: "FU-20200101-ZZZZZ" is not a list in this store',
        ),
        (2, "First Name", "Alicia", "row 11, column First Name: differs from the list as issued"),
        (3, "Needs", "Food", "row 12, column Needs: differs from the list as issued"),
        (2, "Row", 99, "row 11, column Row: is not a row of list"),
        (1, "Outcome", "maybe", 'row 10, column Outcome: "maybe" is not an outcome. Write one of: resolved'),
        (1, "Outcome", "rang 07700 900001 twice", "row 10, column Outcome: the value is not an outcome"),
        (2, "Date called", "31/02/2020", "row 11, column Date called: is not a date we can read"),
        # A name typed into the wrong column is never repeated: only call words are.
        (1, "Outcome", "Mrs Alicia Quill", "row 10, column Outcome: the value is not an outcome"),
        (1, "Outcome", "left msg", 'row 10, column Outcome: "left msg" is not an outcome'),
        # A US-order date (1 December as 12/01) lands before the list was made.
        (2, "Date called", (MADE - timedelta(days=1)).strftime("%d/%m/%Y"),
         f"row 11, column Date called: is before the list was made ({MADE:%d/%m/%Y})"),
    ],
)
def test_bad_returns_are_reported_and_change_nothing(store, tmp_path, row, column, value, message):
    done = _export(store, tmp_path)
    bad = _edit(done.path, tmp_path / "returned.xlsx", row, column, value)
    with pytest.raises(InputError) as raised:
        returns.import_results(store, bad, actor="ana")
    text = str(raised.value)
    assert message in text and "returned.xlsx" in text and "nothing was imported" in text
    for secret in ("Alice", "Alicia", "Quill", "07700", "HYPERLINK"):
        assert secret not in text
    assert _states(store) == {}
    assert store.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    assert store.execute("SELECT count(outcome) FROM list_members").fetchone()[0] == 0


# ---- hostile returns: read inside the ingest limits, refused within seconds, naming the file ---------------

SECONDS = 10  # "within seconds" on a shared two-core machine; each case takes well under one alone
FAR_ROW = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
FILLER = b"<!-- " + b"A" * (1024**2 - 9) + b" -->"  # 1 MB of XML that deflates to about 1 KB


def _far(xml: bytes, declared: bool):
    # One cell at the sheet's last column and row: a dense reader would lay out 17 billion cells.
    if declared:
        xml = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)
    yield xml.replace(b"</sheetData>", FAR_ROW + b"</sheetData>")


def _bomb(xml: bytes):
    # 520 MB of sheet XML in a file of well under a megabyte: beyond what a workbook may expand to.
    head, tail = xml.split(b"</sheetData>")
    yield head + b"</sheetData>"
    for _ in range(520):
        yield FILLER
    yield tail


def _hostile(source: Path, out: Path, sheet) -> Path:
    """A copy of a real exported list with its sheet's XML rewritten by `sheet`."""
    packed = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
    with zipfile.ZipFile(source) as src, packed as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info.filename, src.read(info))
                continue
            with dst.open(info.filename, "w", force_zip64=True) as part:
                for chunk in sheet(src.read(info)):
                    part.write(chunk)
    return out


def _refused_return(store, path: Path, *fragments: str, passphrase: str | None = None) -> None:
    start = time.perf_counter()
    with pytest.raises(InputError) as raised:
        returns.import_results(store, path, actor="ana", passphrase=passphrase)
    assert time.perf_counter() - start < SECONDS
    text = str(raised.value)
    assert path.name in text and all(f in text for f in fragments), text
    for secret in ("Alice", "07700", "HYPERLINK"):
        assert secret not in text
    assert store.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    assert store.execute("SELECT count(outcome) FROM list_members").fetchone()[0] == 0


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
def test_a_returned_workbook_reaching_xfd1048576_is_refused_at_once(store, tmp_path, declared):
    done = _export(store, tmp_path)
    far = _hostile(done.path, tmp_path / "far.xlsx", lambda xml: _far(xml, declared))
    assert far.stat().st_size < 20_000
    _refused_return(store, far, "spans 16,384 columns", "reaches cell XFD1048576")


def test_a_returned_workbook_zip_bomb_is_refused_before_it_is_inflated(store, tmp_path):
    done = _export(store, tmp_path)
    bomb = _hostile(done.path, tmp_path / "bomb.xlsx", _bomb)
    assert bomb.stat().st_size < 5 * 1024**2
    _refused_return(store, bomb, "would expand to", "it may be a zip bomb")


def test_a_protected_hostile_return_is_checked_after_decrypting_in_memory(store, tmp_path):
    from workbench.lists import protection

    done = _export(store, tmp_path)
    far = _hostile(done.path, tmp_path / "plain-far.xlsx", lambda xml: _far(xml, False))
    locked = tmp_path / "locked.xlsx"
    words = protection.passphrase()
    locked.write_bytes(protection.encrypt_xlsx(far.read_bytes(), words))
    _refused_return(store, locked, "spans 16,384 columns", passphrase=words)


@pytest.mark.parametrize(
    "extra, message",
    [
        ("x," * 1_000_000 + "\r\n", "has 1,000,001 columns in row"),
        ("x" * (17 * 1024**2), "longer than 16 MB"),
    ],
    ids=["a-million-fields", "one-endless-line"],
)
def test_a_hostile_returned_csv_is_refused(store, tmp_path, extra, message):
    done = _export(store, tmp_path, "csv")
    hostile = tmp_path / "returned.csv"
    hostile.write_text(done.path.read_text(encoding="utf-8-sig") + extra, encoding="utf-8")
    _refused_return(store, hostile, message)


def test_the_cli_refuses_a_hostile_return_before_it_opens_the_store(store_path, tmp_path, capsys,
                                                                     monkeypatch):
    table = pd.DataFrame({followups.LIST_ID: ["FU-20200415-ABCDE"], followups.ROW: [1]})
    plain = exports.write_xlsx(table, tmp_path / "plain.xlsx", notice=exports.Notice("CONFIDENTIAL"))
    far = _hostile(plain, tmp_path / "far.xlsx", lambda xml: _far(xml, False))
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "not the passphrase")
    start = time.perf_counter()
    assert main(["followups", "import-results", str(far), "--db", str(store_path), "--by", "ana"]) == 1
    assert time.perf_counter() - start < SECONDS
    err = capsys.readouterr().err
    # The file's problem, not the wrong passphrase: the store was never opened.
    assert "far.xlsx: sheet" in err and "16,384 columns" in err and "passphrase" not in err


def test_a_row_not_on_the_list_is_unmatched(store, tmp_path):
    done = _export(store, tmp_path)
    book = openpyxl.load_workbook(done.path)
    ws = book.active
    ws.append([done.list_id, 8, "Extra", "07700 900099", "Kings Park", "Food", "High", "", "resolved"])
    book.save(tmp_path / "returned.xlsx")
    with pytest.raises(InputError, match="column Row: is not a row of list"):
        returns.import_results(store, tmp_path / "returned.xlsx", actor="ana")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("returned.pdf", b"%PDF-1.4", "Unsupported file extension: '.pdf'"),
        ("returned.xlsx", b"List ID,Row\n", "returned.xlsx is not a readable .xlsx workbook"),
    ],
)
def test_wrong_file_types_are_refused(store, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        returns.import_results(store, tmp_path / name, actor="ana")


def test_missing_columns_are_named(store, tmp_path):
    done = _export(store, tmp_path, "csv")
    text = done.path.read_text(encoding="utf-8-sig").replace('"Needs"', '"Need"')
    (tmp_path / "returned.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="the column\\(s\\) Needs are missing"):
        returns.import_results(store, tmp_path / "returned.csv", actor="ana")


def test_a_member_erased_since_is_skipped(store, tmp_path):
    done = _export(store, tmp_path)
    erasure.erase(store, actor="dp", reason="subject_request", membership_number="SYN01")
    filled = _fill_xlsx(done.path, {1: ("resolved",), 2: ("resolved",)}, tmp_path / "returned.xlsx")
    result = returns.import_results(store, filled, actor="ana")
    assert result.erased == 1 and result.changed == {"resolved": 1}


# ---- next round ------------------------------------------------------------------------------------------


def test_next_round_lists_the_unreached_and_those_due_a_check_in(store, tmp_path):
    done = followups.next_round(
        store,
        purpose="round 2",
        recipient="calling team",
        out=tmp_path / "r2.csv",
        actor="ana",
        attempts=3,
        checkin_after_days=28,
        wellbeing_at_most=2,
        as_of="2020-04-20",
        unprotected=PLAIN,
    )
    header, rows = read_returned(done.path, header_first="Membership Number")
    assert header == ["Membership Number", "First Name", "Last Name", "Phone", "Ward", "Reason"]
    by_number = {r[1][0]: r[1] for r in rows}
    assert set(by_number) == {"SYN11", "SYN01", "SYN06"}  # unreached; wellbeing 1; wellbeing 2
    assert by_number["SYN11"][5] == "not reached after 3 attempts"
    assert by_number["SYN01"][5] == by_number["SYN06"][5] == "priority check-in"
    assert by_number["SYN11"][3] == "07700900011"
    assert registry.get(store, done.list_id).kind == "next_round"
    later = followups.next_round(
        store,
        purpose="round 3",
        recipient="calling team",
        out=tmp_path / "r3.xlsx",
        actor="ana",
        as_of="2020-06-01",
        unprotected=PLAIN,
    )
    # Everyone answered in April is due by June, except the opted out (SYN08); SYN09 has no phone.
    assert later.record.row_count == 9
    assert later.excluded == {"opted out": 1, "no phone number": 1}
    returned = tmp_path / "r3-back.csv"
    returned.write_text(
        f'"List ID","Row","First Name","Ward","Needs","Outcome"\n"{later.list_id}","1","","","","resolved"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="is a next-round call list; its results come back as call outcomes"):
        returns.import_results(store, returned, actor="ana")


# ---- the command line ------------------------------------------------------------------------------------


def test_cli_export_lists_destroy_and_breach(store_path, tmp_path, capsys, monkeypatch):
    from tests.conftest import PASSPHRASE
    from workbench.store import db

    with db.session(store_path, PASSPHRASE) as con:
        _build(con)
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    base = ["--db", str(store_path), "--by", "ana"]
    out = tmp_path / "ash.html"
    assert (
        main(
            [
                "followups",
                "export",
                *base,
                "--branch",
                "Ashcombe",
                "--purpose",
                "call-backs",
                "--recipient",
                "Ashcombe secretary",
                "--out",
                str(out),
                "--unprotected",
                "printed for a branch without a computer",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert (
        f"({ON_LIST} people; list FU-" in printed and "Left out: 1 no phone number, 1 opted out." in printed
    )
    list_id = printed.split("list ")[1].split(";")[0]
    assert main(["lists", *base]) == 0
    assert list_id in capsys.readouterr().out
    assert main(["breach", list_id, *base]) == 0
    report = capsys.readouterr().out
    assert "People on the list: 7" in report and "Alice" not in report
    assert main(["breach", list_id, *base, "--with-identities"]) == 1
    assert "give --out PATH" in capsys.readouterr().err
    assert main(["lists", "destroyed", list_id, *base]) == 0
    assert main(["lists", "destroyed", list_id, *base]) == 1
    assert "already recorded destroyed" in capsys.readouterr().err
    assert main(["lists", "--outstanding", *base]) == 0
    assert "(nothing to show)" in capsys.readouterr().out


# ---- phones ----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "+447700900",
                "+441134960",
                "+442079460",
                "+441632960",
                "+442896496",
                "+447911123",
                "+3361234",
                "+1202555",
            ]
        ).flatmap(
            lambda prefix: st.text("0123456789", min_size=3, max_size=4).map(lambda tail: prefix + tail)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_column_phone_formatting_matches_one_by_one(numbers):
    column = pd.Series(numbers)
    assert followups.display_phones(column).tolist() == column.map(followups.display_phone).tolist()


# ---- what a caller reads on the list ------------------------------------------------------------------


@pytest.mark.parametrize(("e164", "shown"), [
    ("+447700900123", "07700 900123"), ("+442079460958", "020 7946 0958"), ("+441134960000", "0113 496 0000"),
    ("+33612345678", "+33 6 12 34 56 78"), ("+12025550143", "+1 202-555-0143"),
    (None, ""), ("", ""), ("  ", ""), (float("nan"), ""), ("12", "12"), ("abc", "abc"),
])
def test_a_phone_is_shown_as_a_caller_dials_it(e164, shown):
    assert followups.display_phone(e164) == shown


def test_a_column_of_phones_is_shown_exactly_as_each_one_alone():
    numbers = ["+447700900123", "+447700900124", "+447700900999", "+447700123456", "+442079460958",
               "+442079460000", "+441134960000", None, "", "+33612345678", "+33612340000", "+4477009001",
               "+447700900123x"]
    column = pd.Series(numbers, index=range(10, 10 + len(numbers)))
    shown = followups.display_phones(column)
    assert shown.tolist() == [followups.display_phone(n) for n in numbers]
    assert shown.index.tolist() == column.index.tolist()


@pytest.mark.parametrize(("categories", "urgency", "prompt"), [
    (["food", "medicine"], "high",
     "Call first. Ask about food shopping or a food bank; getting prescriptions."),
    (["isolation"], "medium", "Ask about company or a befriending call."),
    (["mental_health", "financial", "housing", "digital", "other"], "low",
     "Ask about how they are coping; money worries or benefits advice; their housing; getting online; "
     "what help they need."),
    ([], None, "Ask about how they are."),
    (["something new"], "high", "Call first. Ask about what help they need."),
])
def test_the_call_back_prompt_says_what_to_ask_about_and_nothing_from_the_notes(categories, urgency, prompt):
    assert followups.call_back_prompt(categories, urgency) == prompt


def test_needs_are_named_as_a_branch_reads_them_and_left_out_counts_add_up():
    assert followups.needs_text(["food", "mental_health", "financial", "digital", "new"]) == (
        "Food; Mental health; Money; Getting online; new")
    assert followups.needs_text(np.array(["medicine", "isolation", "housing", "other"])) == (
        "Medicine; Isolation; Housing; Other")
    merged = followups.merge_counts({"opted out": 2, "erased": 0}, {"opted out": 1.0, "no phone number": 3})
    assert merged == {"opted out": 3, "no phone number": 3}
    assert followups.merge_counts() == {}
