"""Bringing the kept analysis snapshot up to date when an import only adds calls.

A calls import changes what the snapshot copies, so the file kept beside the store
(`snapshot_file`) no longer matches, and the next report would rebuild it: ~6.5 s on the national
store, even after a council's 200-row log. Most imports after the first only add calls. For those,
the import brings the kept file up to date itself, straight after its transaction commits, while
its connection still holds the store's write lock (so no other process can write in between):

- the new calls get cids after the last one, and their needs, skills and services are added, with
  the same queries the build uses (`snapshot.CALL_NEEDS_QUERY` and the rest);
- only the members those calls are about can change their "first call" marks, latest answered
  call, need, keenness or gone-ness: their marks are worked out again from all their calls, the
  dashboard's cube is adjusted by the difference, and their `latest`, `needing`, `gone`, `keen` and
  `offers` rows are replaced, again with the build's own queries, narrowed to them.

It is done only when arithmetic proves the import added calls and did nothing else to what the
snapshot copies: the checksum the file was stamped with (per source: rows and summed row hashes,
`snapshot.content`) plus the checksum of the rows this import added must equal the store's checksum
now. A member added or changed, a held call completed, a service added, or a write behind the
library's back breaks the equation; then nothing is done, and the next reader finds the file stale
and rebuilds it, as before. A failure part way rolls back the file's own transaction, with the same
result. So nothing stale is ever served, and a successful update is stamped exactly as a build of
the same data would be.
"""

from __future__ import annotations

import ast
import contextlib

import duckdb
import pyarrow as pa

from workbench.errors import StoreError
from workbench.store import db, snapshot, snapshot_file
from workbench.store.state import fingerprint, in_transaction

# Beyond this share of the calls already held, the import would wait longer than the rebuild it
# saves the next reader. On the national store (2M calls) working the change in took 0.5 s for 400
# calls, 0.8 s for 20,000 and 2.0 s for 100,000 (about 15 µs a call), against ~6.5 s for a rebuild.
MAX_ADDED_SHARE = 0.1
CALL_SOURCES = ("calls", "call_needs", "call_skills", "call_services")
# The import's calls are found once (a scan of every call), into a temporary table on its connection.
ADDED = "CREATE OR REPLACE TEMP TABLE snapshot_added AS SELECT call_id FROM calls WHERE import_id = ?"
ADDED_ROWS = "SELECT * FROM ({sql}) s WHERE s.call_id IN (SELECT call_id FROM temp.snapshot_added)"
ADDED_CONTENT = "SELECT count(*), sum(hash(s)) FROM ({sql}) s WHERE s.call_id IN " \
    "(SELECT call_id FROM temp.snapshot_added)"

# The calls added, as the snapshot holds calls: numbered after the last cid, in the build's order.
NEW_CALLS = """
CREATE TEMP TABLE new_calls AS
SELECT CAST((SELECT coalesce(max(cid), 0) FROM calls)
            + row_number() OVER (ORDER BY m.place, m.mid, c.called_at) AS INTEGER) AS cid,
       c.call_id, m.mid, m.known, m.branch, m.ward, c.round, c.caller, c.called_at,
       CAST(c.outcome AS outcome_t) AS outcome, c.wellbeing, c.needs_support, c.urgency,
       c.keen_to_volunteer, c.dp_query
FROM src_calls c LEFT JOIN members m USING (member_key)
"""
AFFECTED = "CREATE TEMP TABLE affected AS SELECT DISTINCT mid FROM new_calls"
IN_AFFECTED = "mid IN (SELECT mid FROM affected)"
# Every call of the affected members, old and new, by member and time (as `calls_sorted` in the
# build), for `snapshot.sorted_marks`; `old` is a held call's marks, NULL for a new one.
AFFECTED_CALLS = f"""
CREATE TEMP TABLE calls_sorted AS
WITH a AS (
    SELECT cid, mid, called_at, round, caller, outcome, firsts AS old FROM calls WHERE {IN_AFFECTED}
    UNION ALL
    SELECT cid, mid, called_at, round, caller, outcome, NULL FROM new_calls)
SELECT cid, mid, called_at, outcome, old,
       dense_rank() OVER (ORDER BY round) AS round_code, dense_rank() OVER (ORDER BY caller) AS caller_code
FROM a ORDER BY mid, called_at, cid
"""
CALLS_QUERY = "SELECT cid, old FROM calls_sorted ORDER BY rowid"
# What the cube gains: +1 per new call with its marks; for a held call whose marks moved, -1 with
# the old marks and +1 with the new (its attempt nets to nothing).
CUBE_CHANGE = """
CREATE TEMP TABLE cube_change AS
SELECT branch, ward, known, round, outcome, CAST(called_at AS DATE) AS day,
       CAST(date_trunc('week', called_at) AS DATE) AS week,
       min(called_at) FILTER (WHERE is_new) AS first_at, CAST(sum(sign) AS BIGINT) AS attempts, COUNTS
FROM (
    SELECT n.*, m.new AS firsts, 1 AS sign, TRUE AS is_new FROM new_calls n JOIN marks m USING (cid)
    UNION ALL BY NAME
    SELECT c.* EXCLUDE (firsts), m.old AS firsts, -1 AS sign, FALSE AS is_new
    FROM calls c JOIN marks m USING (cid) WHERE m.old <> m.new
    UNION ALL BY NAME
    SELECT c.* EXCLUDE (firsts), m.new AS firsts, 1 AS sign, FALSE AS is_new
    FROM calls c JOIN marks m USING (cid) WHERE m.old <> m.new)
GROUP BY ALL
"""
UPDATE_MARKS = "UPDATE calls SET firsts = m.new FROM marks m WHERE calls.cid = m.cid AND m.old <> m.new"
INSERT_CALLS = (
    "INSERT INTO calls BY NAME SELECT n.*, m.new AS firsts FROM new_calls n JOIN marks m USING (cid)"
)
# Tables with rows of the new calls alone: their rows are added, by the build's own queries.
PER_CALL = (
    ("call_needs", snapshot.CALL_NEEDS_QUERY),
    ("call_skills", snapshot.CALL_SKILLS_QUERY),
    ("call_services", snapshot.CALL_SERVICES_QUERY),
    ("needs_recorded", snapshot.NEEDS_RECORDED_QUERY),
    ("services_named", snapshot.SERVICES_NAMED_QUERY),
    ("call_categories", snapshot.CALL_CATEGORIES_QUERY),
)
# Tables with rows per member: the affected members' rows are replaced (`pools` depends on members'
# wards alone, which an import of calls leaves alone).
PER_MEMBER = (
    ("latest", snapshot.LATEST_QUERY, f"DELETE FROM latest WHERE {IN_AFFECTED}"),
    ("needing", snapshot.NEEDING_QUERY, f"DELETE FROM needing WHERE {IN_AFFECTED}"),
    ("gone", snapshot.GONE_QUERY,
     f"DELETE FROM gone WHERE member_key IN (SELECT member_key FROM members WHERE {IN_AFFECTED})"),
    ("keen", snapshot.KEEN_QUERY, f"DELETE FROM keen WHERE {IN_AFFECTED}"),
    ("offers", snapshot.OFFERS_QUERY, f"DELETE FROM offers WHERE {IN_AFFECTED}"),
)
CUBE_KEYS = ("branch", "ward", "known", "round", "outcome", "day", "week")
SAME_CELL = " AND ".join(f"o.{k} IS NOT DISTINCT FROM d.{k}" for k in CUBE_KEYS)


def calls_appended(con: duckdb.DuckDBPyConnection, import_id: str, calls_added: int) -> bool:
    """Bring the snapshot kept beside the store on `con` up to date with the calls import
    `import_id` has just committed, if that import only added calls (see the module's docstring).

    Call it on the connection that imported, after its transaction commits. `calls_added`: how many
    calls it loaded (checked again against the store). Best effort: anything that stops it leaves
    the file stale, and the next reader rebuilds it.

    Returns:
        True if the kept file now holds the store's analysis data as it is.
    """
    if in_transaction(con):  # the caller's transaction decides, and it has not committed yet
        return False
    path = con.execute(snapshot.STORE_PATH_QUERY).fetchone()[0]
    if not path or not snapshot_file.path_for(path).exists():
        return False
    try:
        key = snapshot_file.file_key(con)
    except StoreError:
        return False
    # This process's own snapshot is of the state before; and the file must be open nowhere here.
    snapshot.clear()
    try:
        with snapshot_file.opened_for_update(path, key) as kept:
            before = _stamped_content(kept)
            # A first load, or a large one: the next reader's rebuild is the quicker way.
            if before is None or calls_added > MAX_ADDED_SHARE * _held(before, "calls"):
                return False
            return _update(con, kept, import_id, before)
    except Exception:  # noqa: BLE001 - the import has committed: a copy not updated is rebuilt later
        return False


def _update(con: duckdb.DuckDBPyConnection, kept: duckdb.DuckDBPyConnection, import_id: str,
            before: tuple) -> bool:
    """Check that the import only added calls; if so, work them into `kept` and stamp it."""
    # Closing a connection that wrote folds its WAL into the file, changing the state the next
    # process sees; after a checkpoint it changes nothing (as `snapshot.carry_over`).
    con.execute("CHECKPOINT")
    after = fingerprint(con)
    if after is None:
        return False
    now = snapshot.content(con)
    con.execute(ADDED, [import_id])
    try:
        added = {name: con.execute(ADDED_CONTENT.format(sql=snapshot.CONTENT_SOURCES[name])).fetchone()
                 for name in CALL_SOURCES}
        if not _only_added(before, added, now):
            return False
        for name in CALL_SOURCES:
            rows = con.execute(ADDED_ROWS.format(sql=snapshot.SOURCE_QUERIES[name]))
            kept.register(f"src_{name}", rows.fetch_arrow_table(rows_per_batch=snapshot.ARROW_BATCH_ROWS))
    finally:
        con.execute("DROP TABLE IF EXISTS temp.snapshot_added")
    done = _in_one_transaction(kept, now, after)
    if done:
        kept.execute(f"CHECKPOINT {snapshot_file.ALIAS}")
    return done


def _in_one_transaction(kept: duckdb.DuckDBPyConnection, now: tuple, after: tuple) -> bool:
    """`_work_in` and the file's new stamp, committed together or not at all."""
    kept.execute("BEGIN TRANSACTION")
    try:
        done = _work_in(kept)
        if done:
            kept.execute(f"UPDATE {snapshot_file.META_TABLE} SET stamp = ?, state = ?",
                         [snapshot.stamp_for(now), snapshot.state_for(after)])
        kept.execute("COMMIT" if done else "ROLLBACK")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            kept.execute("ROLLBACK")
        raise
    return done


def _stamped_content(kept: duckdb.DuckDBPyConnection) -> tuple | None:
    """The content checksum the kept file was built from, if this build version wrote it."""
    row = kept.execute(f"SELECT stamp FROM {snapshot_file.META_TABLE}").fetchone()
    prefix = f"{snapshot.VERSION}:"
    if row is None or not row[0].startswith(prefix):
        return None
    try:
        return ast.literal_eval(row[0].removeprefix(prefix))
    except (ValueError, SyntaxError):
        return None


def _only_added(before: tuple, added: dict[str, tuple], now: tuple) -> bool:
    """True if the store's content `now` is exactly `before` plus the `added` rows: the import
    added those and changed nothing else the snapshot copies (members, services, held calls)."""
    expected = []
    for name, (rows, hashes) in zip(snapshot.CONTENT_SOURCES, before, strict=True):
        plus_rows, plus_hashes = added.get(name, (0, None))
        total = (hashes or 0) + (plus_hashes or 0)
        expected.append((rows + plus_rows, total if rows + plus_rows else None))
    return tuple(expected) == tuple(now)


def _held(content: tuple, name: str) -> int:
    return content[list(snapshot.CONTENT_SOURCES).index(name)][0]


def _work_in(kept: duckdb.DuckDBPyConnection) -> bool:
    """Add the registered `src_` rows to the kept snapshot (inside the caller's transaction).

    Returns False, having changed nothing the caller will keep, when a call is about a member the
    snapshot does not number yet: new `mid`s would break their order, so that takes a rebuild.
    """
    kept.execute(NEW_CALLS)
    if kept.execute("SELECT count(*) FROM new_calls WHERE mid IS NULL").fetchone()[0]:
        return False
    after_cid = kept.execute("SELECT min(cid) - 1 FROM new_calls").fetchone()[0]
    kept.execute(AFFECTED)
    _new_marks(kept)
    kept.execute(CUBE_CHANGE.replace("COUNTS", snapshot.cube_counts(weight="sign")))
    _merge_cube(kept)
    kept.execute(UPDATE_MARKS)
    kept.execute(INSERT_CALLS)
    for table, query in PER_CALL:
        kept.execute(f"INSERT INTO {table} BY NAME " + snapshot.expand(query, after_cid=after_cid))
    for table, query, delete in PER_MEMBER:  # in this order: each reads the ones before
        kept.execute(delete)
        kept.execute(f"INSERT INTO {table} BY NAME " + snapshot.expand(query, affected=IN_AFFECTED))
    return True


def _new_marks(kept: duckdb.DuckDBPyConnection) -> None:
    """Make `marks` (cid, old, new): the "first call" marks of every call of the affected members,
    worked out again over their old and new calls together. A new call's `old` is -1, which no
    set of marks equals."""
    kept.execute(AFFECTED_CALLS)
    new = snapshot.sorted_marks(kept)
    calls = kept.execute(CALLS_QUERY).fetch_arrow_table()
    table = pa.table({"cid": calls["cid"], "old": calls["old"], "new": new})
    with db.registered(kept, table, "_marks") as marks:
        kept.execute(f"CREATE TEMP TABLE marks AS SELECT cid, coalesce(old, -1) AS old, new FROM {marks}")


def _merge_cube(kept: duckdb.DuckDBPyConnection) -> None:
    """Add `cube_change` into `outreach_cube`: each cell's counts summed, its first call the earlier."""
    counts = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in snapshot.cube_count_columns())
    keys = ", ".join(CUBE_KEYS)
    kept.execute(f"""
        CREATE TEMP TABLE cube_merged AS
        SELECT {keys}, min(first_at) AS first_at, {counts}
        FROM (SELECT o.* FROM outreach_cube o WHERE EXISTS (SELECT 1 FROM cube_change d WHERE {SAME_CELL})
              UNION ALL BY NAME SELECT * FROM cube_change)
        GROUP BY ALL""")
    kept.execute(f"DELETE FROM outreach_cube o WHERE EXISTS (SELECT 1 FROM cube_change d WHERE {SAME_CELL})")
    kept.execute("INSERT INTO outreach_cube BY NAME SELECT * FROM cube_merged")



__all__ = ["MAX_ADDED_SHARE", "calls_appended"]
