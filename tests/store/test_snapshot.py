"""The analysis snapshot: built once per store state, rebuilt on any change, never used stale."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from small_org import small_store

from workbench.analysis import needs, outreach
from workbench.privacy import optouts, pseudonymise
from workbench.store import db, record_keys, snapshot, snapshot_file, state


@pytest.fixture
def small(con):
    snapshot.clear()
    small_store(con)
    return con


def test_snapshot_is_reused_while_the_store_is_unchanged(small):
    first = snapshot.get(small)
    builds = snapshot.BUILDS
    outreach.summary(small, by="week")
    outreach.headline(small)
    needs.queue(small)
    assert snapshot.get(small) is first
    assert snapshot.BUILDS == builds


def test_a_new_call_rebuilds_the_snapshot_and_shows_in_the_figures(small):
    before = outreach.headline(small)
    old = snapshot.get(small)
    small.execute(
        "INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
        "VALUES ('c99', 'm4', 'R2', 'C01', '2020-04-22 10:00', 'answered')"
    )
    after = outreach.headline(small)
    assert snapshot.get(small) is not old
    assert after["attempts"] == before["attempts"] + 1
    assert after["reached"] == before["reached"] + 1  # m4 had never answered


def test_an_in_place_update_rebuilds_the_snapshot(small):
    before = outreach.summary(small, by="round").set_index("round").loc["R2", "reached"]
    small.execute("UPDATE calls SET outcome = 'no_answer' WHERE call_id = (SELECT min(call_id) FROM calls "
                  "WHERE round = 'R2' AND outcome = 'answered')")
    after = outreach.summary(small, by="round").set_index("round").loc["R2", "reached"]
    assert after == before - 1


def test_follow_up_state_is_always_live(small):
    queued = needs.queue(small)
    key = queued["member_key"].iloc[0]
    # Resolving writes followups (and the audit log): the queue must drop the member at once.
    needs.set_state(small, key, "resolved", actor="test")
    assert key not in needs.queue(small)["member_key"].tolist()
    # Reopening shows again: follow-ups are read from the store on every query.
    small.execute("UPDATE followups SET state = 'open', resolved_at = NULL WHERE member_key = ?", [key])
    assert key in needs.queue(small)["member_key"].tolist()


def test_inside_a_transaction_nothing_is_cached_and_uncommitted_rows_count(small):
    kept = snapshot.get(small)
    small.execute("BEGIN TRANSACTION")
    small.execute(
        "INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
        "VALUES ('c98', 'm4', 'R2', 'C01', '2020-04-22 10:00', 'busy')"
    )
    inside = outreach.headline(small)["attempts"]
    small.execute("ROLLBACK")
    assert inside == outreach.headline(small)["attempts"] + 1
    assert snapshot.get(small) is kept  # the throwaway snapshot replaced nothing


def test_snapshot_holds_no_identity(small):
    cursor = snapshot.get(small).cursor()
    columns = {row[0] for row in cursor.execute("SELECT column_name FROM duckdb_columns()").fetchall()}
    for forbidden in ("membership_number", "first_name", "last_name", "phone", "email", "address", "notes",
                      "phone_hash", "membership_hash", "postcode"):
        assert forbidden not in columns


def test_one_store_at_a_time(small, tmp_path):
    snapshot.get(small)
    other_path = tmp_path / "other.duckdb"
    db.init_store(other_path, "another passphrase")
    other = db.connect(other_path, "another passphrase")
    try:
        mine = snapshot.get(other)
        assert snapshot._CURRENT is mine
        assert mine.cursor().execute("SELECT count(*) FROM calls").fetchone()[0] == 0
    finally:
        other.close()


def _gone_store(con) -> None:
    """Deceased/moved cases: latest call says so, a later call overrides, a tie at the latest moment
    (suppressed: the safe side), and a key with calls but no members row."""
    con.executemany(
        "INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
        "VALUES (?, ?, 'R9', 'C01', ?, ?)",
        [
            ("g1", "m1", "2020-05-01 10:00", "deceased_moved"),
            ("g2", "m2", "2020-05-01 10:00", "deceased_moved"),
            ("g3", "m2", "2020-05-02 10:00", "answered"),
            ("g4", "m3", "2020-05-03 10:00", "deceased_moved"),
            ("g5", "m3", "2020-05-03 10:00", "busy"),
            ("g6", "ghost", "2020-05-04 10:00", "deceased_moved"),
        ],
    )


def _flagged(con) -> dict[str, str]:
    return dict(optouts.flagged(con).itertuples(index=False, name=None))


def test_deceased_or_moved_from_the_snapshot_matches_the_store_query(small):
    _gone_store(small)
    small.execute("BEGIN TRANSACTION")  # no snapshot inside a transaction: the store query answers
    assert snapshot.current(small) is None
    from_store = _flagged(small)
    small.execute("COMMIT")
    snapshot.get(small)
    assert snapshot.current(small) is not None
    from_snapshot = _flagged(small)
    assert from_snapshot == from_store
    gone = {k for k, reason in from_snapshot.items() if reason == "deceased or moved"}
    assert {"m1", "m3", "ghost"} <= gone and "m2" not in gone


def test_a_stale_snapshot_is_never_used_for_suppression(small):
    snapshot.get(small)
    small.execute(
        "INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
        "VALUES ('g7', 'm4', 'R9', 'C01', '2020-06-01 10:00', 'deceased_moved')"
    )
    assert snapshot.current(small) is None  # the store changed: current() refuses the old snapshot
    assert _flagged(small).get("m4") == "deceased or moved"


def test_opt_outs_and_erasures_are_read_live_even_with_a_current_snapshot(small):
    snapshot.get(small)
    before = set(needs.queue(small)["member_key"])
    key = sorted(before)[0]
    optouts.add(small, actor="test", reason="asked not to be called", member_key=key)
    assert key not in set(needs.queue(small)["member_key"])


def test_the_erased_reason_outranks_deceased_or_moved(small):
    _gone_store(small)
    small.execute("UPDATE members SET erased_at = now() WHERE member_key = 'm1'")
    snapshot.get(small)
    assert _flagged(small)["m1"] == "erased"


def test_mid_orders_as_member_key(small):
    with snapshot.get(small).cursor() as cursor:
        keys = [r[0] for r in cursor.execute("SELECT member_key FROM members ORDER BY mid").fetchall()]
    assert keys == sorted(keys)


def test_a_kept_register_reading_is_reused_only_while_store_and_register_are_unchanged(small):
    first = optouts.flagged(small)
    kept = optouts._READINGS["calls"][1]
    assert "m2" not in set(first["member_key"])
    optouts.flagged(small)
    assert optouts._READINGS["calls"][1] is kept  # nothing changed: the reading is reused

    # Writes that bypass the library (no audit entry) are seen all the same.
    small.execute(
        "INSERT INTO optouts (optout_id, member_key, scope, reason, source, recorded_at) "
        "VALUES ('raw-1', 'm2', 'calls', 'other', 'manual', now())"
    )
    assert _flagged(small)["m2"] == "opted out"
    small.execute("UPDATE optouts SET withdrawn_at = now() WHERE optout_id = 'raw-1'")
    assert "m2" not in _flagged(small)
    small.execute("UPDATE members SET erased_at = now() WHERE member_key = 'm2'")
    assert _flagged(small)["m2"] == "erased"


def test_a_register_reading_is_never_kept_inside_a_transaction(small):
    optouts.flagged(small)
    small.execute("BEGIN TRANSACTION")
    small.execute(
        "INSERT INTO optouts (optout_id, member_key, scope, reason, source, recorded_at) "
        "VALUES ('raw-2', 'm3', 'calls', 'other', 'manual', now())"
    )
    assert _flagged(small)["m3"] == "opted out"  # uncommitted, seen by this transaction
    small.execute("ROLLBACK")
    assert "m3" not in _flagged(small)


@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 3), st.sampled_from(["R1", "R2", None]),
                          st.sampled_from(["C1", "C2", None]),
                          st.sampled_from(["answered", "busy", "refused"])), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_first_marks_match_the_group_by_definition(calls):
    """One call per (member, group) and one answered call per (member, group) carry the bits: the
    same marks as `min(cid) GROUP BY mid, group`, worked out here in plain SQL, for every mark."""
    import duckdb
    import numpy as np

    rows = sorted(calls, key=lambda c: (c[0], c[1]))  # cid order: by member, then time
    con = duckdb.connect()
    con.execute("CREATE TABLE c (cid INT, mid INT, day INT, week INT, round VARCHAR, caller VARCHAR, "
                "outcome VARCHAR)")
    con.executemany("INSERT INTO c VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(i, m, d, d // 2, r, k, o) for i, (m, d, r, k, o) in enumerate(rows)])
    expected = np.zeros(len(rows), dtype=np.int32)
    for group, answered in snapshot.MARKS:
        by = "NULL" if group == "all" else ", ".join(group.split("+"))
        where = "WHERE outcome = 'answered'" if answered else ""
        for (cid,) in con.execute(f"SELECT min(cid) FROM c {where} GROUP BY mid, {by}").fetchall():
            expected[cid] |= snapshot.first_bit(group, answered)
    codes = {v: i for i, v in enumerate(["R1", "R2", "C1", "C2", None, "answered", "busy", "refused"])}
    column = {name: np.array([f(r) for r in rows], dtype=np.int64) for name, f in {
        "day": lambda r: r[1], "week": lambda r: r[1] // 2, "round": lambda r: codes[r[2]],
        "caller": lambda r: codes[r[3]], "outcome": lambda r: codes[r[4]]}.items()}
    mid = np.array([r[0] for r in rows], dtype=np.int64)
    answered = np.array([r[4] == "answered" for r in rows], dtype=bool)
    assert snapshot.first_marks(mid, column, answered).tolist() == expected.tolist()


def test_a_write_that_leaves_the_analysis_data_alone_keeps_the_snapshot(small):
    from workbench.store import settings

    first, builds = snapshot.get(small), snapshot.BUILDS
    settings.set(small, "escalate_after_days", "9", actor="test")  # a write, audited, no analysis data
    assert snapshot.current(small) is None  # the store changed: not trusted until checked
    assert snapshot.get(small) is first and snapshot.BUILDS == builds  # checked: same data, kept
    assert snapshot.current(small) is first


def test_an_update_that_keeps_every_count_still_rebuilds(small):
    before = outreach.summary(small, by="ward").set_index("ward")["attempts"].to_dict()
    old = snapshot.get(small)
    small.execute("UPDATE members SET ward = 'East' WHERE member_key = 'm1'")  # same rows, new ward
    after = outreach.summary(small, by="ward").set_index("ward")["attempts"].to_dict()
    assert snapshot.get(small) is not old and after != before


def test_follow_up_changes_show_at_once_though_the_needing_rows_are_kept(small):
    first = set(needs.queue(small)["member_key"])
    key = sorted(first)[0]
    needs.set_state(small, key, "resolved", actor="test")
    assert key not in set(needs.queue(small)["member_key"])
    # A change made behind the library's back (no audit entry) is seen too: the store changed.
    small.execute("UPDATE followups SET state = 'open', resolved_at = NULL WHERE member_key = ?", [key])
    assert key in set(needs.queue(small)["member_key"])


def _new_process_get(con):
    """What a new process does: no snapshot in memory, so it opens the kept file or builds."""
    snapshot.clear()
    builds, loads = snapshot.BUILDS, snapshot.LOADS
    snap = snapshot.get(con)
    return snap, snapshot.BUILDS - builds, snapshot.LOADS - loads


def _store_path(con):
    return con.execute(snapshot.STORE_PATH_QUERY).fetchone()[0]


def test_a_new_process_opens_the_kept_snapshot_instead_of_building(small):
    before = outreach.summary(small, by="ward")
    queue = needs.queue(small)
    kept = snapshot_file.path_for(_store_path(small))
    assert kept.exists() and (kept.stat().st_mode & 0o777) == 0o600
    _, built, loaded = _new_process_get(small)
    assert (built, loaded) == (0, 1)
    pd.testing.assert_frame_equal(outreach.summary(small, by="ward"), before)
    pd.testing.assert_frame_equal(needs.queue(small), queue)


def test_a_write_behind_the_librarys_back_is_caught_by_the_checksum_not_served_from_the_file(small):
    before = outreach.headline(small)
    snapshot.clear()
    # A write from another program: no audit entry, no library call. A new process must not
    # trust the kept file, whose data no longer matches the store's.
    small.execute("UPDATE calls SET outcome = 'no_answer' WHERE outcome = 'answered'")
    _, built, loaded = _new_process_get(small)
    assert (built, loaded) == (1, 0)
    assert outreach.headline(small)["reached"] == 0 < before["reached"]
    # The rebuilt snapshot replaced the file: the next process opens it, with the new data.
    _, built, loaded = _new_process_get(small)
    assert (built, loaded) == (0, 1) and outreach.headline(small)["reached"] == 0


def test_the_kept_file_is_encrypted_and_holds_no_identity(small):
    snapshot.get(small)
    path = snapshot_file.path_for(_store_path(small))
    with pytest.raises(duckdb.Error):
        duckdb.connect().execute(f"ATTACH '{path}' AS k (READ_ONLY)")
    kept = snapshot_file.load(_store_path(small), snapshot_file.file_key(small), snapshot.stamp_for(
        snapshot.content(small)))
    columns = {r[0] for r in kept.execute("SELECT column_name FROM duckdb_columns()").fetchall()}
    assert "member_key" in columns
    assert not columns & {"membership_number", "first_name", "last_name", "phone", "email", "notes",
                          "postcode", "address"}


def test_a_kept_file_of_other_data_or_another_key_is_not_opened(small):
    snapshot.get(small)
    store = _store_path(small)
    stamp = snapshot.stamp_for(snapshot.content(small))
    assert snapshot_file.load(store, snapshot_file.file_key(small), stamp + "x") is None
    assert snapshot_file.load(store, "0" * 64, stamp) is None


def test_erasure_discards_the_kept_file(small):
    from workbench.privacy import erasure

    snapshot.get(small)
    path = snapshot_file.path_for(_store_path(small))
    assert path.exists()
    erasure.erase(small, actor="test", reason="subject_request", member_key="m1")
    assert not path.exists()


def test_a_kept_file_is_trusted_without_the_checksum_only_at_the_exact_store_state_it_was_saved_at(small):
    # A new process skips the content checksum when the store's fingerprint (file and WAL inode,
    # size and mtime; row counts; audit head) is the one the file was saved at, and only then.
    snapshot.get(small)
    store, file_key = _store_path(small), snapshot_file.file_key(small)
    saved_at = state.fingerprint(small)
    kept = snapshot_file.load(store, file_key, state=snapshot.state_for(saved_at))
    assert kept is not None
    kept.close()
    path, calls, members, seq, stats = saved_at
    for changed in [(path, calls + 1, members, seq, stats), (path, calls, members, (seq or 0) + 1, stats),
                    (path, calls, members, seq, tuple((i, size + 1, t) for i, size, t in stats))]:
        assert snapshot_file.load(store, file_key, state=snapshot.state_for(changed)) is None
    # A write from another program moves the fingerprint, so the next process checks the content.
    small.execute("UPDATE calls SET wellbeing = 1 WHERE wellbeing = 2")
    assert state.fingerprint(small) != saved_at
    assert snapshot_file.load(store, file_key, state=snapshot.state_for(state.fingerprint(small))) is None
    _, built, loaded = _new_process_get(small)
    assert (built, loaded) == (1, 0)


def test_a_kept_file_checked_by_content_records_the_state_so_the_next_process_skips_the_checksum(small):
    from workbench.store import settings

    snapshot.get(small)
    store, file_key = _store_path(small), snapshot_file.file_key(small)
    settings.set(small, "escalate_after_days", "9", actor="test")  # a write that leaves the data alone
    now = state.fingerprint(small)
    assert snapshot_file.load(store, file_key, state=snapshot.state_for(now)) is None  # saved before it
    _, built, loaded = _new_process_get(small)  # checked by content, opened, and stamped with the state
    assert (built, loaded) == (0, 1)
    kept = snapshot_file.load(store, file_key, state=snapshot.state_for(now))
    assert kept is not None
    kept.close()
    path = snapshot_file.path_for(store)
    assert (path.stat().st_mode & 0o777) == 0o600 and not path.with_name(path.name + ".wal").exists()
    # A stamp for other data is never given a state.
    assert not snapshot_file.restamp(store, file_key, "another build:()", snapshot.state_for(now) + "x")
    assert snapshot_file.load(store, file_key, state=snapshot.state_for(now) + "x") is None


def _hashed_record_keys(con, secret: bytes) -> dict[int, int]:
    sql = f"SELECT mid, {record_keys.sql(secret, 'member_key')} FROM members"
    with snapshot.get(con).cursor() as cursor:
        return dict(cursor.execute(sql).fetchall())


def test_a_kept_build_keeps_every_members_record_key_under_the_secret_it_was_made_with(small):
    secret = pseudonymise.record_secret(small)  # as a first report makes it
    small.execute("UPDATE calls SET wellbeing = 1 WHERE call_id = (SELECT min(call_id) FROM calls)")
    snapshot.get(small)  # the data changed: a kept build, with the keys
    snap, built, loaded = _new_process_get(small)
    assert (built, loaded) == (0, 1)
    kept = snap.kept_record_keys(secret)
    assert dict(zip(kept["mid"].to_pylist(), kept["rk"].to_pylist(), strict=True)) == (
        _hashed_record_keys(small, secret))
    assert kept.num_rows == small.execute("SELECT count(*) FROM members").fetchone()[0]
    # Keys made under another secret are never handed out as this one's.
    assert snap.kept_record_keys(b"\x01" * 32) is None


def test_a_build_before_the_store_has_a_record_secret_keeps_no_keys(small):
    small.execute("DELETE FROM keys WHERE name = ?", [record_keys.NAME])  # as before any report
    snap, built, _ = _new_process_get(small)
    assert built == 1 and record_keys.existing_secret(small) is None  # reading never makes one
    assert snap.kept_record_keys(pseudonymise.record_secret(small)) is None


def _new_process(path):
    """A new process's first look at the store: (snapshot, built, loaded, its connection)."""
    snapshot.clear()
    reader = db.connect(path, db.DEMO_PASSPHRASE, read_only=True)
    builds, loads = snapshot.BUILDS, snapshot.LOADS
    snap = snapshot.get(reader)
    return snap, snapshot.BUILDS - builds, snapshot.LOADS - loads, reader


def test_after_a_report_the_next_process_opens_the_kept_snapshot_unchecked(synthetic_store, tmp_path):
    from workbench import reports

    con = db.connect(synthetic_store, db.DEMO_PASSPHRASE)
    before = outreach.summary(con, by="ward")
    reports.build(con, tmp_path / "r1", actor="test")  # writes its ledger entry, keys and audit entry
    con.close()
    snap, built, loaded, reader = _new_process(synthetic_store)
    try:
        # Opened by the store state the release left (no content checked), with the same figures.
        assert (built, loaded) == (0, 1) and snap.content is None
        pd.testing.assert_frame_equal(outreach.summary(reader, by="ward"), before)
    finally:
        reader.close()


def test_a_write_after_a_report_is_still_caught_by_the_checksum(synthetic_store, tmp_path):
    from workbench import reports

    con = db.connect(synthetic_store, db.DEMO_PASSPHRASE)
    reached = outreach.headline(con)["reached"]
    reports.build(con, tmp_path / "r1", actor="test")
    con.close()
    # Another process changes the data behind the library's back (plain SQL, no audit entry) once
    # the release is done.
    other = db.connect(synthetic_store, db.DEMO_PASSPHRASE)
    other.execute("UPDATE calls SET outcome = 'no_answer' WHERE outcome = 'answered'")
    other.close()
    _, built, loaded, reader = _new_process(synthetic_store)
    try:
        assert (built, loaded) == (1, 0)
        assert outreach.headline(reader)["reached"] == 0 < reached
    finally:
        reader.close()


def test_nothing_is_carried_over_when_calls_changed_or_the_snapshot_is_of_another_state(small):
    before = state.fingerprint(small)
    snapshot.get(small)
    small.execute("DELETE FROM calls WHERE call_id = (SELECT min(call_id) FROM calls)")
    assert not snapshot.carry_over(small, before, let_go=True)  # a call fewer: not the caller's word
    before = state.fingerprint(small)
    small.execute("UPDATE calls SET wellbeing = 1 WHERE call_id = (SELECT min(call_id) FROM calls)")
    snapshot.get(small)  # rebuilt: of the state after the update, not of `before`
    assert not snapshot.carry_over(small, before, let_go=True)
    assert snapshot.current(small) is not None  # and kept, untouched


@pytest.mark.parametrize("write", ["opt-out", "follow-up", "withdrawal"])
def test_after_an_opt_out_or_follow_up_change_nothing_checks_the_data_again(small, write):
    snap = snapshot.get(small)  # built and kept: this process and the file are of the state now
    if write == "opt-out":
        optouts.add(small, actor="test", reason="asked not to be called", member_key="m2")
    elif write == "follow-up":
        needs.set_state(small, needs.queue(small)["member_key"].iloc[0], "resolved", actor="test")
    else:
        optouts.add(small, actor="test", reason="asked not to be called", member_key="m2")
        optouts.withdraw(small, actor="test", reason="re-consented", member_key="m2")
    checks = snapshot.CHECKS
    # This process carries on with its snapshot, without checking the data...
    assert snapshot.get(small) is snap and snapshot.CHECKS == checks
    # ...and so does the next one, opening the kept file by the state the write left.
    again, built, loaded = _new_process_get(small)
    assert (built, loaded) == (0, 1) and again.content is None and snapshot.CHECKS == checks
    flagged = optouts.flagged(small)
    assert ("m2" in flagged["member_key"].tolist()) == (write == "opt-out")


def test_a_write_said_to_leave_the_analysis_data_alone_that_adds_a_call_is_still_caught(small):
    snapshot.get(small)
    with snapshot.leaving_analysis_data_alone(small):
        small.execute("INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
                      "VALUES ('c97', 'm4', 'R2', 'C01', '2020-04-22 10:00', 'answered')")
    _, built, loaded = _new_process_get(small)
    assert (built, loaded) == (1, 0)  # a call more than before: not carried over, so checked and rebuilt
    assert outreach.headline(small)["reached"] == small.execute(
        "SELECT count(DISTINCT member_key) FROM calls JOIN members USING (member_key) "
        "WHERE outcome = 'answered'").fetchone()[0]


def test_a_snapshot_read_from_the_kept_file_is_carried_over_here_and_the_file_checked_once(small):
    snapshot.get(small)
    snap, _, loaded = _new_process_get(small)  # as a dashboard kernel: reading the kept file
    assert loaded == 1
    needs.set_state(small, needs.queue(small)["member_key"].iloc[0], "resolved", actor="test")
    checks = snapshot.CHECKS
    assert snapshot.get(small) is snap and snapshot.CHECKS == checks
    # The file was open here, so it could not record the new state: the next process checks the
    # data once (and records the state for the one after).
    _, built, loaded = _new_process_get(small)
    assert (built, loaded, snapshot.CHECKS) == (0, 1, checks + 1)
