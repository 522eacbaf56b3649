"""The store: encryption, passphrases, file mode, schema versions, keys and two processes at once."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PASSPHRASE
from workbench import ingest
from workbench.cli import main
from workbench.errors import InputError, StoreError
from workbench.privacy import pseudonymise
from workbench.store import db


def test_init_creates_encrypted_store_with_owner_only_mode(store_path: Path):
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    with db.session(store_path, PASSPHRASE, read_only=True) as con:
        info = db.store_info(con, store_path)
    assert info.encrypted is True
    assert info.schema_version == db.SCHEMA_VERSION
    assert {"members", "identities", "calls", "optouts", "audit_log", "lists"} <= set(info.row_counts)
    assert "keys" not in info.row_counts  # secrets are not even counted in what info prints


def test_wrong_passphrase_is_one_clear_error(store_path: Path):
    with pytest.raises(StoreError, match="wrong passphrase"):
        db.connect(store_path, "not the passphrase")


def test_encrypted_store_without_passphrase_says_how_to_give_one(store_path: Path):
    with pytest.raises(StoreError, match="WORKBENCH_PASSPHRASE"):
        db.connect(store_path, None)


def test_missing_store_says_how_to_create_one(tmp_path: Path):
    with pytest.raises(StoreError, match="workbench init"):
        db.connect(tmp_path / "nope.duckdb", PASSPHRASE)


def test_encryption_needs_a_passphrase(tmp_path: Path):
    with pytest.raises(InputError, match="needs a passphrase"):
        db.init_store(tmp_path / "s.duckdb", None)
    assert not (tmp_path / "s.duckdb").exists()


def test_init_refuses_to_overwrite(store_path: Path):
    with pytest.raises(InputError, match="already exists"):
        db.init_store(store_path, PASSPHRASE)


def test_store_bytes_hold_no_identity(tmp_path: Path):
    path = tmp_path / "s.duckdb"
    db.init_store(path, PASSPHRASE)
    with db.session(path, PASSPHRASE) as con:
        con.execute("INSERT INTO identities (member_key, membership_number, last_name) "
                    "SELECT 'k' || i, 'SYN' || i, 'Quillfeatherstone' FROM range(500) t(i)")
        con.execute("CHECKPOINT")
    data = path.read_bytes()
    assert b"Quillfeatherstone" not in data
    assert b"SYN1" not in data


def test_unencrypted_store_is_readable_so_the_check_above_can_fail(tmp_path: Path):
    path = tmp_path / "plain.duckdb"
    db.init_store(path, None, encrypted=False)
    with db.session(path, None) as con:
        con.execute("INSERT INTO identities (member_key, membership_number, last_name) "
                    "SELECT 'k' || i, 'SYN' || i, 'Quillfeatherstone' FROM range(500) t(i)")
        con.execute("CHECKPOINT")
        assert db.store_info(con, path).encrypted is False
    assert b"Quillfeatherstone" in path.read_bytes()


def test_newer_schema_is_refused(store_path: Path):
    with db.session(store_path, PASSPHRASE) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(db.SCHEMA_VERSION + 1)])
    with pytest.raises(StoreError, match="newer workbench"):
        db.connect(store_path, PASSPHRASE)


SCHEMA_3_CALLS = """
DROP TABLE calls; DROP TABLE call_needs; DROP TABLE call_skills;
CREATE TABLE calls (
    call_id VARCHAR PRIMARY KEY, member_key VARCHAR NOT NULL, round VARCHAR NOT NULL, caller VARCHAR,
    called_at TIMESTAMP NOT NULL, outcome VARCHAR NOT NULL, wellbeing INTEGER, needs_support BOOLEAN,
    urgency VARCHAR, keen_to_volunteer BOOLEAN, dp_query VARCHAR, notes VARCHAR, import_id VARCHAR);
CREATE TABLE call_needs (call_id VARCHAR NOT NULL, category VARCHAR NOT NULL,
                         PRIMARY KEY (call_id, category));
CREATE TABLE call_skills (call_id VARCHAR NOT NULL, skill VARCHAR NOT NULL, PRIMARY KEY (call_id, skill));
INSERT INTO calls VALUES ('C1', 'k1', 'R1', 'C0001', TIMESTAMP '2020-04-02 10:00', 'answered', 4, true,
                          'high', false, NULL, 'a note', 'i1');
INSERT INTO call_needs VALUES ('C1', 'food'), ('C1', 'medicine');
INSERT INTO call_skills VALUES ('C1', 'shopping');
UPDATE meta SET value = '3' WHERE key = 'schema_version';
"""


def test_a_schema_3_store_keeps_its_calls_and_loses_only_the_slow_keys(store_path: Path):
    with db.session(store_path, PASSPHRASE) as con:
        con.execute(SCHEMA_3_CALLS)
    with db.session(store_path, PASSPHRASE) as con:
        assert db.store_info(con).schema_version == db.SCHEMA_VERSION == 6
        assert con.execute("SELECT call_id, outcome, notes, import_id FROM calls").fetchall() == [
            ("C1", "answered", "a note", "i1")
        ]
        assert con.execute("SELECT count(*) FROM call_needs").fetchone()[0] == 2
        assert con.execute("SELECT skill FROM call_skills").fetchall() == [("shopping",)]
        keys = con.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
            "AND table_name IN ('calls', 'call_needs', 'call_skills')"
        ).fetchall()
        assert keys == []
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):  # kept through the rebuild
            con.execute("INSERT INTO calls (call_id) VALUES ('C2')")


SCHEMA_4_CALLS = """
DROP TABLE calls;
CREATE TABLE calls (
    call_id VARCHAR NOT NULL, member_key VARCHAR NOT NULL, round VARCHAR NOT NULL, caller VARCHAR,
    called_at TIMESTAMP NOT NULL, outcome VARCHAR NOT NULL, wellbeing INTEGER, needs_support BOOLEAN,
    urgency VARCHAR, keen_to_volunteer BOOLEAN, dp_query VARCHAR, notes VARCHAR, import_id VARCHAR);
INSERT INTO calls VALUES ('C1', 'k1', 'R1', 'C0001', TIMESTAMP '2020-04-02 10:00', 'answered', 4, true,
                          'high', false, NULL, 'a note', 'i1');
UPDATE meta SET value = '4' WHERE key = 'schema_version';
"""

# Digest-like ids, as an import writes them: enough rows that DuckDB would compress them if allowed.
MANY_CALLS = """
INSERT INTO calls (call_id, member_key, round, called_at, outcome, notes)
SELECT 'N' || md5(i::VARCHAR)[:24], md5((i % 500)::VARCHAR)[:24], 'R2', TIMESTAMP '2020-05-01 10:00',
       'answered', 'the same note'
FROM range(20000) r(i)
"""

COMPRESSION = """
SELECT column_name, list(DISTINCT compression ORDER BY compression)
FROM pragma_storage_info('calls') WHERE segment_type = 'VARCHAR'
  AND column_name IN ('call_id', 'member_key', 'notes')
GROUP BY column_name ORDER BY column_name
"""


def test_a_schema_4_store_keeps_its_calls_and_stores_new_ids_uncompressed(store_path: Path):
    with db.session(store_path, PASSPHRASE) as con:
        con.execute(SCHEMA_4_CALLS)
        con.execute(MANY_CALLS)
        con.execute("CHECKPOINT")
        before = dict(con.execute(COMPRESSION).fetchall())
    with db.session(store_path, PASSPHRASE) as con:
        assert db.store_info(con).schema_version == db.SCHEMA_VERSION == 6
        assert con.execute("SELECT * FROM calls WHERE call_id = 'C1'").fetchall() == [
            ("C1", "k1", "R1", "C0001", datetime(2020, 4, 2, 10), "answered", 4, True, "high", False, None,
             "a note", "i1")
        ]
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 20001
        con.execute(MANY_CALLS)
        con.execute("CHECKPOINT")
        after = dict(con.execute(COMPRESSION).fetchall())
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):  # kept through the rebuild
            con.execute("INSERT INTO calls (call_id) VALUES ('C2')")
    assert before["call_id"] != ["Uncompressed"]  # schema 4: DuckDB compressed the digests
    assert after["call_id"] == after["member_key"] == ["Uncompressed"]
    assert after["notes"] != ["Uncompressed"]  # free text is still compressed


def test_a_schema_5_store_numbers_its_identities_and_a_member_import_numbers_new_ones(store_path: Path,
                                                                                    tmp_path: Path):
    with db.session(store_path, PASSPHRASE) as con:
        con.execute("INSERT INTO identities (member_key, membership_number) "
                    "VALUES ('00000000000000ff', 'SYN1'), ('k1', 'SYN2')")
        con.execute("ALTER TABLE identities DROP COLUMN key_number")
        con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    with db.session(store_path, PASSPHRASE) as con:
        assert db.store_info(con).schema_version == 6
        numbers = con.execute("SELECT member_key, key_number FROM identities ORDER BY 1").fetchall()
        assert numbers == [("00000000000000ff", 255), ("k1", None)]  # not 16 hex digits: no number
        members = tmp_path / "members.csv"
        members.write_text("Membership Number,First Name,Last Name,Branch\nSYN9,Ann,Lee,Ashcombe\n")
        ingest.import_members(con, members, actor="ana")
        key = pseudonymise.member_keys(con, ["SYN9"])[0]
        row = con.execute("SELECT key_number FROM identities WHERE member_key = ?", [key]).fetchone()
        assert row == (int(key, 16),)


def test_member_keys_are_keyed_stable_and_store_specific(tmp_path: Path, con):
    keys = pseudonymise.member_keys(con, ["SYN0000001", " syn 0000001 ", "SYN0000002"])
    assert keys[0] == keys[1] != keys[2]
    assert len(keys[0]) == pseudonymise.MEMBER_KEY_LENGTH
    other = tmp_path / "other.duckdb"
    db.init_store(other, PASSPHRASE)
    with db.session(other, PASSPHRASE) as con2:
        assert pseudonymise.member_keys(con2, ["SYN0000001"])[0] != keys[0]


def test_hashing_without_a_key_is_refused():
    with pytest.raises(ValueError, match="needs a key"):
        pseudonymise.keyed(b"", ["+447700900123"])


HOLD_STORE = textwrap.dedent("""
    import sys, time
    from workbench.store import db
    con = db.connect(sys.argv[1], sys.argv[2])
    con.execute("INSERT INTO settings VALUES ('organisation', 'held')")
    print("holding", flush=True)
    time.sleep(float(sys.argv[3]))
    con.close()
""")


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_STORE, str(path), PASSPHRASE, str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_second_process_waits_for_a_brief_writer(store_path: Path):
    holder = _hold(store_path, 1.0)
    started = time.monotonic()
    with db.session(store_path, PASSPHRASE) as con:  # waits for the holder, then works
        assert con.execute("SELECT value FROM settings WHERE key = 'organisation'").fetchone()[0] == "held"
    assert time.monotonic() - started >= 0.3
    assert holder.wait(timeout=10) == 0


def test_busy_store_names_the_holder_and_the_fix(store_path: Path):
    holder = _hold(store_path, 4.0)
    try:
        with pytest.raises(StoreError, match=rf"busy: process {holder.pid} .*close the notebook"):
            db.connect(store_path, PASSPHRASE, read_only=True, busy_timeout=0.3)
    finally:
        holder.wait(timeout=10)


def test_cli_wrong_passphrase_prints_one_line_and_no_traceback(store_path: Path, tmp_path: Path, capsys):
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text("wrong\n")
    assert main(["info", "--db", str(store_path), "--passphrase-file", str(secret_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "wrong passphrase" in err and "Traceback" not in err


def test_cli_init_and_info(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    path = tmp_path / "new.duckdb"
    assert main(["init", "--db", str(path)]) == 0
    assert main(["info", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "encrypted:      yes" in out and f"schema version: {db.SCHEMA_VERSION}" in out


def test_cli_unencrypted_needs_the_flag_and_warns(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PASSPHRASE", raising=False)
    path = tmp_path / "plain.duckdb"
    assert main(["init", "--db", str(path), "--no-encryption"]) == 0
    assert "UNENCRYPTED" in capsys.readouterr().err
    assert main(["info", "--db", str(path)]) == 0
    assert "NO - anyone" in capsys.readouterr().out


def test_settings_are_checked_and_every_change_is_audited_by_key(con):
    from workbench import privacy
    from workbench.store import settings

    with pytest.raises(InputError, match="must be an email"):
        settings.set(con, "dp_contact", "not an address", actor="ana")
    settings.set(con, "dp_contact", "dpo@example.org", actor="ana")
    assert settings.get(con, "dp_contact") == "dpo@example.org"
    entry = privacy.log(con).iloc[-1]
    assert (entry["action"], entry["object_id"], entry["actor"]) == ("config.set", "dp_contact", "ana")
    assert "dpo@example.org" not in " ".join(map(str, entry.to_dict().values()))


def test_the_extension_signature_is_checked_again_whenever_the_file_changes(tmp_path: Path, monkeypatch):
    import duckdb

    db._new_connection().close()  # the real file, checked (or already checked) in this process
    real = db._httpfs_extension()
    assert db._CHECKED_EXTENSION[0] == str(real)
    # A copy with one byte of its body changed: a different file, so DuckDB must check it, and refuse.
    tampered = tmp_path / "httpfs.duckdb_extension"
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(db, "_httpfs_extension", lambda: tampered)
    with pytest.raises(duckdb.Error, match="signature"):
        db._new_connection()
    assert db._CHECKED_EXTENSION[0] == str(real)  # a refused file is never remembered as checked
    monkeypatch.undo()
    con = db._new_connection()  # the real file again: loaded, and unsigned loads stay refused
    assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (False,)
    con.close()



def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _as_duckdb_prints(limit: str) -> str:
    scratch = duckdb.connect()
    scratch.execute(f"SET memory_limit = '{limit}'")
    try:
        return _limit(scratch)
    finally:
        scratch.close()


def test_a_large_import_may_hold_more_memory_and_gives_it_back(con, monkeypatch):
    monkeypatch.delenv("WORKBENCH_MEMORY_LIMIT", raising=False)
    usual = _limit(con)
    assert usual == _as_duckdb_prints(db.MEMORY_LIMIT)
    with db.memory_for_import(con, 169 * 10**6):  # a national calls file: within the usual limit
        assert _limit(con) == usual
    wanted = min(8 * 507 * 10**6, db._physical_memory() // 2)  # a union's: 8x the file, half the machine
    with db.memory_for_import(con, 507 * 10**6):
        raised = _limit(con)
    assert _limit(con) == usual
    if wanted > db.MEMORY_LIMIT_MB * 10**6:
        assert raised == _as_duckdb_prints(f"{wanted // 10**6}MB") != usual
    else:  # a machine with under 8 GB: the usual limit stays
        assert raised == usual
    monkeypatch.setenv("WORKBENCH_MEMORY_LIMIT", "1GB")  # the user's choice is kept
    with db.memory_for_import(con, 507 * 10**6):
        assert _limit(con) == usual
