"""Write a staged call-outcomes file: new calls only, their needs, skills and services, in SQL.

A call is recognised by the export's own call id, or, when the export has none, by a digest of its
natural key (member, round, time, caller), so a later export that overlaps an earlier one adds
only the calls not already held. The digest is over the member_key, which is itself keyed, so a
call id never reveals a membership number.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from workbench.ingest import problems
from workbench.ingest.fields import norm_sql
from workbench.privacy.pseudonymise import caller_pseudonyms, record_callers

# N + 24 hex characters of SHA-256 over "member_key|round|YYYY-MM-DDTHH:MM:SS|caller" (caller may
# be blank). Stores hold these ids, so the digest and its text must never change. concat() builds the
# text in one pass, where a chain of || copies it at each step (2M calls: 0.3 s less); it reads NULL as
# '', which only the caller can be on a valid row.
NATURAL_ID = (
    "'N' || substr(sha256(concat(k.member_key, '|', s.round, '|', "
    "strftime(s.called_at, '%Y-%m-%dT%H:%M:%S'), '|', c.caller)), 1, 24)"
)

DUPLICATE_IDS = """
SELECT call_id, min(row) AS first_row FROM temp.{stage} WHERE call_id IS NOT NULL
GROUP BY call_id HAVING count(*) > 1
"""

MARK_DUPLICATES = """
UPDATE temp.{stage}_rows s SET p__call_id = 'is the same call id as row ' || d.first_row || '; each call once'
FROM temp.ingest_duplicates d
WHERE s.call_id = d.call_id AND s.row > d.first_row AND s.p__call_id IS NULL
"""


def mark_duplicate_ids(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    """A call id that appears twice in one file is a problem on its later rows."""
    problems.mark_duplicates(con, stage, DUPLICATE_IDS, MARK_DUPLICATES)


@dataclass(frozen=True)
class StagedCalls:
    """The calls of a file made ready to write (`stage`), and what `write` must know of them."""

    new_callers: list[tuple[str, str]]  # pseudonyms to store with the calls
    already_held: int | None  # None: counted in `write`, after survey answers fill held calls
    erased_skipped: int
    answers_for_held: bool


@dataclass(frozen=True)
class CallCounts:
    """What writing calls did."""

    loaded: int
    already_held: int
    erased_skipped: int
    optouts_recorded: int
    unlisted_services: list[str]
    unlisted_count: int
    answered_held: int = 0


STAGED_CALLS = """
CREATE OR REPLACE TEMP TABLE ingest_calls AS
SELECT {call_id} AS call_id, k.member_key, s.round, c.caller, s.called_at, s.outcome, s.wellbeing,
       s.needs_support, s.urgency, s.keen_to_volunteer, s.dp_query, s.t__notes AS notes,
       s.need_categories, s.skills, s.services_referenced, s.row
FROM temp.{stage} s JOIN temp.ingest_keys k USING (membership_number)
LEFT JOIN temp.ingest_callers c ON c.raw = s.caller  -- the caller's pseudonym (caller_pseudonyms)
WHERE {valid}{not_erased}
"""

NOT_ERASED = " AND k.member_key NOT IN (SELECT member_key FROM members WHERE erased_at IS NOT NULL)"
ANY_ERASED = "SELECT count(*) FROM members WHERE erased_at IS NOT NULL"

# Without an export call id, the same call can appear twice in one file: keep its first row.
DEDUPLICATE = """
CREATE OR REPLACE TEMP TABLE ingest_calls AS
SELECT DISTINCT ON (call_id) * FROM temp.ingest_calls ORDER BY call_id, row
"""

# Counted on 64-bit hashes, twice as fast as on the ids: equal ids always hash equal, so no repeat
# is missed; a collision (about 1 in 10^7 for 2M calls) only makes DEDUPLICATE run for nothing.
REPEATS = "SELECT count(*) - count(DISTINCT hash(call_id)) FROM temp.ingest_calls"

ALREADY_HELD = "DELETE FROM temp.ingest_calls WHERE call_id IN (SELECT call_id FROM calls)"

# In file order: with no index to feed (schema 4), sorting 2 million ids first only costs time.
INSERT_CALLS = """
INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome, wellbeing, needs_support, urgency,
                   keen_to_volunteer, dp_query, notes, import_id)
SELECT call_id, member_key, round, caller, called_at, outcome, wellbeing, needs_support, urgency,
       keen_to_volunteer, dp_query, notes, ?
FROM temp.ingest_calls
"""

INSERT_NEEDS = """
INSERT INTO call_needs
SELECT DISTINCT call_id, category FROM (
    SELECT call_id, unnest(need_categories) AS category FROM temp.ingest_calls
    WHERE len(need_categories) > 0
) WHERE category IS NOT NULL
"""

INSERT_SKILLS = """
INSERT INTO call_skills
SELECT DISTINCT call_id, skill FROM (
    SELECT call_id, unnest(skills) AS skill FROM temp.ingest_calls
    WHERE len(skills) > 0
)
"""

SERVICE_KEYS = f"""
CREATE OR REPLACE TEMP TABLE ingest_service_keys AS
SELECT {norm_sql("v")} AS key, min(service_id) AS service_id FROM (
    SELECT service_id, service_id AS v FROM services
    UNION ALL SELECT service_id, name FROM services
    UNION ALL SELECT service_id, unnest(aliases) FROM services
) WHERE v IS NOT NULL GROUP BY 1
"""

# Staged first, so the unlisted names are counted from this import's references alone rather than
# by scanning every call reference held.
CALL_SERVICES = f"""
CREATE OR REPLACE TEMP TABLE ingest_call_services AS
SELECT c.call_id, k.service_id, c.raw_name FROM (
    SELECT call_id, unnest(services_referenced) AS raw_name FROM temp.ingest_calls
    WHERE len(services_referenced) > 0
    {{held}}
) c LEFT JOIN temp.ingest_service_keys k ON k.key = {norm_sql("c.raw_name")}
"""
# Services named in survey answers for a call already held (`_answer_held`) go to that call.
HELD_SERVICES = "UNION ALL SELECT call_id, raw_name FROM temp.ingest_held_services"

INSERT_SERVICES = (
    "INSERT INTO call_services SELECT call_id, service_id, raw_name FROM temp.ingest_call_services"
)

UNLISTED = """
SELECT raw_name, count(*) AS n FROM temp.ingest_call_services
WHERE service_id IS NULL
GROUP BY raw_name ORDER BY n DESC, raw_name
"""

DO_NOT_CALL = "SELECT call_id FROM temp.ingest_calls WHERE outcome = 'do_not_call' ORDER BY call_id"

# Survey answers for a call already held (VAN's answers file after its contact history): the same
# member, time and caller. The answers fill what the held call lacks; they never overwrite.
ANSWERED_HELD = """
CREATE OR REPLACE TEMP TABLE ingest_answered AS
SELECT s.call_id AS staged_id, min(c.call_id) AS held_id
FROM temp.ingest_calls s JOIN calls c
  ON c.member_key = s.member_key AND c.called_at = s.called_at AND c.caller IS NOT DISTINCT FROM s.caller
GROUP BY s.call_id
"""

FILL_ANSWERS = """
UPDATE calls c SET
    wellbeing = coalesce(c.wellbeing, s.wellbeing),
    needs_support = coalesce(c.needs_support, s.needs_support),
    urgency = coalesce(c.urgency, s.urgency),
    keen_to_volunteer = coalesce(c.keen_to_volunteer, s.keen_to_volunteer),
    dp_query = coalesce(c.dp_query, s.dp_query),
    notes = coalesce(c.notes, s.notes)
FROM temp.ingest_answered a JOIN temp.ingest_calls s ON s.call_id = a.staged_id
WHERE c.call_id = a.held_id
"""

# The held call's needs, skills and services gain the answers' (each pair once).
ADD_TO_HELD = """
INSERT INTO {table}
SELECT DISTINCT a.held_id, x.value FROM temp.ingest_answered a
JOIN (SELECT call_id, unnest({column}) AS value FROM temp.ingest_calls WHERE len({column}) > 0) x
  ON x.call_id = a.staged_id
WHERE x.value IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.call_id = a.held_id AND t.{name} = x.value)
"""

HELD_LISTS = (("call_needs", "need_categories", "category"), ("call_skills", "skills", "skill"))
# Matched to the directory with the new calls' references (CALL_SERVICES); a name the held call
# already references is not added again.
ANSWERED_SERVICES = """
CREATE OR REPLACE TEMP TABLE ingest_held_services AS
SELECT DISTINCT a.held_id AS call_id, x.raw_name FROM temp.ingest_answered a
JOIN (SELECT call_id, unnest(services_referenced) AS raw_name FROM temp.ingest_calls
      WHERE len(services_referenced) > 0) x ON x.call_id = a.staged_id
WHERE x.raw_name IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM call_services t WHERE t.call_id = a.held_id AND t.raw_name = x.raw_name)
"""
DROP_ANSWERED = "DELETE FROM temp.ingest_calls WHERE call_id IN (SELECT staged_id FROM temp.ingest_answered)"


def _answer_held(con: duckdb.DuckDBPyConnection) -> int:
    """Add staged answers to the calls already held for the same contact; return how many."""
    con.execute(ANSWERED_HELD)
    con.execute(FILL_ANSWERS)
    for table, column, name in HELD_LISTS:
        con.execute(ADD_TO_HELD.format(table=table, column=column, name=name))
    con.execute(ANSWERED_SERVICES)
    return con.execute(DROP_ANSWERED).fetchone()[0]


ERASED_ROWS = """
SELECT count(*) FROM temp.{stage} s JOIN temp.ingest_keys k USING (membership_number)
WHERE {valid} AND k.member_key IN (SELECT member_key FROM members WHERE erased_at IS NOT NULL)
"""


def stage(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    valid: str,
    *,
    has_call_ids: bool,
    answers_for_held: bool = False,
) -> StagedCalls:
    """Make temp.ingest_calls: the file's new calls as they will be written, callers pseudonymised.

    Run before the import's write transaction opens: DuckDB writes a table made inside the
    transaction out at half the speed of one made before it (2M calls: 3.0 s against 1.6 s). Only
    temporary tables change here; the store is read (members erased, calls held), not written, but
    for the secret key caller pseudonyms are made with, created the first time one is needed.

    Args:
        has_call_ids: the export has its own call ids (already checked unique within the file);
            otherwise each call's id is a digest of its natural key.
        answers_for_held: the file holds survey answers; a row for a call already held (same
            member, time and caller) completes that call instead of adding another (in `write`).
    """
    # Erasures are rare: when there are none, skip both the filter and the count of erased rows.
    any_erased = con.execute(ANY_ERASED).fetchone()[0] > 0
    # "1" or a name becomes C0042, through temp.ingest_callers
    new_callers = caller_pseudonyms(con, f"temp.{stage}", into="ingest_callers", where=valid)
    con.execute(
        STAGED_CALLS.format(
            stage=stage,
            valid=valid,
            call_id=f"coalesce(s.call_id, {NATURAL_ID})",
            not_erased=NOT_ERASED if any_erased else "",
        )
    )
    blank_ids = (
        has_call_ids and con.execute(f"SELECT count(*) FROM temp.{stage} WHERE call_id IS NULL").fetchone()[0]
    )
    # Sorting every call to drop repeats costs seconds on a big file; most files have none.
    if (not has_call_ids or blank_ids) and con.execute(REPEATS).fetchone()[0]:
        con.execute(DEDUPLICATE)
    held = None if answers_for_held else con.execute(ALREADY_HELD).fetchone()[0]
    erased = con.execute(ERASED_ROWS.format(stage=stage, valid=valid)).fetchone()[0] if any_erased else 0
    return StagedCalls(new_callers, held, erased, answers_for_held)


def write(con: duckdb.DuckDBPyConnection, staged: StagedCalls, import_id: str, actor: str) -> CallCounts:
    """Insert the staged new calls (and their needs, skills and services); record do-not-call opt-outs.

    Run inside the import's transaction, after `stage`.
    """
    record_callers(con, staged.new_callers)
    held = staged.already_held
    answered = 0
    if staged.answers_for_held:
        answered = _answer_held(con)
        held = con.execute(ALREADY_HELD).fetchone()[0]
    new = con.execute("SELECT count(*) FROM temp.ingest_calls").fetchone()[0]
    con.execute(INSERT_CALLS, [import_id])
    con.execute(INSERT_NEEDS)
    con.execute(INSERT_SKILLS)
    con.execute(SERVICE_KEYS)
    con.execute(CALL_SERVICES.replace("{held}", HELD_SERVICES if staged.answers_for_held else ""))
    con.execute(INSERT_SERVICES)
    unlisted = con.execute(UNLISTED).fetchall()
    optouts = _record_optouts(con, actor)
    return CallCounts(
        new, held, staged.erased_skipped, optouts, [r[0] for r in unlisted[:10]], len(unlisted), answered
    )


def _record_optouts(con: duckdb.DuckDBPyConnection, actor: str) -> int:
    call_ids = [r[0] for r in con.execute(DO_NOT_CALL).fetchall()]
    if not call_ids:
        return 0
    # Imported here, not at the top: the opt-out register depends on nothing in ingest, and
    # ingest must not fail to import for want of it until a do-not-call outcome needs it.
    from workbench.privacy import optouts

    return optouts.record_from_calls(con, actor=actor, call_ids=call_ids)
