"""An import that only adds calls brings the kept analysis snapshot up to date itself, to exactly what
a rebuild gives; any other change leaves the file to be rebuilt, as before."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pandas as pd
import pytest

from workbench import ingest
from workbench.analysis import needs, outreach, services, volunteers
from workbench.store import db, snapshot, snapshot_append, snapshot_file
from workbench.synthetic.io import write_exports

# Groupings a "first call" mark counts members by (`snapshot.MARKS`), as SQL over the snapshot's calls.
MARK_GROUPS = {
    "all": [], "day": ["CAST(called_at AS DATE)"], "week": ["date_trunc('week', called_at)"],
    "round": ["round"], "caller": ["caller"], "round+week": ["round", "date_trunc('week', called_at)"],
    "outcome": ["outcome"], "outcome+week": ["outcome", "date_trunc('week', called_at)"],
    "outcome+round": ["outcome", "round"],
    "outcome+round+week": ["outcome", "round", "date_trunc('week', called_at)"],
}


@pytest.fixture
def store(synthetic_store, tiny_org, tmp_path):
    """(connection, the org's calls export): a tiny store whose snapshot is built and kept."""
    exported = write_exports(tiny_org, tmp_path / "exports")
    con = db.connect(synthetic_store, db.DEMO_PASSPHRASE)
    snapshot.clear()
    snapshot.get(con)  # builds it, and keeps it beside the store
    assert snapshot_file.path_for(synthetic_store).exists()
    yield con, next(p for p in exported if p.name.startswith("call_outcomes"))
    snapshot.clear()
    con.close()


def _more_calls(export: Path, out: Path, n: int = 60, seed: int = 3, new_member: bool = False) -> Path:
    """New calls copied from the export's: later than any, earlier than any, at the same moment as
    the call copied (a tie), and in other rounds and outcomes, with their needs, skills and services."""
    rnd = random.Random(seed)  # noqa: S311 - which rows to copy, not a secret
    with export.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rnd.sample(rows, n)):
            row = {**row, "Call ID": f"NEW{seed:02d}{i:05d}", "Round": rnd.choice(["R1", "R2", "R7"])}
            if i % 4 == 0:
                row["Date"] = f"15/06/2020 10:{i % 60:02d}"
            elif i % 4 == 1:
                row["Date"] = "02/03/2020 09:00"
                row["Outcome"] = rnd.choice(["Answered", "No Answer", "Deceased/Moved"])
            writer.writerow(row)
        if new_member:
            writer.writerow({**rows[0], "Call ID": "NEWMEMBER1", "Membership Number": "SYN9999999"})
    return out


def _new_process_get(con):
    """What a new process does: no snapshot in memory, so it opens the kept file or builds."""
    snapshot.clear()
    builds, loads = snapshot.BUILDS, snapshot.LOADS
    snapshot.get(con)
    return snapshot.BUILDS - builds, snapshot.LOADS - loads


def _rebuilt(con) -> None:
    """Throw the kept file away and build the snapshot afresh from the store."""
    snapshot.clear()
    snapshot_file.discard(con.execute(snapshot.STORE_PATH_QUERY).fetchone()[0])
    assert _new_process_get(con) == (1, 0)


def _views(con) -> dict[str, pd.DataFrame]:
    """What people see: the dashboard's groupings under filters, the queue, services, volunteers."""
    seen = {}
    for by in outreach.GROUPS:
        for name, filters in (("all", {}), ("R2", {"round": "R2"}), ("answered", {"outcome": "answered"}),
                              ("R1 no answer", {"round": "R1", "outcome": "no_answer"})):
            seen[f"{by} {name}"] = outreach.summary(con, by=by, **filters)
    seen["headline"] = pd.DataFrame([outreach.headline(con)])
    seen["queue"] = needs.queue(con)
    seen["usage"] = services.usage(con)
    gaps = services.gaps(con)
    seen["no service"], seen["uncovered"], seen["unlisted"] = gaps.no_service, gaps.uncovered, gaps.unlisted
    seen["keen"] = volunteers.keen(con)
    seen["matches"] = volunteers.matches(con)
    return seen


def _tables(con) -> dict[str, list]:
    """Every table of the snapshot, with each cid shown as its call_id (cids are numbered in another
    order by a build). The calls' marks and the cube they sum are left to `_marks`: which of two
    calls at the same moment carries a member's mark is arbitrary, in a build as here."""
    cursor = snapshot.get(con).volunteer_tables().cursor()
    tables = {}
    for (name,) in cursor.execute("SELECT DISTINCT table_name FROM duckdb_tables() "
                                  "WHERE table_name NOT IN ('outreach_cube', 'snapshot_meta')").fetchall():
        columns = [c for (c,) in cursor.execute(f"SELECT column_name FROM (DESCRIBE {name})").fetchall()]
        shown = [c for c in columns if c not in ("cid", "firsts")]
        by_cid = "cid" in columns and name != "calls"
        via = ", (SELECT call_id FROM calls WHERE cid = t.cid)" if by_cid else ""
        rows = cursor.execute(f"SELECT {', '.join(f't.{c}' for c in shown)}{via} FROM {name} t").fetchall()
        tables[name] = sorted(map(repr, rows))
    return tables


def _marks(con) -> dict[tuple, list]:
    """For each mark, the (member, group) pairs it marks: one per pair, whichever call carries it."""
    cursor = snapshot.get(con).cursor()
    marked = {}
    for bit, (group, answered) in enumerate(snapshot.MARKS):
        columns = ", ".join(["mid", *(f"CAST({c} AS VARCHAR)" for c in MARK_GROUPS[group])])
        rows = cursor.execute(f"SELECT {columns} FROM calls WHERE (firsts >> {bit}) & 1 = 1").fetchall()
        expected = cursor.execute(f"SELECT DISTINCT {columns} FROM calls"
                                  + (" WHERE outcome = 'answered'" if answered else "")).fetchall()
        assert sorted(rows, key=repr) == sorted(expected, key=repr), (group, answered)
        marked[group, answered] = sorted(map(repr, rows))
    return marked


def _assert_same(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for name in left:
        if isinstance(left[name], pd.DataFrame):
            pd.testing.assert_frame_equal(left[name], right[name], obj=name)
        else:
            assert left[name] == right[name], name


def test_an_import_that_adds_calls_updates_the_kept_snapshot_to_what_a_rebuild_gives(store, tmp_path):
    con, export = store
    before = outreach.headline(con)
    result = ingest.import_calls(con, _more_calls(export, tmp_path / "more.csv"), actor="test")
    assert (result.loaded, result.members_created, result.updated) == (60, 0, 0)
    # A new process opens the file the import updated: nothing is rebuilt.
    assert _new_process_get(con) == (0, 1)
    updated = (_views(con), _tables(con), _marks(con))
    assert updated[0]["headline"]["attempts"].iloc[0] == before["attempts"] + 60
    _rebuilt(con)
    rebuilt = (_views(con), _tables(con), _marks(con))
    for left, right in zip(updated, rebuilt, strict=True):
        _assert_same(left, right)


def test_two_imports_in_a_row_each_update_it(store, tmp_path):
    con, export = store
    for seed in (4, 5):
        ingest.import_calls(con, _more_calls(export, tmp_path / f"more{seed}.csv", n=30, seed=seed),
                            actor="test")
        assert _new_process_get(con) == (0, 1)
    updated = _views(con)
    _rebuilt(con)
    _assert_same(updated, _views(con))


def test_an_import_that_adds_a_member_leaves_the_file_to_be_rebuilt(store, tmp_path):
    con, export = store
    result = ingest.import_calls(con, _more_calls(export, tmp_path / "m.csv", new_member=True), actor="test")
    assert result.members_created == 1
    # New members would renumber the snapshot's members: the file is stale, and the next reader rebuilds.
    assert _new_process_get(con) == (1, 0)
    assert outreach.headline(con)["members_called"] == con.execute(
        "SELECT count(DISTINCT c.member_key) FROM calls c JOIN members USING (member_key)").fetchone()[0]


def test_a_write_behind_the_librarys_back_before_an_import_is_still_caught(store, tmp_path):
    con, export = store
    # Another program changes a held call; then an import adds calls. The sums no longer add up, so
    # the file is not updated, and the next reader rebuilds it with both changes.
    con.execute("UPDATE calls SET outcome = 'wrong_number' WHERE call_id = (SELECT min(call_id) FROM calls)")
    ingest.import_calls(con, _more_calls(export, tmp_path / "more.csv"), actor="test")
    assert _new_process_get(con) == (1, 0)
    wrong = outreach.summary(con, by="round")["wrong_number"].sum()
    assert wrong == con.execute("SELECT count(*) FROM calls WHERE outcome = 'wrong_number'").fetchone()[0]



def test_a_large_import_is_left_to_the_next_reader(store, tmp_path):
    con, export = store
    held = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    many = int(held * snapshot_append.MAX_ADDED_SHARE) + 1  # beyond it, a rebuild is the quicker way
    result = ingest.import_calls(con, _more_calls(export, tmp_path / "many.csv", n=many), actor="test")
    assert result.loaded == many
    assert _new_process_get(con) == (1, 0)
    assert outreach.headline(con)["attempts"] == held + many


def test_a_dry_run_leaves_the_kept_snapshot_as_it_was(store, tmp_path):
    con, export = store
    result = ingest.import_calls(con, _more_calls(export, tmp_path / "more.csv"), actor="test", dry_run=True)
    assert result.loaded == 60
    assert _new_process_get(con) == (0, 1)  # still valid: the store is as it was
