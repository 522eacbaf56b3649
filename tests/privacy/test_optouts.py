"""The opt-out register and the one choke point, `optouts.suppress`.

Hand-made members pin exact answers; a hypothesis test runs random sequences of imports,
opt-outs, withdrawals, erasures and retention runs; a source scan proves no list path bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from conftest import PASSPHRASE
from dp_helpers import add_call, add_member, keys_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import privacy
from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest import optout_lists
from workbench.privacy import optouts, pseudonymise, retention
from workbench.store import db

PHONE_A, PHONE_B, PHONE_C = "07700 900001", "07700 900002", "07700 900003"


@pytest.fixture
def three(con):
    """Three members: A and B share a phone (a household), C has their own."""
    return {"A": add_member(con, "SYN0000001", PHONE_A), "B": add_member(con, "SYN0000002", PHONE_A),
            "C": add_member(con, "SYN0000003", PHONE_C)}


def people(keys) -> pd.DataFrame:
    return pd.DataFrame({"member_key": list(keys), "row": range(len(keys))})


def kept_keys(con, keys, scope="calls") -> set[str]:
    return set(optouts.suppress(con, people(keys), scope=scope).kept["member_key"])


# --- suppress ------------------------------------------------------------------------------------

def test_suppress_keeps_everyone_when_the_register_is_empty(con, three):
    frame = people(three.values())
    result = optouts.suppress(con, frame)
    assert list(result.kept.columns) == ["member_key", "row"]
    assert len(result.kept) == 3 and result.excluded == {}
    assert result.kept is not frame


def test_opt_out_suppresses_the_member_and_their_phone_number(con, three):
    optouts.add(con, actor="ana", reason="asked not to be called", membership_number="SYN0000001")
    frame = people(three.values())
    result = optouts.suppress(con, frame)
    # B shares A's number, so a phone opt-out keeps B's phone from ringing too.
    assert set(result.kept["member_key"]) == {three["C"]}
    assert result.excluded == {"opted out": 2}
    assert len(frame) == 3, "the input must not be changed"


def test_erased_and_deceased_are_left_out_with_their_own_reasons(con, three):
    con.execute("UPDATE members SET erased_at = now() WHERE member_key = ?", [three["A"]])
    add_call(con, "c1", three["C"], "deceased_moved", called_at=datetime(2020, 4, 2))
    result = optouts.suppress(con, people(three.values()))
    assert set(result.kept["member_key"]) == {three["B"]}
    assert result.excluded == {"erased": 1, "deceased or moved": 1}


def test_only_the_latest_call_decides_deceased_or_moved(con, three):
    add_call(con, "c1", three["C"], "deceased_moved", called_at=datetime(2020, 4, 2))
    add_call(con, "c2", three["C"], "answered", called_at=datetime(2020, 5, 2))
    assert three["C"] in kept_keys(con, three.values())


def test_rows_without_a_member_key_are_left_out_and_counted(con, three):
    frame = pd.DataFrame({"member_key": [three["C"], None]})
    result = optouts.suppress(con, frame)
    assert result.kept["member_key"].tolist() == [three["C"]]
    assert result.excluded == {"no member key": 1}


@pytest.mark.parametrize(("optout_scope", "list_scope", "suppressed"), [
    ("calls", "calls", True), ("all", "calls", True), ("calls", "other", False), ("all", "other", True),
    ("calls", "all", True)])
def test_scope_of_the_opt_out_against_the_kind_of_list(con, three, optout_scope, list_scope, suppressed):
    optouts.add(con, actor="ana", reason="other", scope=optout_scope, membership_number="SYN0000003")
    assert (three["C"] not in kept_keys(con, [three["C"]], scope=list_scope)) is suppressed


@pytest.mark.parametrize(("frame", "scope", "message"), [
    (pd.DataFrame({"id": [1]}), "calls", "member_key column"),
    (pd.DataFrame({"member_key": ["x"]}), "sms", "Unknown list scope"),
])
def test_suppress_refuses_what_it_cannot_check(con, frame, scope, message):
    with pytest.raises(InputError, match=message):
        optouts.suppress(con, frame, scope=scope)


# --- the register --------------------------------------------------------------------------------

def test_do_not_call_outcomes_land_on_the_register_once(con, three):
    add_call(con, "c1", three["C"], "do_not_call")
    add_call(con, "c2", three["A"], "answered")
    assert optouts.record_from_calls(con, actor="ingest") == 1
    assert optouts.record_from_calls(con, actor="ingest") == 0
    register = optouts.register(con)
    assert register[["member_key", "source", "reason"]].values.tolist() == [
        [three["C"], "call", "asked_not_to_be_called"]]


def test_a_withdrawn_call_opt_out_is_not_revived_by_reimporting_the_calls(con, three):
    add_call(con, "c1", three["C"], "do_not_call")
    optouts.record_from_calls(con, actor="ingest", call_ids=["c1"])
    optouts.withdraw(con, actor="ana", reason="re_consented", membership_number="SYN0000003")
    assert optouts.record_from_calls(con, actor="ingest", call_ids=["c1"]) == 0
    assert three["C"] in kept_keys(con, three.values())


def test_withdrawal_keeps_history_and_restores_the_member(con, three):
    optouts.add(con, actor="ana", reason="complaint", membership_number="SYN0000003")
    assert three["C"] not in kept_keys(con, three.values())
    optouts.withdraw(con, actor="bob", reason="re consented", membership_number="SYN0000003")
    assert three["C"] in kept_keys(con, three.values())
    history = optouts.register(con, member_key=three["C"])
    assert history[["reason", "status", "withdrawn_by", "withdrawal_reason"]].values.tolist() == [
        ["complaint", "withdrawn", "bob", "re_consented"]]
    assert optouts.register(con, include_withdrawn=False).empty


def test_adding_twice_changes_nothing(con, three):
    first = optouts.add(con, actor="ana", reason="other", membership_number="SYN0000003")
    second = optouts.add(con, actor="ana", reason="other", member_key=three["C"])
    assert first.changed and not second.changed
    assert len(optouts.register(con)) == 1


def test_the_register_never_shows_a_number_or_a_hash(con, three):
    optouts.add(con, actor="ana", reason="other", phone=PHONE_C)
    register = optouts.register(con)
    assert not {"phone", "phone_hash", "membership_hash", "membership_number"} & set(register.columns)
    # The numbers as given or as stored (E.164), never "7700" alone: a random id or a timestamp's
    # microseconds can hold those four digits.
    shown = register.astype(str).apply(lambda c: c.str.contains("7700 ?900|SYN", regex=True))
    assert not shown.any().any()


def test_every_change_is_audited(con, three):
    optouts.add(con, actor="ana", reason="other", membership_number="SYN0000003")
    optouts.withdraw(con, actor="ana", reason="other", membership_number="SYN0000003")
    assert privacy.log(con)["action"].tolist() == ["optout.withdraw", "optout.add"]
    assert privacy.verify(con).ok


# --- bulk import ---------------------------------------------------------------------------------

def write_xlsx(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_excel(path, index=False, engine="xlsxwriter")
    return path


def test_bulk_import_stores_unmatched_entries_that_suppress_later_arrivals(con, three, tmp_path):
    path = write_xlsx(tmp_path / "paper.xlsx", [
        {"Phone": PHONE_C, "Membership Number": ""},          # matches C
        {"Phone": "", "Membership Number": "syn 0000099"},    # nobody yet
        {"Phone": PHONE_B, "Membership Number": ""},          # nobody yet
    ])
    result = optout_lists.import_file(con, path, actor="ana")
    assert (result.entries, result.matched_members, result.unmatched_entries) == (3, 1, 2)
    late = [add_member(con, "SYN0000099", "07700 900099"), add_member(con, "SYN0000100", PHONE_B)]
    assert kept_keys(con, [*three.values(), *late]) == {three["A"], three["B"]}


def test_importing_the_same_file_again_changes_nothing(con, three, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("Phone\n07700 900003\n", encoding="utf-8")
    optout_lists.import_file(con, path, actor="ana")
    again = optout_lists.import_file(con, path, actor="ana")
    assert again.already_imported and len(optouts.register(con)) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("Phone\n07700 900003\nnot a phone\n", 'row 3, column "Phone": not a UK phone number'),
    ("Name\nPat\n", "no Phone or Membership Number column"),
    ("Phone,Reason\n07700 900003,because\n", "row 2, column Reason"),
])
def test_a_bad_import_names_row_and_column_and_stores_nothing(con, three, tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)) as error:
        optout_lists.import_file(con, path, actor="ana")
    assert "not a phone" not in str(error.value) and "because" not in str(error.value)
    assert optouts.register(con).empty
    assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 0


# --- CLI -----------------------------------------------------------------------------------------

@pytest.fixture
def cli_store(store_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("WORKBENCH_USER", "ana")
    with db.session(store_path, PASSPHRASE) as con:
        add_member(con, "SYN0000003", PHONE_C)
    return store_path


@pytest.mark.parametrize(("args", "message"), [
    (["--member-key", "0123456789abcdef", "--reason", "other"], "No member has that member key"),
    (["--phone", "12345", "--reason", "other"], "--phone is not a UK phone number"),
    (["--membership-number", "SYN0000003"], "--reason is missing"),
    (["--membership-number", "SYN0000003", "--reason", "bored"], '--reason "bored" is not one of'),
    (["--reason", "other"], "Name the member one way"),
])
def test_cli_bad_input_is_one_clear_line_and_changes_nothing(cli_store, capsys, args, message):
    rc = main(["optout", "add", "--db", str(cli_store), *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and "Traceback" not in err and err.count("\n") == 1
    assert "12345" not in err
    with db.session(cli_store, PASSPHRASE, read_only=True) as con:
        assert optouts.register(con).empty


@pytest.mark.parametrize("given", [{"phone": "07700 900777"}, {"membership_number": "SYN0000099"}])
def test_an_opt_out_for_someone_not_yet_held_waits_for_them(con, given):
    change = optouts.add(con, actor="ana", reason="asked not to be called", **given)
    assert change.changed and "kept" in change.message
    assert optouts.add(con, actor="ana", reason="other", **given).changed is False  # once is enough
    add_member(con, "SYN0000099", "07700 900777")  # arrives later, by import
    key = pseudonymise.member_keys(con, ["SYN0000099"])[0]
    result = optouts.suppress(con, people([key]))
    assert result.kept.empty and result.excluded == {"opted out": 1}


def test_cli_add_list_withdraw(cli_store, capsys):
    assert main(["optout", "add", "--db", str(cli_store), "--phone", PHONE_C, "--reason", "complaint"]) == 0
    assert main(["optout", "withdraw", "--db", str(cli_store), "--phone", PHONE_C, "--reason", "other"]) == 0
    assert main(["optout", "list", "--db", str(cli_store), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "complaint" in out and "withdrawn" in out and "7700" not in out


# --- property: an active opt-out never reaches a list --------------------------------------------

NUMBERS = [f"SYN00001{i:02d}" for i in range(6)]
PHONES = [f"07700 9001{i:02d}" for i in range(4)]  # fewer phones than people: some share
OPS = st.one_of(
    st.tuples(st.just("import"), st.sampled_from(NUMBERS), st.sampled_from(PHONES)),
    st.tuples(st.just("optout"), st.sampled_from(NUMBERS), st.booleans()),
    st.tuples(st.just("withdraw"), st.sampled_from(NUMBERS), st.booleans()),
    st.tuples(st.just("erase"), st.sampled_from(NUMBERS), st.booleans()),
    st.tuples(st.just("bulk_phone"), st.sampled_from(PHONES), st.booleans()),
    st.tuples(st.just("call"), st.sampled_from(NUMBERS), st.sampled_from(["answered", "do_not_call",
                                                                          "deceased_moved"])),
    st.tuples(st.just("retention"), st.just(""), st.booleans()),
)


@pytest.fixture(scope="module")
def property_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("property") / "template.duckdb"
    db.init_store(path, PASSPHRASE)
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=12))
def test_no_sequence_of_operations_lets_an_active_opt_out_onto_a_list(property_store, tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("run") / "store.duckdb"
    path.write_bytes(property_store.read_bytes())
    with db.session(path, PASSPHRASE) as con:
        for op in ops:
            _apply(con, tmp_path_factory, *op)
            _assert_nobody_opted_out_is_kept(con)


def _apply(con, tmp_path_factory, kind: str, target: str, flag) -> None:
    try:
        if kind == "import":  # an import or re-import of the member, possibly with a new phone
            add_member(con, target, flag)
        elif kind == "call":
            key = pseudonymise.member_keys(con, [target])[0]
            # Not count(*): erasure and retention delete calls, and a reused id would collide.
            call_id = f"c{secrets.token_hex(4)}"
            add_call(con, call_id, key, flag, called_at=datetime(2020, 4, 1, 10, 5))
            optouts.record_from_calls(con, actor="p", call_ids=[call_id])
        elif kind == "optout":
            optouts.add(con, actor="p", reason="other", scope="all" if flag else "calls",
                        membership_number=target)
        elif kind == "withdraw":
            optouts.withdraw(con, actor="p", reason="other", membership_number=target)
        elif kind == "erase":
            privacy.erase(con, actor="p", reason="other", membership_number=target)
        elif kind == "bulk_phone":
            csv = tmp_path_factory.mktemp("bulk") / "phones.csv"
            csv.write_text(f"Phone\n{target}\n", encoding="utf-8")
            optout_lists.import_file(con, csv, actor="p")
        else:
            retention.apply(con, actor="p", older_than_days=1)
    except InputError:
        pass  # unknown member, nothing to withdraw, already erased: refused and nothing changed


# Independent of suppress(): every member matched by an active entry, by key or by either hash.
ACTIVE_MATCHES = """
SELECT DISTINCT m.member_key FROM members m LEFT JOIN identities i USING (member_key)
JOIN optouts o ON o.withdrawn_at IS NULL AND (o.member_key = m.member_key
     OR o.phone_hash = i.phone_hash OR o.membership_hash = i.membership_hash)
"""


ERASED = "SELECT member_key FROM members WHERE erased_at IS NOT NULL"


def _assert_nobody_opted_out_is_kept(con) -> None:
    opted = {r[0] for r in con.execute(ACTIVE_MATCHES).fetchall()}
    kept = set(optouts.suppress(con, people(keys_of(con)), scope="all").kept["member_key"])
    assert not opted & kept
    erased = {r[0] for r in con.execute(ERASED).fetchall()}
    assert not erased & kept


def test_reimporting_an_erased_member_does_not_put_them_back_on_a_list(con, three):
    privacy.erase(con, actor="ana", reason="subject_request", membership_number="SYN0000003")
    # The worst a careless re-import could do: recreate the identity and clear erased_at.
    add_member(con, "SYN0000003", PHONE_C)
    assert three["C"] not in {r[0] for r in con.execute(ERASED).fetchall()}
    assert three["C"] not in kept_keys(con, three.values(), scope="other")


# --- no list path bypasses suppress ---------------------------------------------------------------

READS_IDENTITIES = re.compile(r"\b(FROM|JOIN)\s+identities\b", re.IGNORECASE)
# Modules allowed to read identities, and why. Those marked True make lists of people and must
# route them through optouts.suppress; a new module that reads identities fails this test until
# it is reviewed and added here.
ALLOWED = {
    "privacy/optouts.py": False,          # suppression itself matches on identity hashes
    "ingest/optout_lists.py": False,      # matching bulk register entries to members
    "privacy/subjects.py": False,         # finding one person for an opt-out, subject access or erasure
    "privacy/subject_access.py": False,   # Art. 15: the person's own data, to them
    "ingest/members.py": False,           # writing identities from a member export
    "ingest/formats.py": False,           # matching call-export rows to members by another id or phone
    "reports/disclosure.py": False,       # scanning an outgoing file for names; produces no list
    "privacy/masking.py": False,          # masking members' names in typed-in text; produces no list
    "lists/registry.py": True,            # issuing lists
    "lists/breach.py": False,             # who was on a lost list, for the data-protection team only
    "lists/followups.py": True,           # branch follow-up lists
}


def test_no_module_reads_identities_without_going_through_suppress():
    package = Path(__file__).resolve().parents[2] / "workbench"
    sources = {p.relative_to(package).as_posix(): p.read_text(encoding="utf-8")
               for p in sorted(package.rglob("*.py"))}
    readers = {name: text for name, text in sources.items() if READS_IDENTITIES.search(text)}
    unreviewed = sorted(set(readers) - set(ALLOWED))
    assert not unreviewed, f"unreviewed identity readers (route lists through optouts.suppress): {unreviewed}"
    for name, makes_lists in ALLOWED.items():
        if makes_lists and name in readers:
            assert "optouts.suppress(" in readers[name], f"{name} makes lists but never calls suppress"


WRITES_REGISTER = re.compile(r"INSERT\s+INTO\s+optouts|UPDATE\s+optouts", re.I)


def test_only_the_optouts_module_writes_the_register():
    package = Path(__file__).resolve().parents[2] / "workbench"
    writers = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py")
                     if WRITES_REGISTER.search(p.read_text(encoding="utf-8")))
    assert writers == ["privacy/optouts.py"]


# --- with the real ingest, on the tiny synthetic organisation -------------------------------------

def test_suppression_holds_after_erasure_and_reimport_of_the_original_files(con, tiny_org, tmp_path):
    from workbench import ingest, synthetic

    synthetic.write_exports(tiny_org, tmp_path, "csv")
    members, calls = tmp_path / "members.csv", tmp_path / "call_outcomes.csv"
    ingest.import_members(con, members, actor="ana")
    ingest.import_calls(con, calls, actor="ana")
    everyone = people(keys_of(con))
    stopped = {r[0] for r in con.execute("SELECT member_key FROM optouts WHERE source = 'call'").fetchall()}
    assert stopped and not stopped & set(optouts.suppress(con, everyone).kept["member_key"])

    # Two members not yet opted out (member_key order is random per store, so choose among them).
    numbers = con.execute("SELECT membership_number FROM identities WHERE NOT list_contains(?, member_key) "
                          "ORDER BY member_key LIMIT 2", [sorted(stopped)]).fetchall()
    privacy.erase(con, actor="ana", reason="subject_request", membership_number=numbers[0][0])
    optouts.add(con, actor="ana", reason="complaint", membership_number=numbers[1][0])
    gone = {r[0] for r in con.execute("SELECT member_key FROM optouts WHERE source IN ('erasure', 'manual')")
            .fetchall()}

    for path in (members, calls):  # the same rows again, as a new file (different bytes, same people)
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    ingest.import_members(con, members, actor="ana")
    ingest.import_calls(con, calls, actor="ana")
    kept = set(optouts.suppress(con, people(keys_of(con))).kept["member_key"])
    assert len(gone) == 2 and not (gone | stopped) & kept


def _members_with_first_number(tiny_org, folder: Path, number: str) -> Path:
    """The tiny organisation's members.csv, its first member's number written as `number`."""
    from workbench import synthetic

    synthetic.write_exports(tiny_org, folder, "csv")
    members = folder / "members.csv"
    frame = pd.read_csv(members, dtype=str, keep_default_na=False)
    frame.loc[0, "Membership Number"] = number
    frame.to_csv(members, index=False)
    return members


@pytest.mark.parametrize("held, stored, typed", [
    ("ßyn0000041", "ẞYN0000041", "ßyn0000041"),  # DuckDB upper-cases ß as ẞ; Python as SS
    ("ßyn0000041", "ẞYN0000041", "ẞYN0000041"),
    ("SYN\u00a00000042", "SYN0000042", "syn 0000042"),  # a no-break space, as spreadsheets paste it
    ("SYN\u200b0000043", "SYN0000043", "SYN0000043"),  # an invisible zero-width space
])
def test_a_number_typed_as_the_file_had_it_reaches_the_imported_member(con, tiny_org, tmp_path, held,
                                                                         stored, typed):
    # The import normalised numbers in DuckDB and lookups in Python, which upper-case 'ß' differently:
    # an opt-out by number said "kept for when they arrive" while the member stayed on every list.
    from workbench import ingest
    from workbench.privacy import subjects

    ingest.import_members(con, _members_with_first_number(tiny_org, tmp_path, held), actor="ana")
    [(key,)] = con.execute("SELECT member_key FROM identities WHERE membership_number = ?",
                           [stored]).fetchall()
    assert subjects.find(con, membership_number=typed).member_key == key
    optouts.add(con, actor="ana", reason="complaint", membership_number=typed)
    assert key not in kept_keys(con, keys_of(con))


def test_a_number_opted_out_before_the_member_arrives_stops_them_when_imported(con, tiny_org, tmp_path):
    from workbench import ingest

    optouts.add(con, actor="ana", reason="complaint", membership_number="syn 0000042")
    members = _members_with_first_number(tiny_org, tmp_path, "SYN\u00a00000042")
    ingest.import_members(con, members, actor="ana")
    [(key,)] = con.execute("SELECT member_key FROM identities WHERE membership_number = 'SYN0000042'"
                           ).fetchall()
    assert key not in kept_keys(con, keys_of(con))


def test_one_register_reading_can_serve_several_lists(con, three):
    optouts.add(con, actor="ana", reason="asked not to be called", membership_number="SYN0000001")
    reading = optouts.flagged(con)
    frame = people(three.values())
    shared = optouts.suppress(con, frame, flagged_now=reading)
    fresh = optouts.suppress(con, frame)
    pd.testing.assert_frame_equal(shared.kept, fresh.kept)
    assert shared.excluded == fresh.excluded == {"opted out": 2}


# --- what each change tells the person making it, and what the audit trail keeps ---------------------

def last_audit(con) -> dict:
    """The newest audit entry, its counts parsed: what an auditor reads back."""
    entry = privacy.log(con, limit=1).iloc[0].to_dict()
    entry["counts"] = json.loads(entry["counts"]) if entry["counts"] else None
    return entry


OPT_ID = re.compile(r"opt-[A-Z]{12}")  # random letters: nothing to guess a person from


@pytest.mark.parametrize(("given", "what"), [({"phone": "07700 900777"}, "phone number"),
                                             ({"membership_number": "SYN0000099"}, "membership number")])
def test_an_opt_out_for_someone_not_yet_held_says_so_and_audits_no_member(con, given, what):
    change = optouts.add(con, actor="ana", reason="complaint", scope="all", **given)
    (optout_id,) = change.optout_ids
    assert OPT_ID.fullmatch(optout_id) and change.changed
    assert change.message == (f"Added {optout_id} (scope all, reason complaint). No member has that {what} "
                              "yet; it is kept, so anyone who arrives with it will not be called.")
    entry = last_audit(con)
    assert (entry["action"], entry["actor"], entry["object_id"]) == ("optout.add", "ana", optout_id)
    assert entry["counts"] == {"added": 1, "matched": 0, "scope": "all", "reason": "complaint",
                               "source": "manual"}
    assert entry["member_digest"] is None  # nobody is named, not even by digest
    row = optouts.register(con).iloc[0]
    assert (row["member_key"], row["scope"], row["reason"], row["source"], row["recorded_by"]) == (
        None, "all", "complaint", "manual", "ana")
    # A scope "all" entry already covers calls: asking again for calls changes nothing.
    again = optouts.add(con, actor="bob", reason="other", scope="calls", **given)
    assert (again.optout_ids, again.changed) == ((optout_id,), False)
    assert again.message == "Already on the opt-out register; nothing changed."
    assert len(optouts.register(con)) == 1 and last_audit(con)["actor"] == "ana"


def test_adding_for_a_member_says_what_was_added_and_audits_who_by_digest_only(con, three):
    change = optouts.add(con, actor="ana", reason="moved away", scope="calls", member_key=three["C"],
                         source="call")
    (optout_id,) = change.optout_ids
    assert change.message == f"Added {optout_id} (scope calls, reason moved_away)."
    entry = last_audit(con)
    assert (entry["action"], entry["object_id"]) == ("optout.add", optout_id)
    assert entry["counts"] == {"added": 1, "scope": "calls", "reason": "moved_away", "source": "call"}
    assert entry["member_digest"] == privacy.member_digest([three["C"]])
    # Scope "all" goes further than the "calls" entry, so it is a new entry; then "calls" is covered.
    wider = optouts.add(con, actor="ana", reason="other", scope="all", membership_number="SYN0000003")
    assert wider.changed and len(optouts.register(con)) == 2
    assert optouts.add(con, actor="ana", reason="other", phone=PHONE_C).changed is False


def test_withdrawing_says_how_many_entries_and_audits_counts_only(con, three):
    optouts.add(con, actor="ana", reason="complaint", membership_number="SYN0000003")
    one = optouts.withdraw(con, actor="bob", reason="re consented", member_key=three["C"])
    assert one.changed and one.message == "Withdrew 1 register entry."
    assert one.optout_ids == tuple(optouts.register(con)["optout_id"])
    entry = last_audit(con)
    assert (entry["action"], entry["actor"]) == ("optout.withdraw", "bob")
    assert entry["counts"] == {"withdrawn": 1, "reason": "re_consented"}
    assert entry["member_digest"] == privacy.member_digest([three["C"]])

    optouts.add(con, actor="ana", reason="complaint", scope="calls", membership_number="SYN0000003")
    optouts.add(con, actor="ana", reason="complaint", scope="all", phone=PHONE_C)
    two = optouts.withdraw(con, actor="bob", reason="recorded in error", membership_number="SYN0000003")
    assert two.message == "Withdrew 2 register entries." and len(two.optout_ids) == 2
    assert last_audit(con)["counts"] == {"withdrawn": 2, "reason": "recorded_in_error"}
    with pytest.raises(InputError) as nothing:
        optouts.withdraw(con, actor="bob", reason="other", member_key=three["C"])
    assert str(nothing.value) == ("No active opt-out matches; nothing changed. "
                                  "See the register with: workbench optout list")
    with pytest.raises(InputError) as bad:
        optouts.withdraw(con, actor="bob", reason="bored", member_key=three["C"])
    assert str(bad.value) == '--reason "bored" is not one of: re_consented, recorded_in_error, other.'


def test_members_an_import_marks_do_not_call_go_on_the_register_once_per_file(con, three):
    sha, later_sha = "ab" * 32, "cd" * 32
    assert optouts.record_from_import(con, actor="ingest", member_keys=[three["A"], three["C"], three["C"]],
                                      sha256=sha) == 2
    register = optouts.register(con).sort_values("member_key")
    assert sorted(register["member_key"]) == sorted([three["A"], three["C"]])
    assert set(register["source"]) == {"import"} and set(register["reason"]) == {"asked_not_to_be_called"}
    assert set(register["scope"]) == {"calls"} and set(register["recorded_by"]) == {"ingest"}
    assert all(re.fullmatch(r"import-[0-9a-f]{24}", i) for i in register["optout_id"])
    entry = last_audit(con)
    assert (entry["action"], entry["actor"]) == ("optout.add", "ingest")
    assert entry["object_id"] == f"import:{sha[:16]}"
    assert entry["counts"] == {"added": 2, "source": "import", "sha256": sha}
    assert entry["member_digest"] == privacy.member_digest([three["A"], three["C"]])
    assert kept_keys(con, three.values()) == set()  # B shares A's phone
    entries = len(privacy.log(con))

    # The same file again adds nothing, and neither does another file for a member already opted out.
    assert optouts.record_from_import(con, actor="ingest", member_keys=[three["A"]], sha256=sha) == 0
    assert optouts.record_from_import(con, actor="ingest", member_keys=[three["C"]], sha256=later_sha) == 0
    assert len(privacy.log(con)) == entries and len(optouts.register(con)) == 2
    # Once withdrawn, a later file marking them again puts them back; the same file does not.
    optouts.withdraw(con, actor="ana", reason="re_consented", member_key=three["C"])
    assert optouts.record_from_import(con, actor="ingest", member_keys=[three["C"]], sha256=sha) == 0
    assert optouts.record_from_import(con, actor="ingest", member_keys=[three["C"]], sha256=later_sha) == 1
    assert three["C"] not in kept_keys(con, three.values())


def test_do_not_call_outcomes_of_the_calls_named_only_and_audited(con, three):
    add_call(con, "c1", three["C"], "do_not_call")
    add_call(con, "c2", three["A"], "do_not_call")  # an earlier import's call, not this one's
    assert optouts.record_from_calls(con, actor="ingest", call_ids=["c1"]) == 1
    assert optouts.register(con)["member_key"].tolist() == [three["C"]]
    entry = last_audit(con)
    assert (entry["action"], entry["actor"]) == ("optout.add", "ingest")
    assert entry["counts"] == {"added": 1, "source": "call"}
    assert entry["member_digest"] == privacy.member_digest([three["C"]])
    entries = len(privacy.log(con))
    assert optouts.record_from_calls(con, actor="ingest", call_ids=["c1"]) == 0
    assert len(privacy.log(con)) == entries  # nothing added, nothing audited


def test_withdrawing_by_a_membership_number_not_yet_held(con, three):
    optouts.add(con, actor="ana", reason="complaint", membership_number="SYN0000099")
    change = optouts.withdraw(con, actor="ana", reason="re_consented", membership_number="SYN0000099")
    assert change.message == "Withdrew 1 register entry."
    assert optouts.register(con, include_withdrawn=False).empty
    with pytest.raises(InputError, match="No member has that member key"):
        optouts.withdraw(con, actor="ana", reason="re_consented", member_key="0123456789abcdef")


def test_an_arrow_table_is_suppressed_for_its_scope_against_the_reading_given(con, three):
    optouts.add(con, actor="ana", reason="complaint", scope="calls", membership_number="SYN0000003")
    table = pa.table({"member_key": list(three.values()), "n": [1, 2, 3]})
    kept, excluded = optouts.suppress_table(con, table)
    assert kept.column("n").to_pylist() == [1, 2] and excluded == {"opted out": 1}
    # Post is not a call: a "calls" opt-out does not stop it.
    kept, excluded = optouts.suppress_table(con, table, scope="other")
    assert kept.num_rows == 3 and excluded == {}
    # Lists built together are checked against one reading of the register, the one given.
    before = optouts.flagged(con, "calls")
    optouts.add(con, actor="ana", reason="complaint", membership_number="SYN0000001")
    kept, _ = optouts.suppress_table(con, table, flagged_now=before)
    assert kept.column("n").to_pylist() == [1, 2]
    assert optouts.suppress_table(con, table)[0].num_rows == 0  # a fresh reading: A, and B by phone


def test_withdrawing_by_membership_number_includes_their_phones_entry_made_before_they_arrived(con):
    optouts.add(con, actor="ana", reason="complaint", phone="07700 900777")  # nobody held that number yet
    add_member(con, "SYN0000099", "07700 900777")
    change = optouts.withdraw(con, actor="ana", reason="re_consented", membership_number="SYN0000099")
    assert change.message == "Withdrew 1 register entry."
    assert optouts.register(con, include_withdrawn=False).empty


def test_a_member_erased_again_after_being_brought_back_by_hand_is_erased_again(con, three):
    # Ingest never restores an erased identity; a store edited by hand (or restored from a backup) can.
    privacy.erase(con, actor="ana", reason="other", membership_number="SYN0000003")
    add_member(con, "SYN0000003", PHONE_C)
    privacy.erase(con, actor="ana", reason="other", membership_number="SYN0000003")
    erasures = optouts.register(con)
    erasures = erasures[erasures["source"] == "erasure"]
    assert len(erasures) == 2 and set(erasures["status"]) == {"active"}
    assert erasures["optout_id"].str.startswith(f"era-{three['C']}").all()
    assert three["C"] not in kept_keys(con, three.values(), scope="other")


# --- a bulk file is read as every import is: within the limits, before the store is opened ----------

def _far_workbook(path: Path) -> Path:
    """A real workbook of phones with one more cell at XFD1048576: a dense reader lays out 17 billion."""
    source = write_xlsx(path.with_name("plain.xlsx"), [{"Phone": PHONE_C}])
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", far + b"</sheetData>")
            dst.writestr(info.filename, data)
    return path


def test_a_hostile_bulk_file_is_refused_in_seconds_and_changes_nothing(con, three, tmp_path):
    path = _far_workbook(tmp_path / "paper.xlsx")
    start = time.perf_counter()
    with pytest.raises(InputError, match='paper.xlsx: sheet "Sheet1" spans 16,384 columns'):
        optout_lists.import_file(con, path, actor="ana")
    assert time.perf_counter() - start < 10 and optouts.register(con).empty


def test_the_cli_refuses_a_hostile_bulk_file_before_it_opens_the_store(cli_store, tmp_path, capsys,
                                                                       monkeypatch):
    path = _far_workbook(tmp_path / "paper.xlsx")
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "not the passphrase")
    assert main(["optout", "import", str(path), "--db", str(cli_store)]) == 1
    err = capsys.readouterr().err
    assert "16,384 columns" in err and "passphrase" not in err  # the store was never opened


def test_a_bulk_files_digest_is_keyed_so_it_cannot_be_matched_to_a_guessed_number(con, three, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(f"Phone\n{PHONE_C}\n", encoding="utf-8")
    optout_lists.import_file(con, path, actor="ana")
    (stored,) = con.execute("SELECT sha256 FROM imports WHERE kind = 'optouts'").fetchone()
    assert stored != hashlib.sha256(path.read_bytes()).hexdigest()
    assert optout_lists.import_file(con, path, actor="ana").already_imported


def test_the_arrow_and_the_dataframe_paths_apply_one_rule(con, three):
    # A key-less row is left out, counted once per row; reasons are counted per person, most first.
    optouts.add(con, actor="ana", reason="complaint", membership_number="SYN0000001")  # A, and B by phone
    privacy.erase(con, actor="ana", member_key=three["C"], reason=privacy.ERASURE_REASONS[0])
    keys = [three["A"], three["A"], three["B"], three["C"], None, "0123456789abcdef"]
    table = pa.table({"member_key": pa.array(keys, pa.string()), "n": list(range(6))})
    kept, excluded = optouts.suppress_table(con, table)
    assert kept.column("n").to_pylist() == [5]
    assert excluded == {"opted out": 2, "erased": 1, "no member key": 1}
    frame = optouts.suppress(con, pd.DataFrame({"member_key": keys, "n": range(6)}))
    assert frame.kept["n"].tolist() == [5] and frame.excluded == excluded
    empty, none = optouts.suppress_table(con, table.slice(0, 0))
    assert empty.num_rows == 0 and none == {}
    mixed = optouts.suppress(con, pd.DataFrame({"member_key": [three["B"], 7, None]}, dtype=object))
    assert mixed.kept["member_key"].tolist() == [7]
    assert mixed.excluded == {"opted out": 1, "no member key": 1}
