"""Audit log, subject access, erasure (down to the file's bytes), retention and dp-queries."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import PASSPHRASE
from dp_helpers import add_call, add_member

from workbench import privacy
from workbench.cli import main
from workbench.errors import InputError
from workbench.privacy import optouts, pseudonymise, retention
from workbench.store import db, settings

SURNAME = "Quixleworth"  # distinctive, so its bytes can be searched for in the file
NOTE = "Needs <script>alert(1)</script> a prescription collected"


def full_member(con) -> str:
    """A member with one of everything a subject-access export must cover."""
    key = add_member(con, "SYN0000007", "07700 900007", last_name=SURNAME)
    add_call(con, "c1", key, "no_answer", called_at=datetime(2020, 4, 1, 9))
    add_call(con, "c2", key, "answered", called_at=datetime(2020, 4, 2, 9), notes=NOTE,
             dp_query="how_got_number")
    con.execute("INSERT INTO call_needs VALUES ('c2', 'medicine')")
    con.execute("INSERT INTO call_skills VALUES ('c2', 'befriending')")
    con.execute("INSERT INTO services (service_id, name, category, areas, contact, aliases) "
                "VALUES ('S1', 'Rookton Pharmacy Run', 'medicine', [], 'pharmacy@example.org', [])")
    con.execute("INSERT INTO call_services VALUES ('c2', 'S1', 'pharmacy run')")
    con.execute("INSERT INTO followups (member_key, call_id, state, opened_at, updated_at) "
                "VALUES (?, 'c2', 'assigned', now(), now())", [key])
    con.execute("INSERT INTO followup_events (member_key, changed_at, state, changed_by, list_id) "
                "VALUES (?, now(), 'assigned', 'ana', 'L1')", [key])
    con.execute("INSERT INTO lists (list_id, kind, purpose, recipient, created_at, shred_by, row_count, "
                "format) VALUES ('L1', 'followup', 'welfare follow-up', 'Ashcombe branch', now(), "
                "DATE '2020-05-01', 1, 'xlsx')")
    con.execute("INSERT INTO list_members (list_id, row_number, member_key) VALUES ('L1', 1, ?)", [key])
    optouts.add(con, actor="ana", reason="complaint", scope="calls", member_key=key)
    return key


# --- audit log -----------------------------------------------------------------------------------

def three_entries(con) -> None:
    for n in range(3):
        privacy.audit(con, "test.step", actor="ana", object_id=f"L{n}", counts={"rows": n},
                             member_keys=["k1", "k2"])


def test_the_chain_verifies_and_each_entry_holds_the_previous_hash(con):
    three_entries(con)
    rows = con.execute("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[1][1] == rows[0][2] and rows[2][1] == rows[1][2]
    assert privacy.verify(con) == privacy.Verification(True, 3)


@pytest.mark.parametrize(("tamper", "bad_seq", "problem"), [
    ("UPDATE audit_log SET counts = '{\"rows\":9}' WHERE seq = 2", 2, "changed"),
    ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", 1, "changed"),
    ("DELETE FROM audit_log WHERE seq = 2", 2, "missing"),
    ("DELETE FROM audit_log WHERE seq = 3", 3, "missing"),
])
def test_tampering_is_caught_and_the_entry_named(con, tamper, bad_seq, problem):
    three_entries(con)
    con.execute(tamper)
    result = privacy.verify(con)
    assert (result.ok, result.bad_seq) == (False, bad_seq) and problem in result.problem


def test_cli_verify_fails_and_names_the_entry(store_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    with db.session(store_path, PASSPHRASE) as con:
        three_entries(con)
    assert main(["audit", "--verify", "--db", str(store_path)]) == 0
    with db.session(store_path, PASSPHRASE) as con:
        con.execute("UPDATE audit_log SET object_id = 'L9' WHERE seq = 2")
    assert main(["audit", "--verify", "--db", str(store_path)]) == 1
    assert "entry 2" in capsys.readouterr().err


@pytest.mark.parametrize(("field", "value"), [
    ("object_id", "07700 900123"), ("object_id", "+447700900123"), ("object_id", "pat@example.org"),
    ("counts", {"phone": "07700900123"}), ("counts", {"who": ["someone@example.com"]}),
])
def test_audit_refuses_what_looks_like_a_phone_or_email(con, field, value):
    with pytest.raises(InputError, match="ids and counts only"):
        privacy.audit(con, "x", actor="ana", **{field: value})
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_audit_accepts_ids_digests_and_counts(con):
    digest = "0123456789" * 6 + "abcd"
    assert privacy.audit(con, "import.calls", actor="ana", object_id=digest,
                                counts={"rows": 1234567890, "file": "CL00000025"}) == 1
    with pytest.raises(InputError, match="actor"):
        privacy.audit(con, "x", actor=" ")


def test_config_set_is_audited_by_key_never_by_value(store_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    args = ["config", "set", "dp_contact", "dp@example.org", "--db", str(store_path), "--by", "ana"]
    assert main(args) == 0
    with db.session(store_path, PASSPHRASE, read_only=True) as con:
        entry = privacy.log(con).iloc[0]
        assert (entry["action"], entry["object_id"], entry["actor"]) == ("config.set", "dp_contact", "ana")
        assert settings.get(con, "dp_contact") == "dp@example.org"
        row = con.execute("SELECT * FROM audit_log").fetchall()
        assert len(row) == 1 and "example.org" not in str(row)


# --- subject access ------------------------------------------------------------------------------

def test_subject_access_covers_everything_and_escapes_it(con, tmp_path):
    key = full_member(con)
    result = privacy.subject_access(con, tmp_path / "sar", actor="ana",
                                           membership_number="syn 0000007")
    report = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert report["identity"]["last_name"] == SURNAME and report["identity"]["phone"] == "+447700900007"
    assert [c["call_id"] for c in report["calls"]] == ["c1", "c2"] and report["calls"][1]["notes"] == NOTE
    assert report["needs"] == [{"call_id": "c2", "category": "medicine"}]
    assert report["skills"][0]["skill"] == "befriending"
    assert report["services_referenced"][0]["service"] == "Rookton Pharmacy Run"
    assert report["followups"][0]["state"] == "assigned" and len(report["followup_history"]) == 1
    assert report["lists"][0]["list_id"] == "L1" and report["lists"][0]["recipient"] == "Ashcombe branch"
    assert report["opt_outs"][0]["reason"] == "complaint"
    assert report["data_protection_queries"][0]["dp_query"] == "how_got_number"
    page = result.html_path.read_text(encoding="utf-8")
    assert SURNAME in page and "&lt;script&gt;" in page and "<script>" not in page
    for path in (result.json_path, result.html_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = privacy.log(con).iloc[0]
    assert (entry["action"], entry["object_id"]) == ("subject_access", key)


def test_subject_access_on_a_synthetic_member(synthetic_con, tmp_path):
    number, key = synthetic_con.execute(
        "SELECT i.membership_number, i.member_key FROM identities i JOIN calls c USING (member_key) "
        "GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()
    calls = synthetic_con.execute("SELECT count(*) FROM calls WHERE member_key = ?", [key]).fetchone()[0]
    result = privacy.subject_access(synthetic_con, tmp_path / "sar.json", actor="ana",
                                           membership_number=number)
    report = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert report["identity"]["membership_number"] == number and len(report["calls"]) == calls > 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"membership_number": "NOPE1"}, "No member has that membership number"),
    ({"phone": "0770"}, "--phone is not a UK phone number"),
    ({"phone": "07700 900001"}, "2 members share that phone number"),
    ({"phone": "07700 900555"}, "No member has that phone number"),
])
def test_subject_access_refuses_unclear_requests(con, tmp_path, kwargs, message):
    add_member(con, "SYN1", "07700 900001")
    add_member(con, "SYN2", "07700 900001")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=message):
        privacy.subject_access(con, out / "sar", actor="ana", **kwargs)
    assert not list(out.iterdir())
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


# --- erasure -------------------------------------------------------------------------------------

def file_bytes(path: Path) -> bytes:
    wal = Path(f"{path}.wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_erasure_leaves_no_trace_in_the_files_bytes(tmp_path):
    path = tmp_path / "plain.duckdb"
    db.init_store(path, None, encrypted=False)
    with db.session(path) as con:
        key = full_member(con)
        other = add_member(con, "SYN0000008", "07700 900008", last_name="Keepsake")
        con.execute("CHECKPOINT")
    assert SURNAME.encode() in file_bytes(path) and b"prescription" in file_bytes(path)
    with db.session(path) as con:
        result = privacy.erase(con, actor="ana", reason="subject_request",
                                      membership_number="SYN0000007")
    privacy.compact(path, None)
    data = file_bytes(path)
    assert SURNAME.encode() not in data and b"prescription" not in data and b"900007" not in data
    assert b"Keepsake" in data, "other members must survive the rewrite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert result.removed["calls"] == 2 and result.removed["identities"] == 1
    with db.session(path) as con:
        assert con.execute("SELECT count(*) FROM list_members WHERE list_id = 'L1'").fetchone()[0] == 1
        assert con.execute("SELECT branch, ward, postcode, age FROM members WHERE member_key = ?",
                           [key]).fetchone() == (None, None, None, None)
        kept = optouts.suppress(con, pd.DataFrame({"member_key": [key, other]})).kept
        assert kept["member_key"].tolist() == [other]
        assert privacy.verify(con).ok


def test_erasure_counts_what_it_removed_and_audits_counts_only(con):
    key = full_member(con)
    con.execute("UPDATE list_members SET digest = 'f00d:beef:cafe'")
    result = privacy.erase(con, actor="dpo", reason="subject request", membership_number="SYN0000007")
    removed = {"calls": 2, "call_needs": 1, "call_services": 1, "call_skills": 1, "followups": 1,
               "followup_events": 1, "identities": 1, "list_rows_kept": 1}
    assert result == privacy.Erasure(key, removed)
    entry = privacy.log(con, limit=1).iloc[0]
    assert (entry["action"], entry["actor"], entry["object_id"]) == ("erase", "dpo", key)
    assert json.loads(entry["counts"]) == {**removed, "reason": "subject_request"}
    assert entry["member_digest"] == privacy.member_digest([key])
    # The list keeps its row (a breach report still counts it), but nothing that points at them.
    assert con.execute("SELECT list_id, row_number, member_key, digest FROM list_members").fetchall() == [
        ("L1", 1, None, None)]
    assert con.execute("SELECT count(*) FROM followups").fetchone()[0] == 0
    assert privacy.verify(con).ok


def test_a_member_whose_key_is_all_digits_can_be_erased(con):
    # About one member_key in 1,850 is 16 decimal digits; the audit log once took such a key for a
    # phone number and refused the erasure. Find a membership number whose key is one.
    numbers = [f"SYN{i:07d}" for i in range(50_000)]
    keys = pseudonymise.member_keys(con, numbers)
    number = next(n for n, k in zip(numbers, keys, strict=True) if k.isdigit())
    key = add_member(con, number, "07700 900123")
    erased = privacy.erase(con, actor="dpo", reason="subject request", membership_number=number)
    assert erased.member_key == key
    assert privacy.log(con, limit=1).iloc[0]["object_id"] == key
    with pytest.raises(InputError, match="ids and counts only"):  # a phone number is still refused
        privacy.audit(con, "x", actor="ana", object_id="077009001234567")


def test_erasure_refuses_a_bad_reason_and_a_second_erasure_and_changes_nothing(con):
    full_member(con)
    with pytest.raises(InputError) as bad:
        privacy.erase(con, actor="dpo", reason="bored", membership_number="SYN0000007")
    assert str(bad.value) == '--reason "bored" is not one of: subject_request, deceased, left_party, other.'
    privacy.erase(con, actor="dpo", reason="left party", membership_number="SYN0000007")
    entries = len(privacy.log(con))
    with pytest.raises(InputError) as again:
        privacy.erase(con, actor="dpo", reason="other", membership_number="SYN0000007")
    assert str(again.value) == "That member was erased already; nothing changed."
    assert len(privacy.log(con)) == entries


def test_erasure_reaches_tables_added_later_whatever_their_names(con):
    # "Every other table holding a member_key or one of their call_ids loses those rows", including
    # tables this module has never heard of, and names that need quoting.
    key = full_member(con)
    other = add_member(con, "SYN0000008", "07700 900008")
    odd = '"caller ""notes"""'  # the table caller "notes", quoted for SQL
    con.execute(f"CREATE TABLE {odd} (member_key VARCHAR, note VARCHAR)")
    con.execute("CREATE TABLE call_flags (call_id VARCHAR, flag VARCHAR)")
    con.execute(f"INSERT INTO {odd} VALUES (?, 'theirs'), (?, 'someone else')", [key, other])
    con.execute("INSERT INTO call_flags VALUES ('c2', 'theirs'), ('c9', 'someone else')")
    result = privacy.erase(con, actor="dpo", reason="other", membership_number="SYN0000007")
    assert result.removed['caller "notes"'] == 1 and result.removed["call_flags"] == 1
    assert con.execute(f"SELECT note FROM {odd}").fetchall() == [("someone else",)]
    assert con.execute("SELECT flag FROM call_flags").fetchall() == [("someone else",)]
    # What keeps them off every list stays, recorded by whoever erased them.
    entry = con.execute("SELECT scope, source, recorded_by FROM optouts WHERE optout_id = ?",
                        [f"era-{key}"]).fetchone()
    assert entry == ("all", "erasure", "dpo")


def test_compaction_works_in_a_folder_whose_name_has_a_quote_and_clears_a_stale_copy(tmp_path):
    folder = tmp_path / "o'brien's stores"
    folder.mkdir()
    path = folder / "wb.duckdb"
    db.init_store(path, PASSPHRASE)
    with db.session(path, PASSPHRASE) as con:
        full_member(con)
        privacy.erase(con, actor="ana", reason="other", membership_number="SYN0000007")
    stale = folder / "wb.duckdb.compacting"
    stale.write_bytes(b"half of an earlier compaction, interrupted")
    assert privacy.compact(path, PASSPHRASE) == path
    assert sorted(p.name for p in folder.iterdir()) == ["wb.duckdb"]  # no copy left beside it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with db.session(path, PASSPHRASE, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
        assert privacy.verify(con).ok


def test_an_encrypted_store_survives_compaction(con, store_path):
    full_member(con)
    privacy.erase(con, actor="ana", reason="other", phone="07700 900007")
    con.close()
    privacy.compact(store_path, PASSPHRASE)
    with db.session(store_path, PASSPHRASE) as again:
        assert again.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
        # Their own opt-out, the erasure's entry, and (they had opted out) the bare number.
        assert again.execute("SELECT count(*) FROM optouts").fetchone()[0] == 3
        assert privacy.verify(again).ok
    assert not Path(f"{store_path}.compacting").exists()


@pytest.fixture
def cli_store(store_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("WORKBENCH_USER", "ana")
    with db.session(store_path, PASSPHRASE) as con:
        full_member(con)
    return store_path


def store_snapshot(path: Path) -> tuple:
    with db.session(path, PASSPHRASE, read_only=True) as con:
        return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("identities", "calls", "optouts", "audit_log"))


@pytest.mark.parametrize(("args", "message"), [
    (["--membership-number", "SYN404", "--reason", "other", "--yes"], "No member has that membership number"),
    (["--phone", "12", "--reason", "other", "--yes"], "--phone is not a UK phone number"),
    (["--membership-number", "SYN0000007", "--yes"], "--reason is missing"),
    (["--membership-number", "SYN0000007", "--reason", "other"], "add --yes"),
])
def test_cli_erase_bad_input_changes_nothing(cli_store, capsys, args, message):
    before = store_snapshot(cli_store)
    assert main(["erase", "--db", str(cli_store), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert store_snapshot(cli_store) == before


def test_cli_erasing_twice_says_so_and_changes_nothing(cli_store, capsys):
    args = ["erase", "--db", str(cli_store), "--membership-number", "SYN0000007",
            "--reason", "subject_request", "--yes"]
    assert main(args) == 0
    assert "Erased member" in capsys.readouterr().out
    after_first = store_snapshot(cli_store)
    assert main(args) == 1
    assert "erased already; nothing changed" in capsys.readouterr().err
    assert store_snapshot(cli_store) == after_first


# --- retention -----------------------------------------------------------------------------------

def test_retention_dry_run_counts_and_apply_strips_only_expired_details(con):
    key = full_member(con)  # c2 rests under an open follow-up: kept whole
    other = add_member(con, "SYN0000009", "07700 900009")
    add_call(con, "c3", other, "answered", called_at=datetime(2020, 4, 3), notes="feeling fine")
    con.execute("INSERT INTO call_needs VALUES ('c3', 'food')")
    add_call(con, "c4", other, "answered", called_at=datetime(2026, 1, 1), notes="recent", round="R9")
    as_of = datetime(2026, 2, 1)
    plan = retention.plan(con, older_than_days=90, as_of=as_of)
    assert (plan.expired_rounds, plan.calls_to_strip, plan.notes_to_delete) == (["R1"], 1, 1)
    assert plan.detail_rows == {"call_needs": 1, "call_skills": 0, "call_services": 0}
    assert plan.lists_overdue == 1
    assert con.execute("SELECT notes FROM calls WHERE call_id = 'c3'").fetchone()[0] == "feeling fine"
    done = retention.apply(con, actor="ana", older_than_days=90, as_of=as_of)
    assert done.applied and done.calls_to_strip == 1
    notes = dict(con.execute("SELECT call_id, notes FROM calls").fetchall())
    assert notes == {"c1": None, "c2": NOTE, "c3": None, "c4": "recent"}
    assert con.execute("SELECT count(*) FROM call_needs WHERE call_id = 'c3'").fetchone()[0] == 0
    assert con.execute("SELECT outcome FROM calls WHERE call_id = 'c3'").fetchone()[0] == "answered"
    assert privacy.log(con).iloc[0]["action"] == "retention"
    assert retention.plan(con, older_than_days=90, as_of=as_of).calls_to_strip == 0
    assert key


def test_cli_retention_dry_run_then_apply(cli_store, capsys):
    before = store_snapshot(cli_store)
    assert main(["retention", "--db", str(cli_store), "--older-than", "30"]) == 0
    assert "dry run" in capsys.readouterr().out and store_snapshot(cli_store) == before
    assert main(["retention", "--db", str(cli_store), "--older-than", "30", "--apply"]) == 0
    assert "Removed" in capsys.readouterr().out
    with db.session(cli_store, PASSPHRASE, read_only=True) as con:
        # only the call under an open follow-up keeps its notes
        assert con.execute("SELECT count(*) FROM calls WHERE notes IS NOT NULL").fetchone()[0] == 1
    assert main(["retention", "--db", str(cli_store), "--older-than", "0"]) == 1
    assert "--older-than must be" in capsys.readouterr().err


# --- data-protection queries ---------------------------------------------------------------------

def test_dp_queries_list_and_status(con):
    full_member(con)
    assert privacy.dp_queries(con)[["call_id", "dp_query", "status"]].values.tolist() == [
        ["c2", "how_got_number", "open"]]
    assert "notes" not in privacy.dp_queries(con).columns
    privacy.set_dp_query_status(con, "c2", "passed to dp team", actor="ana")
    assert privacy.dp_queries(con).empty
    assert privacy.dp_queries(con, status="passed_to_dp_team")["call_id"].tolist() == ["c2"]
    with pytest.raises(InputError, match="no data-protection query"):
        privacy.set_dp_query_status(con, "c1", "closed", actor="ana")
    with pytest.raises(InputError, match="status"):
        privacy.set_dp_query_status(con, "c2", "lost", actor="ana")


def test_cli_dp_queries_shows_the_contact(cli_store, capsys):
    assert main(["dp-queries", "--db", str(cli_store)]) == 0
    out = capsys.readouterr().out
    assert "how_got_number" in out and "dataprotection@example.org" in out and "prescription" not in out
    assert main(["dp-queries", "--db", str(cli_store), "--set-status", "c2", "closed"]) == 0
    assert main(["sar", "--db", str(cli_store), "--membership-number", "SYN0000007", "--out",
                 str(cli_store.parent / "sar")]) == 0
    assert os.stat(cli_store.parent / "sar.html").st_mode & 0o077 == 0
