"""followups: the rules of who is listed, what a list says, and how it is issued, pinned one by one.

Uses the hand-built store of test_followups.py (eleven synthetic members, SYN01-SYN11), so every
person and count is known.
"""

from __future__ import annotations

import hashlib
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import openpyxl
import pytest

from tests.conftest import PASSPHRASE
from tests.lists.test_followups import ON_LIST, PEOPLE, PLAIN, WHEN, _build, _export, _key
from tests.lists.test_protection import needs_chromium
from workbench.analysis import needs
from workbench.errors import InputError
from workbench.ingest.returned import read_table as read_returned
from workbench.lists import followups, registry
from workbench.store import db
from workbench.store.db import key


@pytest.fixture
def store(con):
    _build(con)
    return con


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One hand-built store for the tests that only read it, built once for this module."""
    path = tmp_path_factory.mktemp("shared") / "store.duckdb"
    db.init_store(path, PASSPHRASE)
    connection = db.connect(path, PASSPHRASE)
    _build(connection)
    yield connection
    connection.close()


def _keys(con, *numbers: str) -> list[str]:
    return [_key(con, n) for n in numbers]


def _refused(con, tmp_path: Path, suffix: str = "xlsx", **options) -> str:
    with pytest.raises(InputError) as refused:
        _export(con, tmp_path, suffix, **options)
    assert con.execute("SELECT count(*) FROM lists").fetchone()[0] == 0
    return str(refused.value)


def _next_round(con, tmp_path: Path, name: str = "r2.csv", **options) -> followups.Exported:
    args = {"purpose": "round 2", "recipient": "calling team", "out": tmp_path / name, "actor": "ana",
            "as_of": "2020-04-20", "unprotected": PLAIN, **options}
    return followups.next_round(con, **args)


# ---- who is on a follow-up list ---------------------------------------------------------------------------


def test_a_ward_list_holds_only_that_wards_people(shared):
    """A list narrowed to a ward lists the people in need there and nobody else."""
    rows = followups.compose(shared, branch="Ashcombe", ward="Wren Green").rows
    assert sorted(rows["member_key"]) == sorted(_keys(shared, "SYN03", "SYN04", "SYN05"))
    assert set(rows["ward"]) == {"Wren Green"}


def test_a_category_list_holds_only_people_with_that_need(shared):
    """A list narrowed to one need lists only people with it; the opted out and phoneless stay off."""
    composed = followups.compose(shared, branch="Ashcombe", category="food")
    assert composed.rows["member_key"].tolist() == _keys(shared, "SYN01")
    assert composed.excluded == {"opted out": 1, "no phone number": 1}


def test_composed_rows_carry_exactly_what_the_writer_needs(shared):
    """Composed rows hold the key, first name, phone, ward, needs, urgency and score, in that order."""
    rows = followups.compose(shared, branch="Ashcombe").rows
    assert rows.columns.tolist() == ["member_key", "first_name", "phone", "ward", "categories", "urgency",
                                     "score"]
    assert rows.loc[0, "phone"] == "+447700900001" and rows.loc[0, "categories"] == ["food", "medicine"]


def test_a_limit_of_one_gives_the_single_most_urgent(shared):
    """The smallest limit allowed, 1, lists the most urgent person only."""
    assert followups.compose(shared, branch="Ashcombe", limit=1).rows["member_key"].tolist() == _keys(
        shared, "SYN01")


def test_days_waiting_are_counted_to_as_of(shared):
    """Urgency scores count the days waiting up to the as_of given, not to today."""
    early = followups.compose(shared, branch="Ashcombe", as_of=WHEN + timedelta(days=1)).rows
    later = followups.compose(shared, branch="Ashcombe", as_of=WHEN + timedelta(days=11)).rows
    assert (later["score"] - early["score"]).tolist() == [10] * ON_LIST


def test_a_blank_phone_counts_as_no_phone(store):
    """A phone that is only spaces cannot be called: that member is left out as having no phone number."""
    store.execute("UPDATE identities SET phone = '   ' WHERE membership_number = 'SYN07'")
    composed = followups.compose(store, branch="Ashcombe")
    assert _key(store, "SYN07") not in composed.rows["member_key"].tolist()
    assert len(composed.rows) == ON_LIST - 1
    assert composed.excluded == {"opted out": 1, "no phone number": 2}


def test_an_opt_out_after_the_queue_is_caught_before_the_list_is_written(store, tmp_path):
    """Someone who opts out is never on a list, even when the queue was read before the opt-out."""
    from workbench.privacy import optouts

    queue_time = followups.compose(store, branch="Ashcombe")
    assert _key(store, "SYN02") in queue_time.rows["member_key"].tolist()
    optouts.add(store, actor="dp", reason="asked_not_to_be_called", membership_number="SYN02")
    done = _export(store, tmp_path, "csv")
    keys = [r[0] for r in store.execute("SELECT member_key FROM list_members").fetchall()]
    assert _key(store, "SYN02") not in keys and done.record.row_count == ON_LIST - 1
    assert done.excluded == {"opted out": 2, "no phone number": 1}


# ---- what a follow-up list says ---------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[dict[str, str]]:
    header, rows = read_returned(path, header_first=followups.LIST_ID)
    return [dict(zip(header, r[1], strict=True)) for r in rows]


def test_missing_name_ward_and_urgency_print_as_blanks(store, tmp_path):
    """A missing first name, ward or urgency is a blank cell on the list, never "None" or "nan"."""
    alice = _key(store, "SYN01")
    store.execute("UPDATE identities SET first_name = NULL WHERE member_key = ?", [alice])
    store.execute("UPDATE members SET ward = NULL WHERE member_key = ?", [alice])
    store.execute("UPDATE calls SET urgency = NULL WHERE member_key = ?", [alice])
    rows = _csv_rows(_export(store, tmp_path, "csv").path)
    row = next(r for r in rows if r["Phone"] == "07700 900001")
    assert (row["First Name"], row["Ward"], row["Urgency"]) == ("", "", "")
    assert row["Call-back prompt"] == "Ask about food shopping or a food bank; getting prescriptions."


def test_each_row_digest_is_the_keyed_hash_of_name_ward_and_needs_as_issued(store, tmp_path):
    """The registry keeps, per row, BLAKE2b hashes keyed with the member key of first name, ward and needs."""
    done = _export(store, tmp_path, "csv")
    secret = key(store, "member")
    digest = store.execute("SELECT digest FROM list_members WHERE list_id = ? AND row_number = 1",
                           [done.list_id]).fetchone()[0]
    cells = {"First Name": "Alice", "Ward": "Kings Park", "Needs": "Food; Medicine"}
    expected = ":".join(
        hashlib.blake2b(f"{done.list_id}|1|{column}|{value}".encode(), key=secret, digest_size=8).hexdigest()
        for column, value in cells.items())
    assert digest == expected


def test_row_digest_reads_cells_with_spacing_normalised():
    """A protected cell is compared with its runs of spaces collapsed: "Kings  Park " is "Kings Park"."""
    secret = b"k" * 32
    cells = {"First Name": "Alice", "Ward": "Kings Park", "Needs": "Food"}
    spaced = {"First Name": " Alice", "Ward": "Kings  Park ", "Needs": "Food\n"}
    assert followups.row_digest(secret, "FU-1", 1, spaced) == followups.row_digest(secret, "FU-1", 1, cells)
    assert followups.row_digest(secret, "FU-1", 1, cells) != followups.row_digest(secret, "FU-1", 2, cells)


def test_a_whole_list_gets_the_digests_each_row_would_get_alone():
    """`row_digests` (a list's rows at once, repeated names and wards normalised once) agrees with
    `row_digest` row by row, including cells that differ only in spacing."""
    secret = b"s" * 32
    cells = {"First Name": ["Alice", " Alice", "Bo", ""],
             "Ward": ["Kings Park", "Kings  Park ", "Kings Park", "X"],
             "Needs": ["Food", "Food\n", "Food; Medicine", ""]}
    rows = [1, 2, 7, 8]
    together = followups.row_digests(secret, "FU-2", rows, cells)
    alone = [followups.row_digest(secret, "FU-2", row, {c: cells[c][i] for c in cells})
             for i, row in enumerate(rows)]
    assert together == alone
    assert len(set(together)) == 4  # each row's number is in its digest
    assert together[0].split(":")[1:] != together[2].split(":")[1:]  # different needs, different digest


def test_a_national_number_is_shown_as_dialled():
    """A UK number stored without +44 is still read as British and grouped as a caller dials it."""
    assert followups.display_phone("07700900123") == "07700 900123"


def test_the_workbook_lets_callers_fill_in_only_the_outcome_columns(store, tmp_path):
    """A follow-up workbook locks all but Outcome, Date called and Caller initials; Outcome is a drop-down."""
    ws = openpyxl.load_workbook(_export(store, tmp_path).path).active
    assert ws.protection.sheet
    header_row = next(c.row for c in ws["A"] if c.value == followups.LIST_ID)
    header = [c.value for c in ws[header_row]]
    first = ws[header_row + 1]
    open_columns = {header[i] for i, c in enumerate(first) if not c.protection.locked}
    assert open_columns == {"Outcome", "Date called", "Caller initials"}
    (rule,) = ws.data_validations.dataValidation
    assert rule.type == "list" and rule.formula1 == '"resolved,unreachable,needs more help,opted out"'
    outcome_letter = openpyxl.utils.get_column_letter(header.index("Outcome") + 1)
    assert str(rule.sqref).startswith(f"{outcome_letter}{header_row + 1}")


def test_the_next_round_workbook_is_not_for_filling_in(store, tmp_path):
    """A next-round workbook (for the calling tool) has no drop-downs and no open cells."""
    ws = openpyxl.load_workbook(_next_round(store, tmp_path, "r2.xlsx").path).active
    assert not ws.data_validations.dataValidation and not ws.protection.sheet


def test_the_workbook_columns_are_sized_for_the_printed_page(store, tmp_path):
    """Each workbook column has its set width (characters), so a printed list fits the page as designed."""
    ws = openpyxl.load_workbook(_export(store, tmp_path).path).active
    header_row = next(c.row for c in ws["A"] if c.value == followups.LIST_ID)
    widths = {c.value: ws.column_dimensions[c.column_letter].width for c in ws[header_row]}
    expected = {"List ID": 17, "Row": 5, "First Name": 14, "Phone": 15, "Ward": 16, "Needs": 22,
                "Urgency": 9, "Call-back prompt": 40, "Outcome": 16, "Date called": 12, "Caller initials": 9}
    assert {name: int(width) for name, width in widths.items()} == expected  # Excel adds its padding


def _columns(page: str) -> tuple[list[str], list[str]]:
    cols = re.search(r"<colgroup>(.*?)</colgroup>", page, re.S).group(1)
    heads = re.findall(r'<th scope="col">(.*?)</th>', page)
    return re.findall(r"<col[^>]*>", cols), heads


def test_the_printed_list_has_no_list_id_column_and_numbers_its_rows(store, tmp_path):
    """On paper the List ID is in the header of every page, not a column; the Row column comes first."""
    page = _export(store, tmp_path, "html").path.read_text(encoding="utf-8")
    cols, heads = _columns(page)
    assert heads == ["Row", "First Name", "Phone", "Ward", "Needs", "Urgency", "Call-back prompt", "Outcome",
                     "Date called", "Caller initials"]
    assert cols[0] == '<col class="rownum" style="width: 10mm">'
    assert page.count('<td class="rownum"><bdi>') == ON_LIST


def test_the_printed_list_is_titled_by_its_notice(store, tmp_path):
    """The browser tab and the page heading of a printed list carry the notice's own title."""
    exported = _export(store, tmp_path, "html")
    page = exported.path.read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert title and title != "None" and f"<h1>{title}</h1>" in page
    assert title in re.search(r"<h2>(.*?)</h2>", page).group(1)


def test_every_printed_column_has_a_set_width(store, tmp_path):
    """Each column of a printed list (follow-up or next round) has its own width, so none is squeezed out."""
    follow = _export(store, tmp_path, "html", include_membership_number=True).path.read_text(encoding="utf-8")
    nxt = _next_round(store, tmp_path, "r2.html").path.read_text(encoding="utf-8")
    for page in (follow, nxt):
        cols, heads = _columns(page)
        assert len(cols) == len(heads) and all('style="width: ' in c for c in cols), cols
    widths = dict(zip(_columns(follow)[1], [re.search(r"width: ([^\"]+)", c).group(1)
                                            for c in _columns(follow)[0]], strict=True))
    assert widths["Call-back prompt"] == "18%" and widths["Membership Number"] == "10%"


# ---- the registry ----------------------------------------------------------------------------------------


def test_the_registry_records_what_a_list_was_narrowed_to(store, tmp_path):
    """The registry keeps the branch, ward, category and limit a list was made from."""
    done = _export(store, tmp_path, ward="Kings Park", category="food", limit=5)
    expected = {"branch": "Ashcombe", "ward": "Kings Park", "category": "food", "limit": 5}
    assert done.record.filters == expected and registry.get(store, done.list_id).filters == expected
    assert done.record.row_count == 1 and done.record.data_categories == followups.FOLLOWUP_DATA


def test_the_shred_by_date_follows_the_days_given(store, tmp_path):
    """A list given shred_after_days=3 must be shredded three days after it was made."""
    record = _export(store, tmp_path, shred_after_days=3).record
    assert record.shred_by == (record.created_at + timedelta(days=3)).date()


def test_the_next_round_registry_entry_records_its_rules(store, tmp_path):
    """The registry keeps the round rules a next-round list was made with, and who was left out."""
    done = _next_round(store, tmp_path, branch="Ashcombe", ward="Wren Green", attempts=3,
                       checkin_after_days=10, wellbeing_at_most=1)
    expected = {"branch": "Ashcombe", "ward": "Wren Green", "round": None, "attempts": 3,
                "checkin_after_days": 10, "wellbeing_at_most": 1}
    record = registry.get(store, done.list_id)
    assert record.filters == expected and record.kind == "next_round"
    assert record.data_categories == followups.NEXT_ROUND_DATA and record.row_count == 4
    assert record.excluded == done.excluded == {}


# ---- refusals, named exactly -----------------------------------------------------------------------------


def test_an_unsupported_format_names_the_ones_supported(store, tmp_path):
    """Asking for another format names every supported format and how to choose one."""
    assert _refused(store, tmp_path, fmt="docx", out=tmp_path / "list.docx") == (
        'Unsupported list format "docx". Supported formats: xlsx, pdf, csv, html (give --format, or an '
        "--out path ending in .xlsx, .pdf, .csv or .html).")


def test_a_capital_suffix_chooses_the_format(store, tmp_path):
    """An --out path ending in .XLSX is written as an xlsx list."""
    done = _export(store, tmp_path, out=tmp_path / "LIST.XLSX")
    assert done.record.format == "xlsx" and done.path.exists()


def test_an_existing_file_is_refused_with_how_to_record_its_destruction(store, tmp_path):
    """Refusing to overwrite an old list says how to record that it was destroyed."""
    (tmp_path / "list.xlsx").write_text("an old list")
    message = _refused(store, tmp_path)
    assert message.endswith("Nothing was written. An old list is never replaced silently: once it is "
                            "destroyed, record that with `workbench lists destroyed LIST_ID`.")
    assert (tmp_path / "list.xlsx").read_text() == "an old list"


def test_force_replaces_an_old_file_with_a_private_new_list(store, tmp_path):
    """With force, the file at out is replaced by the new list, readable by its owner only."""
    old = tmp_path / "list.csv"
    old.write_text("an old list")
    done = _export(store, tmp_path, "csv", force=True)
    assert "Alice" in done.path.read_text(encoding="utf-8-sig")
    assert stat.S_IMODE(done.path.stat().st_mode) == 0o600


@pytest.mark.parametrize("suffix", ["xlsx", "html"])
def test_force_replaces_an_old_file_in_each_format(store, tmp_path, suffix):
    """With force, an xlsx or html list replaces the file at out."""
    (tmp_path / f"list.{suffix}").write_text("an old list")
    done = _export(store, tmp_path, suffix, force=True)
    assert done.path.read_bytes() != b"an old list" and registry.get(store, done.list_id).row_count == ON_LIST


def test_a_failed_registration_leaves_the_file_at_out_alone(store_path, tmp_path):
    """When the registry cannot record a list (read-only store), nothing is written and an old file stays."""
    with db.session(store_path, PASSPHRASE) as con:
        _build(con)
    old = tmp_path / "list.csv"
    old.write_text("an old list")
    reader = db.connect(store_path, PASSPHRASE, read_only=True)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            _export(reader, tmp_path, "csv", force=True)
    finally:
        reader.close()
    assert old.read_text() == "an old list"


def test_a_missing_purpose_is_refused(store, tmp_path):
    """A list with no purpose at all (None) is refused like a blank one."""
    assert _refused(store, tmp_path, purpose=None) == (
        "--purpose is required: every list records who it is for, why, and who made it.")


def test_a_plain_format_without_a_reason_says_how_to_choose(store, tmp_path):
    """A csv asked for with no reason is refused, naming the encrypted formats and --unprotected."""
    assert _refused(store, tmp_path, "csv", unprotected=None) == (
        "A csv list cannot be encrypted. Choose --format xlsx or pdf (encrypted with a passphrase), or give "
        '--unprotected "REASON" to write a plain csv: the reason is recorded in the list registry and the '
        "audit log.")


def test_a_blank_reason_is_refused_with_an_example(store, tmp_path):
    """A reason of only spaces is refused, with an example of a good reason."""
    assert _refused(store, tmp_path, "csv", unprotected="  ") == (
        '--unprotected needs a reason, e.g. --unprotected "branch secretary has no Excel; paper copy kept '
        'locked": it is recorded in the list registry and the audit log.')


REASON_RULE = ("The --unprotected reason must be a short sentence (at most 300 characters) with no phone "
               "number or email address in it: it is kept in the registry and the audit log.")


@pytest.mark.parametrize("reason", ["x" * 301, "ring the office on 0770 090 012", "ask sam@example.org"])
def test_a_long_reason_or_one_holding_contact_details_is_refused(store, tmp_path, reason):
    """A reason over 300 characters, or holding a ten-digit phone or an email, is refused in full words."""
    assert _refused(store, tmp_path, "csv", unprotected=reason) == REASON_RULE


@pytest.mark.parametrize("reason", ["locked in cabinet 012 345 678", "printed 2020, 2021, 2022 for room 12"])
def test_a_reason_with_numbers_that_are_not_a_phone_is_accepted(store, tmp_path, reason):
    """Nine digits, or ten digits that are not a phone number, may be in a reason."""
    assert _export(store, tmp_path, "csv", unprotected=reason).record.protection.reason == reason


def test_nobody_to_list_names_the_branch_and_who_was_left_out(store, tmp_path):
    """An empty list is refused, naming the branch and the counts left out (or none)."""
    assert _refused(store, tmp_path, branch="Brackenhurst", category="housing") == (
        "Nobody to put on a list for branch Brackenhurst (left out: none); no list was made.")
    store.execute("UPDATE identities SET phone = NULL WHERE membership_number = 'SYN01'")
    assert _refused(store, tmp_path, category="food") == (
        "Nobody to put on a list for branch Ashcombe (left out: 1 opted out, 2 no phone number); "
        "no list was made.")


# ---- the next calling round ------------------------------------------------------------------------------


def _reasons(composed: followups.Composed, con) -> dict[str, str]:
    numbers = {_key(con, person[0]): person[0] for person in PEOPLE}
    return {numbers[k]: r for k, r in zip(composed.rows["member_key"], composed.rows["reason"], strict=True)}


def test_a_check_in_due_says_how_long_since_they_last_spoke(shared):
    """Someone answered long ago is due a check-in; the reason gives the days, never their wellbeing."""
    composed = followups.compose_next_round(shared, branch="Ashcombe", ward="Wren Green", as_of="2020-06-01",
                                            checkin_after_days=40)
    reasons = _reasons(composed, shared)
    assert reasons == {"SYN03": "check-in due (last spoke over 40 days ago)",
                       "SYN04": "check-in due (last spoke over 40 days ago)",
                       "SYN05": "check-in due (last spoke over 40 days ago)",
                       "SYN11": "not reached after 3 attempts"}


def test_next_round_lists_by_ward_then_reason(shared):
    """The next-round list is in ward order, then by reason, so a caller works one ward at a time."""
    composed = followups.compose_next_round(shared, as_of="2020-06-01")
    wards = composed.rows["ward"].tolist()
    assert wards == sorted(wards)
    by_ward = composed.rows.groupby("ward", sort=False)["reason"].apply(list)
    assert all(reasons == sorted(reasons) for reasons in by_ward)
    assert _reasons(composed, shared)["SYN11"] == "not reached after 3 attempts"


def test_next_round_for_a_branch_leaves_other_branches_out(store):
    """A branch's next round lists none of another branch's unreached members."""
    store.execute("UPDATE members SET branch = 'Brackenhurst', ward = 'Moor End' WHERE member_key = ?",
                  [_key(store, "SYN11")])
    composed = followups.compose_next_round(store, branch="Ashcombe", as_of="2020-04-20")
    assert set(_reasons(composed, store)) == {"SYN01", "SYN06"}
    other = followups.compose_next_round(store, branch="Brackenhurst", as_of="2020-04-20")
    assert set(_reasons(other, store)) == {"SYN11"}
    later = followups.compose_next_round(store, branch="Ashcombe", as_of="2020-06-01")
    assert "SYN10" not in _reasons(later, store) and len(later.rows) == 7


def test_next_round_for_a_ward_leaves_other_wards_out(shared):
    """A ward's next round lists only that ward's unreached and due members."""
    composed = followups.compose_next_round(shared, branch="Ashcombe", ward="Kings Park", as_of="2020-04-20")
    assert set(_reasons(composed, shared)) == {"SYN01", "SYN06"}


def test_next_round_refuses_an_unknown_branch_or_ward(shared):
    """A misspelt branch or ward is refused, not answered with an empty list."""
    with pytest.raises(InputError, match='Unknown branch "Atlantis"'):
        followups.compose_next_round(shared, branch="Atlantis")
    with pytest.raises(InputError, match='Unknown ward "Atlantis"'):
        followups.compose_next_round(shared, ward="Atlantis")


def test_next_round_names_a_misspelt_branch_or_ward_before_anything_else(shared):
    """A misspelt branch or ward is the first thing reported, even when the date is bad too."""
    for where in ({"branch": "Atlantis"}, {"ward": "Atlantis"}):
        with pytest.raises(InputError, match='Unknown (branch|ward) "Atlantis"'):
            followups.compose_next_round(shared, as_of="not a date", **where)


def test_unreached_and_due_a_check_in_is_listed_once_as_unreached(store):
    """Someone both unreached this round and due a check-in is listed once, as not reached."""
    una = _key(store, "SYN11")
    store.execute("INSERT INTO calls VALUES ('CL9001', ?, 'R0', 'C0001', ?, 'answered', 4, FALSE, NULL, "
                  "FALSE, NULL, NULL, NULL)", [una, datetime(2020, 1, 6)])
    composed = followups.compose_next_round(store, as_of="2020-04-20")
    assert composed.rows["member_key"].tolist().count(una) == 1
    assert _reasons(composed, store)["SYN11"] == "not reached after 3 attempts"


def test_nobody_for_the_next_round_says_where(store, tmp_path):
    """An empty next round is refused, naming the branch when one was given."""
    with pytest.raises(InputError) as refused:
        _next_round(store, tmp_path, branch="Brackenhurst")
    assert str(refused.value) == (
        "Nobody to put on a list for the next round in branch Brackenhurst (left out: none); "
        "no list was made.")
    store.execute("DELETE FROM calls")
    with pytest.raises(InputError) as refused:
        _next_round(store, tmp_path)
    assert str(refused.value) == (
        "Nobody to put on a list for the next round (left out: none); no list was made.")


def test_a_printed_next_round_numbers_its_rows(store, tmp_path):
    """A printed (html) next-round list starts with a Row column numbered from 1."""
    page = _next_round(store, tmp_path, "r2.html").path.read_text(encoding="utf-8")
    cols, heads = _columns(page)
    assert heads == ["Row", "Membership Number", "First Name", "Last Name", "Phone", "Ward", "Reason"]
    assert re.findall(r'<td class="rownum"><bdi>(\d+)</bdi>', page) == ["1", "2", "3"]
    csv_rows = read_returned(_next_round(store, tmp_path, "r2.csv").path, header_first="Membership Number")[0]
    assert "Row" not in csv_rows


NEXT_ROUND_COLUMNS = ["member_key", "ward", "reason", "first_name", "last_name", "phone", "membership_number"]


def test_next_round_rows_carry_exactly_the_identity_the_calling_tool_needs(shared):
    """Composed next-round rows hold the key, ward, reason and the caller's identity columns, nothing more."""
    rows = followups.compose_next_round(shared, as_of="2020-04-20").rows
    assert sorted(rows.columns) == sorted(NEXT_ROUND_COLUMNS)
    assert rows.index.tolist() == list(range(len(rows)))


def test_next_round_defaults_are_three_attempts_28_days_and_wellbeing_two(shared):
    """By default: unreached after 3 attempts, due 28 days after the last answer, priority at wellbeing 2."""
    composed = followups.compose_next_round(shared, as_of=WHEN + timedelta(days=28, hours=1))
    due = "check-in due (last spoke over 28 days ago)"
    assert _reasons(composed, shared) == {
        "SYN01": "priority check-in", "SYN06": "priority check-in", "SYN11": "not reached after 3 attempts",
        "SYN02": due, "SYN03": due, "SYN04": due, "SYN05": due, "SYN07": due, "SYN10": due}


def test_an_opted_out_unreached_member_is_counted_not_listed(store):
    """An unreached member who opted out is left off the next round and counted as opted out."""
    from workbench.privacy import optouts

    optouts.add(store, actor="dp", reason="asked_not_to_be_called", membership_number="SYN11")
    composed = followups.compose_next_round(store, as_of="2020-04-20")
    assert set(_reasons(composed, store)) == {"SYN01", "SYN06"}
    assert composed.excluded == {"opted out": 1}


def test_next_round_for_an_earlier_round_judges_that_round(store, tmp_path):
    """A next round built from an earlier round lists who was unreached in that round, and records it."""
    una = _key(store, "SYN11")
    store.execute("INSERT INTO calls VALUES ('CL9001', ?, 'R0', 'C0001', ?, 'answered', 4, FALSE, NULL, "
                  "FALSE, NULL, NULL, NULL)", [una, datetime(2020, 1, 6)])
    done = _next_round(store, tmp_path, round="R0", attempts=2)
    rows = {r[1][0]: r[1][5] for r in read_returned(done.path, header_first="Membership Number")[1]}
    assert rows == {"SYN01": "priority check-in", "SYN06": "priority check-in",
                    "SYN11": "check-in due (last spoke over 28 days ago)"}
    assert registry.get(store, done.list_id).filters["round"] == "R0"


def test_next_round_file_names_the_attempts_asked_for(store, tmp_path):
    """The reason on a next-round list says how many attempts were made, as asked."""
    done = _next_round(store, tmp_path, attempts=2)
    rows = {r[1][0]: r[1][5] for r in read_returned(done.path, header_first="Membership Number")[1]}
    assert rows["SYN11"] == "not reached after 2 attempts"


def test_next_round_defaults_are_recorded_in_the_registry(store, tmp_path):
    """A next round made with the default rules records them (3 attempts, 28 days, wellbeing 2)."""
    done = followups.next_round(store, purpose="round 2", recipient="calling team", out=tmp_path / "r2.xlsx",
                                actor="ana", as_of="2020-04-20")
    assert registry.get(store, done.list_id).filters == {
        "branch": None, "ward": None, "round": None, "attempts": 3, "checkin_after_days": 28,
        "wellbeing_at_most": 2}
    assert done.passphrase and done.record.row_count == 3


def test_next_round_never_overwrites_unless_forced(store, tmp_path):
    """A next-round list refuses an existing file, and replaces it only with force."""
    old = tmp_path / "r2.csv"
    old.write_text("an old list")
    with pytest.raises(InputError, match="already exists"):
        _next_round(store, tmp_path)
    assert old.read_text() == "an old list"
    done = _next_round(store, tmp_path, force=True)
    assert "SYN11" in done.path.read_text(encoding="utf-8-sig") and registry.get(store, done.list_id)


def test_next_round_blank_identity_cells_stay_blank(store, tmp_path):
    """A missing first name, last name or ward is a blank cell on a next-round list."""
    una = _key(store, "SYN11")
    store.execute("UPDATE identities SET first_name = NULL, last_name = NULL WHERE member_key = ?", [una])
    store.execute("UPDATE members SET ward = NULL WHERE member_key = ?", [una])
    done = _next_round(store, tmp_path)
    rows = {r[1][0]: r[1] for r in read_returned(done.path, header_first="Membership Number")[1]}
    assert rows["SYN11"][1:3] == ["", ""] and rows["SYN11"][4] == ""


def test_an_export_narrowed_by_ward_and_limit_lists_that_wards_most_urgent(store, tmp_path):
    """export passes ward, category and limit on: the list holds exactly the people they pick."""
    done = _export(store, tmp_path, "csv", ward="Wren Green", limit=2)
    keys = [r[0] for r in store.execute("SELECT member_key FROM list_members WHERE list_id = ? "
                                        "ORDER BY row_number", [done.list_id]).fetchall()]
    assert keys == _keys(store, "SYN05", "SYN03")
    other = _export(store, tmp_path, "csv", out=tmp_path / "housing.csv", category="housing")
    assert other.record.row_count == 1 and other.record.filters["category"] == "housing"


def test_an_export_orders_by_days_waited_to_as_of(store, tmp_path):
    """Days waiting count to the as_of given: a need waiting five days longer moves up the list."""
    store.execute("UPDATE calls SET called_at = called_at - INTERVAL 5 DAY WHERE member_key = ?",
                  [_key(store, "SYN02")])
    done = _export(store, tmp_path, "csv", as_of=WHEN + timedelta(days=1))
    assert _csv_rows(done.path)[1]["First Name"] == '=HYPERLINK("http://x","click")'


def test_a_number_typed_over_a_protected_cell_is_caught_on_return(store, tmp_path):
    """A returned list with a number over a first name is refused as changed, naming row and column."""
    from tests.lists.test_followups import _edit
    from workbench.lists import returns

    done = _export(store, tmp_path)
    bad = _edit(done.path, tmp_path / "returned.xlsx", 2, "First Name", 42)
    with pytest.raises(InputError) as refused:
        returns.import_results(store, bad, actor="ana")
    assert "row 11, column First Name: differs from the list as issued" in str(refused.value)
    assert "Alice" not in str(refused.value)


def test_a_number_written_into_a_blank_protected_cell_is_caught_on_return(store, tmp_path):
    """A first name left blank on the list and returned holding a number is refused as changed."""
    from tests.lists.test_followups import _edit
    from workbench.lists import returns

    store.execute("UPDATE identities SET first_name = NULL WHERE membership_number = 'SYN01'")
    done = _export(store, tmp_path)
    bad = _edit(done.path, tmp_path / "returned.xlsx", 1, "First Name", 7)
    with pytest.raises(InputError) as refused:
        returns.import_results(store, bad, actor="ana")
    assert "row 10, column First Name: differs from the list as issued" in str(refused.value)


@needs_chromium
def test_a_printed_pdf_next_round_numbers_its_rows(store, tmp_path):
    """A next-round PDF, like the printed html, starts with a Row column numbered from 1."""
    import shutil
    import subprocess

    import pikepdf

    done = _next_round(store, tmp_path, "r2.pdf", unprotected=None)
    plain = tmp_path / "opened.pdf"
    with pikepdf.open(done.path, password=done.passphrase) as pdf:
        pdf.save(plain)
    text = subprocess.run([shutil.which("pdftotext"), "-layout", str(plain), "-"], check=True,
                          capture_output=True, text=True).stdout
    header = next(line for line in text.splitlines() if "Phone" in line and "Reason" in line)
    assert header.split()[0] == "Row"
    assert [line.split()[0] for line in text.splitlines() if "SYN" in line] == ["1", "2", "3"]


def test_a_branch_list_keeps_the_queue_order_with_identities_beside_the_right_people(synthetic_con):
    """Every branch's list is its triage queue in order, less the people with no phone, and each row's
    first name and phone are that member's own (the identity join must not reorder or mismatch)."""
    con = synthetic_con
    identity = {k: (first, phone) for k, first, phone in
                con.execute("SELECT member_key, first_name, phone FROM identities").fetchall()}
    branches = [b for (b,) in con.execute("SELECT DISTINCT branch FROM members ORDER BY 1").fetchall()]
    checked = 0
    for branch in branches:
        queue = needs.queue(con, branch=branch)["member_key"].tolist()
        rows = followups.compose(con, branch=branch).rows
        with_phone = [k for k in queue if (identity.get(k) or (None, None))[1]]
        assert rows["member_key"].tolist() == with_phone
        assert [identity[k] for k in with_phone] == list(zip(rows["first_name"], rows["phone"], strict=True))
        checked += len(with_phone)
    assert checked > 10  # the tiny organisation has people in need across its branches
