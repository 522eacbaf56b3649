"""The audit chain catches every kind of tampering: each field of an entry, its link, and its head.

Real stores; the tampering is done with plain SQL, the way someone with the passphrase could.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from workbench.errors import InputError
from workbench.store import audit as audit_log
from workbench.store.state import transaction


def _three_entries(con) -> None:
    with transaction(con):
        audit_log.audit(con, "optout.add", actor="ana", object_id="k1", counts={"added": 1},
                        member_keys=["k1"])
        audit_log.audit(con, "list.create", actor="ben", object_id="FU-1", counts={"rows": 3},
                        member_keys=["k1", "k2", "k3"])
        audit_log.audit(con, "erase", actor="cat", object_id="k2", member_keys=["k2"])


def test_an_untouched_chain_verifies(con):
    _three_entries(con)
    assert audit_log.verify(con) == audit_log.Verification(True, 3)


def test_an_empty_log_verifies(con):
    assert audit_log.verify(con) == audit_log.Verification(True, 0)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("member_digest", "'" + "0" * 64 + "'"),  # who was involved is part of what is hashed
        ("actor", "'mallory'"),
        ("action", "'optout.withdraw'"),
        ("object_id", "'k9'"),
        ("counts", "'{\"rows\":30}'"),
        ("logged_at", "logged_at + INTERVAL 1 SECOND"),
    ],
)
def test_editing_any_field_of_an_entry_is_caught(con, column, value):
    _three_entries(con)
    con.execute(f"UPDATE audit_log SET {column} = {value} WHERE seq = 2")
    result = audit_log.verify(con)
    assert result == audit_log.Verification(False, 3, 2, "entry 2 was changed after it was written")


def test_an_entry_rehashed_after_an_edit_breaks_the_next_link(con):
    _three_entries(con)
    # Edit entry 2 and recompute its own hash: entry 3 still points at the old one.
    seq, at, actor, action, object_id, counts, _digest, prev, _hash = con.execute(
        "SELECT * FROM audit_log WHERE seq = 2").fetchone()
    entry = audit_log._entry(seq, at, actor, action, object_id, counts, "f" * 64)
    con.execute("UPDATE audit_log SET member_digest = ?, hash = ? WHERE seq = 2",
                ["f" * 64, audit_log.entry_hash(prev, entry)])
    result = audit_log.verify(con)
    assert result == audit_log.Verification(False, 3, 3, "entry 3 does not follow entry 2")


def test_a_deleted_middle_entry_is_named(con):
    _three_entries(con)
    con.execute("DELETE FROM audit_log WHERE seq = 2")
    result = audit_log.verify(con)
    assert result == audit_log.Verification(False, 2, 2, "entry 2 is missing (deleted)")


def test_deleting_the_newest_entries_is_caught_by_the_head(con):
    _three_entries(con)
    con.execute("DELETE FROM audit_log WHERE seq = 3")
    result = audit_log.verify(con)
    assert result == audit_log.Verification(
        False, 2, 3, "entry 3 is missing (deleted): the log ends at 2, but 3 entries were written")


def test_a_missing_head_is_caught(con):
    _three_entries(con)
    con.execute("DELETE FROM audit_head")
    result = audit_log.verify(con)
    assert result == audit_log.Verification(False, 3, 3, "the record of the log's last entry is missing")


@pytest.mark.parametrize("change", ["seq = 2", "hash = '" + "e" * 64 + "'"])
def test_a_head_that_does_not_match_the_last_entry_is_caught(con, change):
    _three_entries(con)
    con.execute(f"UPDATE audit_head SET {change}")
    result = audit_log.verify(con)
    assert result == audit_log.Verification(False, 3, 3, "entry 3 does not match the log's recorded end")


def test_entries_chain_from_genesis_and_keep_only_a_digest_of_members(con):
    _three_entries(con)
    rows = con.execute("SELECT seq, prev_hash, hash, member_digest FROM audit_log ORDER BY seq").fetchall()
    assert rows[0][1] == audit_log.GENESIS
    assert [r[1] for r in rows[1:]] == [r[2] for r in rows[:-1]]
    assert rows[1][3] == audit_log.member_digest(["k3", "k2", "k1"])
    assert con.execute("SELECT seq, hash FROM audit_head").fetchone() == (3, rows[2][2])


@pytest.mark.parametrize(
    ("field", "value"),
    [("object_id", "07700 900123"), ("counts", {"who": "pat@example.org"}), ("action", "+447700900123")],
)
def test_personal_data_is_refused_and_nothing_is_written(con, field, value):
    kwargs = {"action": "optout.add", "object_id": None, "counts": None} | {field: value}
    with pytest.raises(InputError) as refused:
        audit_log.audit(con, kwargs.pop("action"), actor="ana", **kwargs)
    # The message names the field, and never repeats the value.
    assert str(refused.value) == (
        f"Audit {field} looks like it holds a phone number or an email address; the audit log takes ids and "
        "counts only. Pass a member_key or a count instead.")
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


@pytest.mark.parametrize("actor", ["", "   ", None])
def test_an_entry_needs_an_actor(con, actor):
    with pytest.raises(InputError) as refused:
        audit_log.audit(con, "optout.add", actor=actor)
    assert str(refused.value) == ("An audit entry needs an action and an actor: give --by NAME or set "
                                  "WORKBENCH_USER.")


def test_entries_are_logged_in_utc_whatever_the_machines_time_zone(con, monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")  # twelve or thirteen hours from UTC, never zero
    time.tzset()
    try:
        audit_log.audit(con, "optout.add", actor="ana")
    finally:
        monkeypatch.undo()
        time.tzset()
    (at,) = con.execute("SELECT logged_at FROM audit_log").fetchone()
    assert abs(at - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)


def test_a_long_hex_id_is_not_mistaken_for_a_phone(con):
    seq = audit_log.audit(con, "list.create", actor="ana", object_id="a1b2c3d4e5f60718293a4b5c")
    assert seq == 1 and audit_log.verify(con).ok


# -- the format is documented, so anyone can check the chain without the workbench ---------------------


def test_an_entry_hash_is_sha256_of_the_previous_hash_and_the_documented_canonical_json(con):
    first = audit_log.audit(con, "optout.add", actor="  Zoë ", object_id="k1",
                            counts={"b": 2, "a": 1, "cutoff": date(2020, 4, 15)},
                            member_keys=["k2", None, "k1", "k2"])
    second = audit_log.audit(con, "erase", actor="ben")
    assert (first, second) == (1, 2)
    rows = con.execute("SELECT seq, logged_at, actor, action, object_id, counts, member_digest, prev_hash, "
                       "hash FROM audit_log ORDER BY seq").fetchall()
    previous = "0" * 64
    for seq, at, actor, action, object_id, counts, digest, prev_hash, stored in rows:
        entry = {"seq": seq, "logged_at": at.isoformat(timespec="microseconds"), "actor": actor,
                 "action": action, "object_id": object_id, "counts": counts, "member_digest": digest}
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert prev_hash == previous
        assert stored == hashlib.sha256((previous + canonical).encode("utf-8")).hexdigest()
        previous = stored
    (_, at, actor, _, _, counts, digest, _, _), (*_, no_counts, no_digest, _, _) = rows
    # Counts as compact JSON with sorted keys, anything else as text; the actor stripped; all ASCII.
    assert actor == "Zoë" and counts == '{"a":1,"b":2,"cutoff":"2020-04-15"}'
    assert (no_counts, no_digest) == (None, None)
    # Who was involved: SHA-256 of the distinct member keys, sorted, one per line.
    assert digest == hashlib.sha256(b"k1\nk2").hexdigest() == audit_log.member_digest(["k1", "k2"])
    # Logged in UTC, without a zone (DuckDB TIMESTAMP).
    assert at.tzinfo is None and abs(at - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)


def test_the_log_shows_the_newest_first_filtered_by_action_prefix(con):
    _three_entries(con)
    assert audit_log.log(con)["seq"].tolist() == [3, 2, 1]
    assert audit_log.log(con, limit=2)["action"].tolist() == ["erase", "list.create"]
    optouts = audit_log.log(con, action="optout")
    shown = optouts[["seq", "actor", "object_id", "counts"]].values.tolist()
    assert shown == [[1, "ana", "k1", '{"added":1}']]
    assert "hash" not in audit_log.log(con).columns and "prev_hash" not in audit_log.log(con).columns


@pytest.mark.parametrize("counts", [{"by": {"07700 900123": 1}}, {"rows": ["x", ("pat@example.org",)]},
                                    {"phone": "0770090012"}])
def test_personal_data_is_refused_wherever_it_hides_in_the_counts(con, counts):
    with pytest.raises(InputError, match="Audit counts looks like it holds a phone number or an email"):
        audit_log.audit(con, "optout.add", actor="ana", counts=counts)
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_short_numbers_and_dates_are_not_phones(con):
    counts = {"rows": 1234567, "ids": "12 345 678", "cutoff": "2020-04-15"}
    assert audit_log.audit(con, "import.calls", actor="ana", counts=counts) == 1


@pytest.mark.parametrize("action", ["", None])
def test_an_entry_needs_an_action(con, action):
    with pytest.raises(InputError, match="needs an action and an actor"):
        audit_log.audit(con, action, actor="ana")
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_the_log_shows_the_50_newest_unless_asked_for_more(con):
    with transaction(con):
        for n in range(51):
            audit_log.audit(con, "test.step", actor="ana", counts={"n": n})
    shown = audit_log.log(con)
    assert len(shown) == 50 and shown["seq"].iloc[0] == 51 and shown["seq"].iloc[-1] == 2
    assert len(audit_log.log(con, limit=100)) == 51
