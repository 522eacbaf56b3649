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
from workbench.privacy.pseudonymise import pseudonymise_callers

NATURAL_ID = (
    "'N' || substr(sha256(k.member_key || '|' || s.round || '|' || "
    "strftime(s.called_at, '%Y-%m-%dT%H:%M:%S') || '|' || coalesce(s.caller, '')), 1, 24)"
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
class CallCounts:
    """What writing calls did."""

    loaded: int
    already_held: int
    erased_skipped: int
    optouts_recorded: int
    unlisted_services: list[str]
    unlisted_count: int


STAGED_CALLS = """
CREATE OR REPLACE TEMP TABLE ingest_calls AS
SELECT {call_id} AS call_id, k.member_key, s.round, s.caller, s.called_at, s.outcome, s.wellbeing,
       s.needs_support, s.urgency, s.keen_to_volunteer, s.dp_query, s.t__notes AS notes,
       s.need_categories, s.skills, s.services_referenced, s.row
FROM temp.{stage} s JOIN temp.ingest_keys k USING (membership_number)
WHERE {valid}{not_erased}
"""

NOT_ERASED = " AND k.member_key NOT IN (SELECT member_key FROM members WHERE erased_at IS NOT NULL)"
ANY_ERASED = "SELECT count(*) FROM members WHERE erased_at IS NOT NULL"

# Without an export call id, the same call can appear twice in one file: keep its first row.
DEDUPLICATE = """
CREATE OR REPLACE TEMP TABLE ingest_calls AS
SELECT DISTINCT ON (call_id) * FROM temp.ingest_calls ORDER BY call_id, row
"""

REPEATS = "SELECT count(*) - count(DISTINCT call_id) FROM temp.ingest_calls"

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
) c LEFT JOIN temp.ingest_service_keys k ON k.key = {norm_sql("c.raw_name")}
"""

INSERT_SERVICES = (
    "INSERT INTO call_services SELECT call_id, service_id, raw_name FROM temp.ingest_call_services"
)

UNLISTED = """
SELECT raw_name, count(*) AS n FROM temp.ingest_call_services
WHERE service_id IS NULL
GROUP BY raw_name ORDER BY n DESC, raw_name
"""

DO_NOT_CALL = "SELECT call_id FROM temp.ingest_calls WHERE outcome = 'do_not_call' ORDER BY call_id"

ERASED_ROWS = """
SELECT count(*) FROM temp.{stage} s JOIN temp.ingest_keys k USING (membership_number)
WHERE {valid} AND k.member_key IN (SELECT member_key FROM members WHERE erased_at IS NOT NULL)
"""


def write(
    con: duckdb.DuckDBPyConnection, stage: str, valid: str, import_id: str, actor: str, *, has_call_ids: bool
) -> CallCounts:
    """Insert the new calls (and their needs, skills and services); record do-not-call opt-outs.

    Args:
        has_call_ids: the export has its own call ids (already checked unique within the file);
            otherwise each call's id is a digest of its natural key.
    """
    # Erasures are rare: when there are none, skip both the filter and the count of erased rows.
    any_erased = con.execute(ANY_ERASED).fetchone()[0] > 0
    pseudonymise_callers(con, f"temp.{stage}_rows", where=valid)  # "1" or a volunteer's name becomes C0042
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
    held = con.execute(ALREADY_HELD).fetchone()[0]
    new = con.execute("SELECT count(*) FROM temp.ingest_calls").fetchone()[0]
    erased = con.execute(ERASED_ROWS.format(stage=stage, valid=valid)).fetchone()[0] if any_erased else 0
    con.execute(INSERT_CALLS, [import_id])
    con.execute(INSERT_NEEDS)
    con.execute(INSERT_SKILLS)
    con.execute(SERVICE_KEYS)
    con.execute(CALL_SERVICES)
    con.execute(INSERT_SERVICES)
    unlisted = con.execute(UNLISTED).fetchall()
    optouts = _record_optouts(con, actor)
    return CallCounts(new, held, erased, optouts, [r[0] for r in unlisted[:10]], len(unlisted))


def _record_optouts(con: duckdb.DuckDBPyConnection, actor: str) -> int:
    call_ids = [r[0] for r in con.execute(DO_NOT_CALL).fetchall()]
    if not call_ids:
        return 0
    # Imported here, not at the top: the opt-out register depends on nothing in ingest, and
    # ingest must not fail to import for want of it until a do-not-call outcome needs it.
    from workbench.privacy import optouts

    return optouts.record_from_calls(con, actor=actor, call_ids=call_ids)
