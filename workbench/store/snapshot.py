"""A process-level, in-memory snapshot of the call data the analysis queries read.

Why it exists: a person waits on every dashboard filter change, and the target is 150 ms on the
national store (2M calls, 500,000 members). Grouping 2M calls by the 16-character VARCHAR
`member_key`, and joining `members` for branch and ward, took most of that budget. The snapshot
holds the same facts in a compact shape, in a private in-memory DuckDB database (a real DuckDB
table: a registered Arrow table scans several times slower):

- `members`: an INTEGER `mid` per member_key, with branch, ward, age and `place` (branch and ward as one
  integer, so calls sort on integers);
- `calls`: one row per attempt with `mid`, and the member's branch and ward copied on, so filters
  and groupings need no join; `cid` is an INTEGER per call_id;
- `outreach_cube`: attempts per (branch, ward, round, outcome, day), with counts of each "first
  call" mark: the dashboard's numbers come from its few thousand rows (`outreach.summary`);
- `call_needs`, `call_skills`, `call_services`, `services`: keyed by `cid`;
- `needs_recorded`, `services_named`: each need recorded on an answered call, and each service
  named on a call, of a known member, with the call's branch, ward, round and time beside it (and
  whether the call named a service), so the services views scan these few rows, not 2M calls;
- `latest`: every member's latest answered call (what "needs support" and "keen" are judged on);
- `call_categories`: each call's need categories as a sorted list (the queue shows and scores them);
- `needing`: members whose latest answered call recorded a need, with the categories and the part
  of the urgency score that depends on calls alone (`scoring.needing_columns`);
- `keen`: members whose latest answered call was keen, with that call's skills as a sorted list
  (this and the next two are built by `Snapshot.volunteer_tables`: with every kept build, otherwise
  on first use);
- `pools`, `offers`: keen members by the need category their skills suit (`vocabulary.CATEGORY_SKILLS`),
  in integer pools per (ward, category), with `vorder`, md5(member_key) as an integer, so matching
  sorts and joins integers rather than hashing keys;
- `gone`: members whose latest call says deceased or moved (`optouts.suppress` reads it; it depends
  only on calls, so it is as fresh as the snapshot; opt-outs and erasures are read from the store);
- `neighbours`: pairs of wards sharing a postcode district (`volunteers.neighbours`): ward names
  only; the postcodes they come from are read during the build and never kept;
- `kept_record_keys` (mid, rk) and `kept_record_keys_id`: every member's record key for the cell-key
  method (`store.record_keys`) and which secret made them, built with every kept build once the store
  has a record secret (`Snapshot.kept_record_keys`), so a new process's report hashes nothing.

`mid` is numbered in member_key order, so ordering by `mid` is ordering by member_key, on integers.

A new process does not rebuild it: each build is written, encrypted, beside the store
(`snapshot_file`), and the next process whose store holds the same data (the same `content`
checksum, below) opens that file instead: ~0.3 s against ~3.5 s on the national store. A report's
release, which writes no analysis data, records the state it leaves the store in
(`carry_over`), so the next process skips the checksum too. An import that only adds
calls brings the kept file up to date itself (`snapshot_append`), so the next process opens it
rather than rebuilding; it does so with the queries below, narrowed to the calls added.

It is kept per store state, keyed by `state.fingerprint` (file inode/size/mtime, row counts,
audit head), so any committed write, from any process, is noticed on the next call. Then a
checksum of the source tables (`content`) decides: the same data keeps the snapshot (re-keyed),
changed data rebuilds it. Inside an open transaction nothing is cached (`get` builds a throwaway
snapshot). Only one store's snapshot is kept, so memory stays bounded. Follow-up state and the
opt-out register are not part of the build: they are read from the store, and a reading is reused
only under the exact store fingerprint it was read at (`Snapshot.derived`, `optouts.flagged`), so
any committed write is seen at once.

Privacy: it holds no identity (no name, phone, email, membership number or note), only what the
analysis tables already hold, and never anything from `identities`. The record keys it keeps are
derived from a secret in the store; its file is encrypted under a key derived from the store's own
secrets, so whoever can read them could read that secret anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from workbench.errors import StoreError
from workbench.scoring import needing_columns
from workbench.store import db, record_keys, snapshot_file
from workbench.store.state import fingerprint
from workbench.vocabulary import CATEGORY_SKILLS, OUTCOMES

# Wards are neighbours when members of both live in the same postcode district (the outward code).
# Only the ward pairs leave the store; postcodes are read here and dropped.
NEIGHBOURS_QUERY = """
WITH districts AS (
    SELECT DISTINCT ward,
           left(replace(upper(postcode), ' ', ''), length(replace(postcode, ' ', '')) - 3) AS district
    FROM members WHERE ward IS NOT NULL AND length(replace(coalesce(postcode, ''), ' ', '')) >= 5
)
SELECT DISTINCT a.ward, b.ward AS neighbour
FROM districts a JOIN districts b ON a.district = b.district AND a.ward <> b.ward
ORDER BY 1, 2
"""

# Each statement copies one table from the store (`src`, read through Arrow) into the snapshot.
SOURCE_QUERIES = {
    "members": "SELECT member_key, branch, ward, age FROM members",
    "calls": """
        SELECT call_id, member_key, round, caller, called_at, outcome, wellbeing, needs_support, urgency,
               keen_to_volunteer, dp_query FROM calls""",
    "call_needs": "SELECT call_id, category FROM call_needs",
    "call_skills": "SELECT call_id, skill FROM call_skills",
    "call_services": "SELECT call_id, service_id, raw_name FROM call_services",
    "services": "SELECT service_id, name, category, areas, status FROM services",
    "neighbours": NEIGHBOURS_QUERY,
}

FIRSTS = "-- calls: calls_sorted with cid and firsts (`_add_firsts`)"

# Row count and summed row hashes of each source: equal sums mean the snapshot's data is unchanged.
# The ward pairs derive from members' wards and postcodes alone, so those are hashed instead of
# working the pairs out again (a fifth of the check's time).
CONTENT_SOURCES = {
    **{name: sql for name, sql in SOURCE_QUERIES.items() if name != "neighbours"},
    "members": "SELECT member_key, branch, ward, age, postcode FROM members",
}
CONTENT_QUERY = "SELECT " + ", ".join(
    f"(SELECT (count(*), sum(hash(s))) FROM ({sql}) s)" for sql in CONTENT_SOURCES.values()
)

# The tables below are defined once, as queries, so an import that appends calls brings a kept
# snapshot up to date with the same definitions (`snapshot_append`). Placeholders: AFTER_CID, the
# last cid before the calls being added (0 in a build: every call); AFFECTED, the members whose calls
# those are (TRUE in a build: everyone). The `src_` tables hold only the rows being added then.
CALL_NEEDS_QUERY = "SELECT c.cid, n.category FROM src_call_needs n JOIN calls c USING (call_id)"
CALL_SKILLS_QUERY = "SELECT c.cid, k.skill FROM src_call_skills k JOIN calls c USING (call_id)"
CALL_SERVICES_QUERY = (
    "SELECT c.cid, s.service_id, s.raw_name FROM src_call_services s JOIN calls c USING (call_id)"
)
NEEDS_RECORDED_QUERY = """
    SELECT c.cid, c.mid, c.branch, c.ward, c.round, c.called_at, n.category,
           EXISTS (SELECT 1 FROM call_services s WHERE s.cid = c.cid) AS serviced
    FROM call_needs n JOIN calls c USING (cid)
    WHERE c.outcome = 'answered' AND c.known AND c.cid > AFTER_CID"""
SERVICES_NAMED_QUERY = """
    SELECT c.cid, c.mid, c.branch, c.ward, c.round, c.called_at, s.service_id, s.raw_name
    FROM call_services s JOIN calls c USING (cid) WHERE c.known AND c.cid > AFTER_CID"""
# Every member's latest answered call; ties on time break by call_id, as in the store queries.
LATEST_QUERY = """
    WITH l AS (SELECT mid, arg_max(cid, (called_at, call_id)) AS cid FROM calls
               WHERE outcome = 'answered' AND AFFECTED GROUP BY mid)
    SELECT c.mid, m.member_key, c.branch, c.ward, m.age, c.cid, c.call_id, c.called_at,
           coalesce(c.needs_support, FALSE) AS needs_support, c.urgency, c.wellbeing,
           coalesce(c.keen_to_volunteer, FALSE) AS keen
    FROM l JOIN calls c ON c.cid = l.cid JOIN members m ON m.mid = c.mid WHERE m.known"""
CALL_CATEGORIES_QUERY = """
    SELECT cid, list(category ORDER BY category) AS categories FROM call_needs WHERE cid > AFTER_CID
    GROUP BY cid"""
# Members whose latest answered call recorded a need, with the static part of their urgency
# score (`scoring.needing_columns`); the queue adds the live follow-up state and days waiting.
NEEDING_QUERY = """
    SELECT NEEDING_COLUMNS FROM latest l LEFT JOIN call_categories k USING (cid)
    WHERE l.needs_support AND AFFECTED"""
# Gone: the member's latest call (by time) is deceased_moved; on a tie at that moment, the safe
# side: suppressed. Calls of keys without a members row count too, as in the store query.
GONE_QUERY = """
    SELECT m.member_key FROM calls c JOIN members m USING (mid) WHERE AFFECTED
    GROUP BY m.member_key
    HAVING max(c.called_at) FILTER (WHERE c.outcome = 'deceased_moved') = max(c.called_at)"""

BUILD_STATEMENTS = (
    # Outcomes compare as small integers, not strings: every summary counts each of them.
    # The whole vocabulary is in the type, so filtering on an outcome nobody had is not an error.
    """CREATE TYPE outcome_t AS ENUM (
       SELECT DISTINCT o FROM (SELECT outcome AS o FROM src_calls UNION ALL SELECT unnest(OUTCOME_LIST))
       ORDER BY 1)""",
    # Every member_key in members or calls gets an id; `known` says it has a members row (the store
    # queries that join members leave out calls of a key with none). `place` numbers (branch, ward)
    # in order, so calls sort on integers.
    """CREATE TABLE members AS
       WITH m AS (
           SELECT CAST(row_number() OVER (ORDER BY k.member_key) AS INTEGER) AS mid, k.member_key,
                  m.branch, m.ward, m.age, m.member_key IS NOT NULL AS known
           FROM (SELECT member_key FROM src_members UNION SELECT member_key FROM src_calls) k
           LEFT JOIN src_members m USING (member_key)
       ), places AS (
           SELECT branch, ward, CAST(row_number() OVER (ORDER BY branch, ward) AS INTEGER) AS place
           FROM (SELECT DISTINCT branch, ward FROM m)
       )
       SELECT m.*, p.place FROM m
       JOIN places p ON p.branch IS NOT DISTINCT FROM m.branch AND p.ward IS NOT DISTINCT FROM m.ward""",
    # Calls in branch and ward order, so a branch or ward filter skips most row groups on their
    # min/max statistics; `cid` (added with `firsts`, below) is the row's position in this order.
    # A member's calls at the same moment may come in either order: nothing depends on which gets
    # which cid (the latest call breaks ties on call_id itself), and sorting on call_id too cost 0.2 s.
    # `round_code` and `caller_code` number the distinct rounds and callers, for `_add_firsts`.
    """CREATE TABLE calls_sorted AS
       WITH rounds AS (
           SELECT round, row_number() OVER () AS code FROM (SELECT DISTINCT round FROM src_calls)),
       callers AS (
           SELECT caller, row_number() OVER () AS code FROM (SELECT DISTINCT caller FROM src_calls))
       SELECT c.call_id, m.mid, m.known,
              m.branch, m.ward, c.round, c.caller, c.called_at, CAST(c.outcome AS outcome_t) AS outcome,
              c.wellbeing, c.needs_support,
              c.urgency, c.keen_to_volunteer, c.dp_query, r.code AS round_code, k.code AS caller_code
       FROM src_calls c JOIN members m ON m.member_key = c.member_key
       JOIN rounds r ON r.round IS NOT DISTINCT FROM c.round
       JOIN callers k ON k.caller IS NOT DISTINCT FROM c.caller
       ORDER BY m.place, m.mid, c.called_at""",
    FIRSTS,
    "DROP TABLE calls_sorted",
    # The dashboard's pre-aggregate: attempts per (branch, ward, round, outcome, day), each with how
    # many of them carry each "first call" mark (`MARKS`). A filter change sums a few thousand of
    # these rows instead of grouping 2M calls, and counts members exactly as those queries do
    # (`outreach.summary`): for any branch, ward, round and outcome, by week, round, branch or ward.
    # The attempts are also in a column per outcome, so the outcome mix is plain sums (nine
    # FILTER clauses took 5 ms of every query).
    """CREATE TABLE outreach_cube AS
       SELECT branch, ward, known, round, outcome, CAST(called_at AS DATE) AS day,
              CAST(date_trunc('week', called_at) AS DATE) AS week, min(called_at) AS first_at,
              count(*) AS attempts, CUBE_COUNTS
       FROM calls GROUP BY ALL""",
    f"CREATE TABLE call_needs AS {CALL_NEEDS_QUERY}",
    f"CREATE TABLE call_skills AS {CALL_SKILLS_QUERY}",
    f"CREATE TABLE call_services AS {CALL_SERVICES_QUERY}",
    "CREATE TABLE services AS SELECT * FROM src_services",
    f"CREATE TABLE needs_recorded AS {NEEDS_RECORDED_QUERY}",
    f"CREATE TABLE services_named AS {SERVICES_NAMED_QUERY}",
    f"CREATE TABLE latest AS {LATEST_QUERY}",
    f"CREATE TABLE call_categories AS {CALL_CATEGORIES_QUERY}",
    f"CREATE TABLE needing AS {NEEDING_QUERY}",
    f"CREATE TABLE gone AS {GONE_QUERY}",
    "CREATE TABLE neighbours AS SELECT * FROM src_neighbours",
)

# Keen members: each keen member's latest call's skills, as a sorted list. `korder`, the order keen
# lists are shown in (branch, ward, member_key), is one integer fixed per member: the member's
# `place` (branch and ward, numbered in that order) in the high bits and `mid` (numbered in
# member_key order) in the low, so calls added later insert keen rows without renumbering the rest.
KEEN_QUERY = """
    SELECT l.mid, l.member_key, l.branch, l.ward, l.cid,
           coalesce((SELECT list(k.skill ORDER BY k.skill) FROM call_skills k WHERE k.cid = l.cid), [])
           AS skills,
           (CAST(m.place AS BIGINT) << 32) + l.mid AS korder
    FROM latest l JOIN members m USING (mid) WHERE l.keen AND AFFECTED"""
# A volunteer offers a category once, with the first (alphabetical) of their skills that suits it.
# `vorder`, the order volunteers are dealt out in, is md5(member_key)'s first 64 bits: a fixed
# shuffle that needs no ranking of the others.
OFFERS_QUERY = """
    SELECT p.pool, o.* FROM (
        SELECT k.mid, k.member_key, k.ward, s.category, min(s.skill) AS skill,
               CAST('0x' || left(md5(k.member_key), 16) AS UBIGINT) AS vorder
        FROM (SELECT mid, member_key, ward, unnest(skills) AS skill FROM keen WHERE AFFECTED) k
        JOIN (SELECT unnest(SKILL_NAMES) AS skill, unnest(SKILL_CATEGORIES) AS category) s USING (skill)
        GROUP BY k.mid, k.member_key, k.ward, s.category) o
    LEFT JOIN pools p USING (ward, category)"""

# Only the volunteer views read these, so they are built on first use (`Snapshot.volunteer_tables`),
# not by every report and dashboard that never asks for them.
VOLUNTEER_STATEMENTS = (
    f"CREATE TABLE keen AS {KEEN_QUERY}",
    # A matching pool is a (ward, category): an integer id, so matching joins and partitions on it.
    """CREATE TABLE pools AS
       SELECT CAST(row_number() OVER (ORDER BY ward, category) AS INTEGER) AS pool, ward, category,
              CAST(dense_rank() OVER (ORDER BY category) AS INTEGER) AS category_order
       FROM (SELECT DISTINCT ward FROM members WHERE ward IS NOT NULL),
            (SELECT DISTINCT unnest(SKILL_CATEGORIES) AS category)""",
    f"CREATE TABLE offers AS {OFFERS_QUERY}",
)


# Groupings with their own "first call" bits in `calls.firsts`: one bit marks one call per (member,
# group), another one answered call per (member, group), so counting flagged rows counts distinct
# members without grouping by member. Branch and ward are the member's, so "all" serves them.
# The combined groups let `outreach_cube` count members under a round or outcome filter: members
# called in a week of round R2 are the calls first of their (member, round, week). Outcome groups
# need no answered bit: under an outcome filter, reached is all the members called, or none.
MARK_GROUPS = ("all", "day", "week", "round", "caller",
               "round+week", "outcome", "outcome+week", "outcome+round", "outcome+round+week")
MARKS = tuple((group, answered) for group in MARK_GROUPS for answered in (False, True)
              if not (answered and "outcome" in group))

# What `first_marks` needs of each call, read in `calls_sorted` order: day and week as days since
# 1970, outcome as its position in the outcome type.
MARK_INPUTS_QUERY = """
SELECT rowid AS row, mid, CAST(epoch(CAST(called_at AS DATE)) AS BIGINT) // 86400 AS day,
       CAST(epoch(date_trunc('week', called_at)) AS BIGINT) // 86400 AS week,
       coalesce(outcome = 'answered', FALSE) AS answered, round_code AS round, caller_code AS caller,
       enum_code(outcome) AS outcome
FROM calls_sorted
"""
RUN_GROUPS = ("all", "day", "week")  # a member's calls of one day or week are consecutive


def first_bit(group: str, answered: bool = False) -> int:
    """The bit in `calls.firsts` marking one call per (member, group), or per answered ones
    (`1 << i` for the i-th of `MARKS`).

    Raises:
        ValueError: a group (or answered variant) with no bit of its own.
    """
    base = {"branch": "all", "ward": "all"}.get(group, group)
    return 1 << MARKS.index((base, answered))


def mark_column(group: str, answered: bool = False) -> str:
    """The `outreach_cube` column counting the calls that carry `first_bit(group, answered)`."""
    return ("reached_" if answered else "called_") + group.replace("+", "_")


def first_marks(mid: np.ndarray, columns: dict[str, np.ndarray], answered: np.ndarray) -> np.ndarray:
    """`firsts` for calls given in cid order (by member, then time): each (member, group)'s first
    call, and first answered call, gets the group's bits (`MARKS`).

    Arrays of equal length; `columns` holds the day, week, round, caller and outcome of each call
    as integers. Members' calls are contiguous and in time order, so a member's first call of a day
    or week starts a run and is found in one pass. Rounds, callers and outcomes recur, so the calls
    are stably sorted by (member, round, say) first; a (member, round, week)'s first call then starts
    a run in that order too, so one sort serves a group with and without the week. On a national
    store each array is 2M long.
    """
    firsts = np.zeros(len(mid), dtype=np.int32)
    answered_rows = np.flatnonzero(answered)
    orders: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    for group, answered_only in MARKS:
        rows = answered_rows if answered_only else None
        found = _group_firsts(mid, columns, group, rows, orders)
        firsts[found if rows is None else rows[found]] |= first_bit(group, answered_only)
    return firsts


def _group_firsts(mid, columns, group: str, rows: np.ndarray | None, orders: dict) -> np.ndarray:
    """Positions (within `rows`, default all; in no particular order) of each (member, group)'s first
    call. `orders` keeps the sorts made, for the next group that needs the same one."""
    def take(values: np.ndarray) -> np.ndarray:
        return values if rows is None else values[rows]

    names = [] if group == "all" else group.split("+")
    runs = [take(columns[name]) for name in names if name in RUN_GROUPS]
    recurring = tuple(name for name in names if name not in RUN_GROUPS)
    if not recurring:
        return _starts(take(mid), *runs)
    key = (recurring, rows is None)
    if key not in orders:
        orders[key] = _sorted_pairs(take(mid), _combined([take(columns[name]) for name in recurring]))
    order, pairs = orders[key]
    return order[_starts(pairs, *(run[order] for run in runs))]


def _combined(parts: list[np.ndarray]) -> np.ndarray:
    """One small integer per distinct combination of the parts' values (each part spans few values:
    rounds, outcomes, callers, or weeks as days since 1970)."""
    code = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:
        if len(part):
            low = int(part.min())
            code = code * (int(part.max()) - low + 1) + (part - low)
    return code


def _starts(*columns: np.ndarray) -> np.ndarray:
    """Positions of the first row and of each row where any column differs from the row before."""
    starts = np.zeros(len(columns[0]), dtype=bool)
    starts[:1] = True
    for column in columns:
        starts[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(starts)


def _sorted_pairs(mid: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, pairs in that order): the rows stably sorted by (member, code), so each pair's rows
    stay in time order. The rows already come by member, so the sort has little to do: 1.5-2.5 times
    quicker than hashing 2M pairs, and one sort serves the group with and without the week."""
    pairs = mid.astype(np.int64) * (int(code.max(initial=0)) + 1) + code
    order = np.argsort(pairs, kind="stable")
    return order, pairs[order]


def _add_firsts(snap: duckdb.DuckDBPyConnection) -> None:
    """Create `calls` from `calls_sorted`: `cid` (the row's position, from 1) and `firsts`.

    Worked out in numpy on the sorted rows: a GROUP BY per mark and a rejoin of 2M calls in SQL took
    over a second of every national snapshot build.
    """
    snap.register("_firsts", pa.table({"firsts": sorted_marks(snap)}))
    try:
        snap.execute(
            "CREATE TABLE calls AS SELECT CAST(s.rowid + 1 AS INTEGER) AS cid, "
            "s.* EXCLUDE (round_code, caller_code), f.firsts FROM calls_sorted s POSITIONAL JOIN _firsts f"
        )
    finally:
        snap.unregister("_firsts")


def sorted_marks(snap: duckdb.DuckDBPyConnection) -> np.ndarray:
    """`firsts` (`first_marks`) of the rows of the table `calls_sorted` on `snap`, in its row order.

    Its rows must come by member and in time order within each member, with `mid`, `called_at`,
    `outcome` (of `outcome_t`), and `round_code` and `caller_code` numbering rounds and callers.
    """
    inputs = snap.execute(MARK_INPUTS_QUERY).fetchnumpy()
    column = {name: np.asarray(values) for name, values in inputs.items()}
    row = column.pop("row")
    if not np.array_equal(row, np.arange(len(row))):  # a plain scan keeps insertion order; if not
        # (or rows numbered from elsewhere, as a table made inside a transaction is):
        order = np.argsort(row, kind="stable")
        column = {name: values[order] for name, values in column.items()}
    mid, answered = column.pop("mid"), column.pop("answered")
    return first_marks(mid, column, answered)


def _sql_list(values) -> str:
    # Only fixed vocabularies from the code reach here (outcomes, skills, categories), never input.
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def cube_counts(weight: str = "") -> str:
    """`outreach_cube`'s counts: attempts per outcome, and the calls carrying each mark (`MARKS`), as
    sums of a bit rather than FILTER clauses, which took a third longer over 2M calls.

    `weight`: a column to multiply each call's bits by (`snapshot_append` counts +1 and -1 rows).
    """
    times = f"{weight} * " if weight else ""
    outcomes = [f"CAST(sum({times}CAST(outcome = '{o}' AS INTEGER)) AS BIGINT) AS {o}" for o in OUTCOMES]
    marks = [f"CAST(sum({times}((firsts >> {bit}) & 1)) AS BIGINT) AS {mark_column(*mark)}"
             for bit, mark in enumerate(MARKS)]
    return ", ".join(outcomes + marks)


def cube_count_columns() -> list[str]:
    """The `outreach_cube` columns that are counts (summed when cube rows are merged)."""
    return ["attempts", *OUTCOMES, *(mark_column(*mark) for mark in MARKS)]


def expand(statement: str, after_cid: int = 0, affected: str = "TRUE") -> str:
    """A build statement with its placeholders filled from the code's own constants.

    `after_cid` and `affected` narrow the per-call and per-member queries to the calls an import
    added and their members (`snapshot_append`); the defaults take every call and member.
    """
    pairs = [(skill, category) for category, skills in CATEGORY_SKILLS.items() for skill in skills]
    return (
        statement.replace("OUTCOME_LIST", _sql_list(OUTCOMES))
        .replace("SKILL_NAMES", _sql_list(s for s, _ in pairs))
        .replace("SKILL_CATEGORIES", _sql_list(c for _, c in pairs))
        .replace("NEEDING_COLUMNS", needing_columns())
        .replace("CUBE_COUNTS", cube_counts())
        .replace("AFTER_CID", str(int(after_cid)))
        .replace("AFFECTED", affected)
    )


# A kept snapshot file is valid only for the code that wrote it: any edit to this module (or to
# `snapshot_append`, which updates kept files), the scoring or the vocabularies, or another DuckDB
# (its file format), gives a new version.
VERSION = hashlib.sha256(
    repr((Path(__file__).read_text(encoding="utf-8"),
          Path(__file__).with_name("snapshot_append.py").read_text(encoding="utf-8"),
          needing_columns(), CATEGORY_SKILLS, OUTCOMES,
          record_keys.sql(b"", "member_key"), duckdb.__version__)).encode()
).hexdigest()[:16]
RECORD_KEYS_BUILD = "CREATE TABLE kept_record_keys AS SELECT mid, {rk} AS rk FROM members"
RECORD_KEYS_ID_BUILD = "CREATE TABLE kept_record_keys_id AS SELECT ? AS secret_id"
RECORD_KEYS_ID_QUERY = "SELECT secret_id FROM kept_record_keys_id"
RECORD_KEYS_QUERY = "SELECT mid, rk FROM kept_record_keys"
ARROW_BATCH_ROWS = 122_880  # DuckDB's row group size
DERIVED_KEPT = 12  # derived values kept per snapshot (`Snapshot.derived`), the least used dropped
T = TypeVar("T")


@dataclass
class Snapshot:
    """One store state's snapshot: a private in-memory DuckDB database. Use `cursor()` per query."""

    key: tuple | None
    db: duckdb.DuckDBPyConnection
    builds: int = 0
    content: tuple | None = None  # `content(con)` of the store it was built from, when kept
    _keys: np.ndarray | None = field(default=None, repr=False)
    _derived: dict[tuple, object] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _volunteers: bool = field(default=False, repr=False)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection to the snapshot of its own (registrations stay private to the caller)."""
        return self.db.cursor()

    def volunteer_tables(self) -> Snapshot:
        """Build `keen`, `pools` and `offers` if they are not built yet; return the snapshot."""
        with self._lock:
            if not self._volunteers:
                for statement in VOLUNTEER_STATEMENTS:
                    self.db.execute(expand(statement))
                self._volunteers = True
        return self

    def keep_record_keys(self, secret: bytes) -> None:
        """Build `kept_record_keys` under the store's record secret (see the module's docstring)."""
        with self.cursor() as cursor:
            cursor.execute(RECORD_KEYS_BUILD.format(rk=record_keys.sql(secret, "member_key")))
            cursor.execute(RECORD_KEYS_ID_BUILD, [record_keys.secret_id(secret)])

    def kept_record_keys(self, secret: bytes) -> pa.Table | None:
        """Every member's record key (mid, rk) as kept with this build, if it was made under `secret`.

        None when there are none, or they were made under another secret (one changed behind the
        library's back, say): the caller then hashes them itself.
        """
        with self.cursor() as cursor:
            try:
                made_under = cursor.execute(RECORD_KEYS_ID_QUERY).fetchone()
            except duckdb.CatalogException:  # built before the store had a record secret
                return None
            if made_under is None or made_under[0] != record_keys.secret_id(secret):
                return None
            return cursor.execute(RECORD_KEYS_QUERY).fetch_arrow_table()

    def member_keys(self) -> np.ndarray:
        """Every member_key as a Python string, indexed by `mid` (index 0 is unused), made once.

        `keys[mids]` turns a result's integer ids back into keys without a join or new strings.
        """
        if self._keys is None:
            with self.cursor() as cursor:
                keys = cursor.execute("SELECT member_key FROM members ORDER BY mid").fetchnumpy()
            self._keys = np.concatenate([[None], keys["member_key"]]).astype(object)
        return self._keys

    def derived(self, key: tuple, make: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """A value derived from this snapshot, made once per `key` by `make(cursor)`.

        `key` must hold everything the value depends on beyond the snapshot (such as which members
        suppression kept). The last few used are kept, so memory stays bounded.
        """
        with self._lock:
            if key in self._derived:
                self._derived[key] = self._derived.pop(key)  # now the most recently used
            else:
                with self.cursor() as cursor:
                    self._derived[key] = make(cursor)
                while len(self._derived) > DERIVED_KEPT:
                    del self._derived[next(iter(self._derived))]
            return self._derived[key]


_LOCK = threading.Lock()
_CURRENT: Snapshot | None = None
BUILDS = 0  # how many snapshots this process has built (for tests and the benchmark)
LOADS = 0  # how many it has opened from the file kept beside the store (`snapshot_file`)
CHECKS = 0  # how many content checksums it has taken (`content`)


def build(con: duckdb.DuckDBPyConnection, key: tuple | None = None) -> Snapshot:
    """Copy the analysis tables of the store on `con` into a new in-memory snapshot."""
    global BUILDS
    snap = db.memory_connection()
    snap.execute("RESET memory_limit")
    for name, sql in SOURCE_QUERIES.items():
        # In batches of DuckDB's row-group size: handed over in its default million-row batches, the
        # calls took 1 s to scan into the snapshot, against 0.2 s so.
        snap.register(f"src_{name}", con.execute(sql).fetch_arrow_table(rows_per_batch=ARROW_BATCH_ROWS))
    try:
        for statement in BUILD_STATEMENTS:
            if statement == FIRSTS:
                _add_firsts(snap)
            else:
                snap.execute(expand(statement))
    finally:
        for name in SOURCE_QUERIES:
            snap.unregister(f"src_{name}")
    BUILDS += 1
    return Snapshot(key, snap)


def content(con: duckdb.DuckDBPyConnection) -> tuple:
    """A checksum of everything the snapshot copies: per source, its row count and summed row hashes.

    ~0.1 s on the national store, against ~3.5 s for a build: after a write that leaves the
    analysis data alone (an audit entry, a key, a list, an opt-out), the snapshot is kept.
    """
    global CHECKS
    CHECKS += 1
    return con.execute(CONTENT_QUERY).fetchone()


def get(con: duckdb.DuckDBPyConnection) -> Snapshot:
    """The snapshot of the store on `con` as it is now, built if its data changed since the last one.

    Inside an open transaction (or for a store without a file) the snapshot is built for this call
    only and not kept, so uncommitted or unkeyable state is never cached.
    """
    global _CURRENT
    key = fingerprint(con)
    if key is None:
        return build(con)
    with _LOCK:
        if _CURRENT is not None and _CURRENT.key == key:
            return _CURRENT
        if _CURRENT is None and (kept := _open_kept_at(con, key)) is not None:
            _CURRENT = kept  # a new process, and nothing has written to the store since it was saved
            return _CURRENT
        # The store changed. If what the snapshot copies did not, keep it under the new key.
        now = content(con)
        if _CURRENT is not None and _CURRENT.content == now:
            _CURRENT.key = key
            return _CURRENT
        old, _CURRENT = _CURRENT, None
        if old is not None:
            old.db.close()  # one store at a time: memory stays bounded
        _CURRENT = _open_kept(con, key, now) or _build_and_keep(con, key, now)
        return _CURRENT


def stamp_for(now: tuple) -> str:
    """What a kept snapshot file is valid for: this build's version and the store's content checksum."""
    return f"{VERSION}:{now!r}"


def state_for(key: tuple) -> str:
    """The store state a kept snapshot file was saved at: this build's version and the fingerprint.

    Without the path (the fingerprint's first part): the web app names the store by its resolved
    path and a command by the one typed, and the file's inode already says which file it is.
    """
    return f"{VERSION}:{key[1:]!r}"


def _open_kept_at(con: duckdb.DuckDBPyConnection, key: tuple) -> Snapshot | None:
    """The snapshot from the file beside the store, if it was saved with the store exactly as it is.

    Saves the content checksum (~0.15 s on the national store) in a new process when no write has
    happened since: every committed write changes the fingerprint (the file's or its WAL's size and
    mtime, from any process), and then `_open_kept` compares content as before.
    """
    global LOADS
    try:
        file_key = snapshot_file.file_key(con)
    except StoreError:
        return None
    kept = snapshot_file.load(key[0], file_key, state=state_for(key))
    if kept is None:
        return None
    LOADS += 1
    return Snapshot(key, kept, _volunteers=True)


def _open_kept(con: duckdb.DuckDBPyConnection, key: tuple, now: tuple) -> Snapshot | None:
    """The snapshot from the file beside the store, if it was built from exactly this data."""
    global LOADS
    try:
        file_key = snapshot_file.file_key(con)
    except StoreError:  # a store without its member secret: nothing is kept for it
        return None
    # Checked by content, so the store was written since the file was saved (a command that opened it
    # for writing, say): record the state it is valid at now, so later processes skip the checksum.
    snapshot_file.restamp(key[0], file_key, stamp_for(now), state_for(key))
    kept = snapshot_file.load(key[0], file_key, stamp_for(now))
    if kept is None:
        return None
    LOADS += 1
    return Snapshot(key, kept, content=now, _volunteers=True)


def _build_and_keep(con: duckdb.DuckDBPyConnection, key: tuple, now: tuple) -> Snapshot:
    """Build the snapshot and write it beside the store, so the next process opens it instead."""
    snap = build(con, key)
    snap.content = now
    # The volunteer tables go into the kept file too: a new process's first volunteer view then
    # reads them instead of building them (~0.2 s here, once per change of data).
    snap.volunteer_tables()
    # The record keys too, once a report has made the store's record secret: every new process's
    # report then reads them (~5 ms) instead of hashing every member (~0.7 s on the national store).
    if (secret := record_keys.existing_secret(con)) is not None:
        snap.keep_record_keys(secret)
    with contextlib.suppress(StoreError):
        snapshot_file.save(snap.db, key[0], snapshot_file.file_key(con), stamp_for(now), state_for(key))
    return snap


def _checkpointed(con: duckdb.DuckDBPyConnection, before: tuple) -> tuple | None:
    """The store's state after checkpointing `con` (so closing it changes nothing a new process
    sees), or None if it cannot be, or calls or members were added or removed since `before`: a
    cheap guard besides the caller's word that its writes left the analysis data alone."""
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error:  # best effort: the caller's work is done, whatever happens here
        return None
    after = fingerprint(con)
    if after is None or after == before or after[1:3] != before[1:3]:
        return None
    return after


@contextlib.contextmanager
def leaving_analysis_data_alone(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Around a write that changes nothing the snapshot copies (an opt-out, a follow-up's state, a
    returned list, a list's record): once it has committed, the snapshot is carried over to the
    store state the write leaves (`carry_over`), so neither this process's next look nor the next
    process checks the data again.

    Inside the caller's transaction it does nothing: that caller's own write decides.
    """
    before = fingerprint(con)
    yield
    if before is not None:
        carry_over(con, before)


def carry_over(con: duckdb.DuckDBPyConnection, before: tuple | None, *, let_go: bool = False) -> bool:
    """Carry the snapshot over from store state `before` to the state now, after this process's own
    committed writes that left the analysis data alone (the caller vouches; a guard checks that no
    call or member was added or removed), so no process takes the content checksum again (~0.1 s
    on the national store, ~0.5 s at union scale).

    `before`: `state.fingerprint(con)` read before those writes, on `con` open for writing. While it
    is open no other process can write the store (DuckDB lets one process write, and refuses a
    second connection in this one), so nothing but the caller's writes came between. The store is
    checkpointed first (`_checkpointed`). Then:
    - this process's snapshot, if it is of `before`, is re-keyed to the state now;
    - the kept file, if it records `before` (or holds the data of this process's snapshot of
      `before`), records the state now, as `_open_kept` would after checking the data. It cannot
      be written while this process reads it: then only with `let_go` (a report's release, after
      which the command ends) is the snapshot closed to let the file be written, and only if it is
      of `before`; otherwise the next process checks the file once.

    Returns:
        True if the kept file now vouches for the store's present state.
    """
    global _CURRENT
    with _LOCK:
        snap = _CURRENT
        own = before is not None and snap is not None and snap.key == before
        if before is None or (let_go and not own):
            return False
        after = _checkpointed(con, before)
        if after is None:
            return False
        stamp = None
        if own:
            snap.key = after
            stamp = stamp_for(snap.content) if snap.content is not None else snapshot_file.kept_stamp(snap.db)
        if snap is not None and snapshot_file.kept_stamp(snap.db) is not None:  # read from the file here
            if not let_go:
                return False
            snap.db.close()
            _CURRENT = None
    try:
        file_key = snapshot_file.file_key(con)
    except StoreError:
        return False
    if stamp is not None:  # of the data the file holds, whatever state it records
        return snapshot_file.restamp(after[0], file_key, stamp, state_for(after))
    return snapshot_file.restamp_state(after[0], file_key, state_for(before), state_for(after))


def current(con: duckdb.DuckDBPyConnection, key: tuple | None = ...) -> Snapshot | None:
    """The kept snapshot if it is of the store on `con` exactly as it is now, else None (never builds).

    For callers that have a store query to fall back on and should not pay for a build
    (`optouts.suppress`). Inside a transaction there is none: uncommitted state is never cached.
    `key`: the store's `state.fingerprint`, if the caller has just read it.
    """
    if key is ...:
        key = fingerprint(con)
    snap = _CURRENT
    return snap if key is not None and snap is not None and snap.key == key else None


STORE_PATH_QUERY = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"


def discard(con: duckdb.DuckDBPyConnection) -> None:
    """Delete the snapshot file kept beside the store on `con` (call after erasing or retention).

    Rows those remove must not linger in a copy; the next process builds a fresh one.
    """
    path = con.execute(STORE_PATH_QUERY).fetchone()[0]
    if path:
        snapshot_file.discard(path)


def clear() -> None:
    """Drop the cached snapshot (tests; or to free memory)."""
    global _CURRENT
    with _LOCK:
        if _CURRENT is not None:
            _CURRENT.db.close()
        _CURRENT = None


FOLLOWUPS_QUERY = "SELECT member_key, state, opened_at, resolved_at, updated_at FROM followups"


def live_followups(con: duckdb.DuckDBPyConnection):
    """The follow-up table as it is now (an Arrow table): never cached, read on every query."""
    return con.execute(FOLLOWUPS_QUERY).fetch_arrow_table()


__all__ = [
    "NEIGHBOURS_QUERY", "Snapshot", "build", "carry_over", "clear", "content", "current", "discard", "get",
    "leaving_analysis_data_alone", "live_followups",
]
