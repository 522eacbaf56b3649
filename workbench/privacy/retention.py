"""Retention (UK GDPR Art. 5(1)(e), storage limitation): keep call details only as long as they help.

The policy, with its defaults (change them per run with `--older-than` / `--inactive-after`):

- **Call details, 90 days after a campaign ends.** A campaign (calls.round) ends on its last call.
  Ninety days later its calls lose their free-text notes, wellbeing, support and volunteering
  answers, and their needs, skills and services rows. The bare attempt (member, round, time,
  outcome) stays, so contact rates still add up and "do not call" / "deceased or moved" still
  suppress. Calls behind a follow-up that is still open are kept whole until it closes.
- **Members with no activity for 730 days are flagged**, not deleted: a person decides whether they
  are still members (the party's own membership system is the record of that).
- **Lists past their shred-by date and not marked destroyed are flagged**, for a reminder.

Without `apply` nothing changes: `plan` counts what would go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from workbench.errors import InputError
from workbench.store import snapshot
from workbench.store.audit import audit
from workbench.store.state import transaction

DETAILS_AFTER_DAYS = 90
INACTIVE_AFTER_DAYS = 730
OPEN_STATES = ("open", "assigned", "in_progress")


@dataclass(frozen=True)
class Retention:
    """What a retention run would do (dry run) or did (apply), as counts."""

    as_of: datetime
    older_than_days: int
    inactive_after_days: int
    expired_rounds: list[str]
    calls_to_strip: int
    notes_to_delete: int
    detail_rows: dict[str, int] = field(default_factory=dict)
    inactive_members: int = 0
    lists_overdue: int = 0
    applied: bool = False


# Calls in a round that ended before the cut-off, that still hold details, and whose member has no
# open follow-up resting on that call.
EXPIRED_CALLS_QUERY = """
CREATE OR REPLACE TEMP TABLE retention_calls AS
WITH rounds AS (SELECT round FROM calls GROUP BY round HAVING max(called_at) < ?)
SELECT c.call_id, c.notes IS NOT NULL AS has_notes
FROM calls c JOIN rounds USING (round)
WHERE NOT EXISTS (SELECT 1 FROM followups f
                  WHERE f.call_id = c.call_id AND list_contains(?, f.state))
  AND (c.notes IS NOT NULL OR c.wellbeing IS NOT NULL OR c.needs_support IS NOT NULL
       OR c.urgency IS NOT NULL OR c.keen_to_volunteer IS NOT NULL
       OR EXISTS (SELECT 1 FROM call_needs n WHERE n.call_id = c.call_id)
       OR EXISTS (SELECT 1 FROM call_skills s WHERE s.call_id = c.call_id)
       OR EXISTS (SELECT 1 FROM call_services v WHERE v.call_id = c.call_id))
"""
COUNT_EXPIRED_QUERY = "SELECT count(*), count(*) FILTER (WHERE has_notes) FROM retention_calls"
COUNT_DETAILS_QUERY = "SELECT count(*) FROM {table} WHERE call_id IN (SELECT call_id FROM retention_calls)"
EXPIRED_ROUNDS_QUERY = "SELECT round FROM calls GROUP BY round HAVING max(called_at) < ? ORDER BY round"
DETAIL_TABLES = ("call_needs", "call_skills", "call_services")
INACTIVE_QUERY = """
SELECT count(*) FROM members m
WHERE m.erased_at IS NULL AND greatest(m.updated_at,
      coalesce((SELECT max(c.called_at) FROM calls c WHERE c.member_key = m.member_key), m.updated_at)) < ?
"""
OVERDUE_LISTS_QUERY = "SELECT count(*) FROM lists WHERE destroyed_at IS NULL AND shred_by < CAST(? AS DATE)"


def plan(con: duckdb.DuckDBPyConnection, *, older_than_days: int = DETAILS_AFTER_DAYS,
         inactive_after_days: int = INACTIVE_AFTER_DAYS, as_of: datetime | None = None) -> Retention:
    """Count what the policy would remove or flag, changing nothing.

    Raises:
        InputError: a day count below 1.
    """
    for name, days in (("--older-than", older_than_days), ("--inactive-after", inactive_after_days)):
        if int(days) < 1:
            raise InputError(f"{name} must be a whole number of days, 1 or more; got {days}.")
    as_of = as_of or datetime.now()
    cutoff = as_of - timedelta(days=int(older_than_days))
    con.execute(EXPIRED_CALLS_QUERY, [cutoff, list(OPEN_STATES)])
    calls, notes = con.execute(COUNT_EXPIRED_QUERY).fetchone()
    details = {t: con.execute(COUNT_DETAILS_QUERY.format(table=t)).fetchone()[0] for t in DETAIL_TABLES}
    rounds = [r[0] for r in con.execute(EXPIRED_ROUNDS_QUERY, [cutoff]).fetchall()]
    inactive_since = as_of - timedelta(days=int(inactive_after_days))
    return Retention(as_of, int(older_than_days), int(inactive_after_days), rounds, calls, notes, details,
                     con.execute(INACTIVE_QUERY, [inactive_since]).fetchone()[0],
                     con.execute(OVERDUE_LISTS_QUERY, [as_of]).fetchone()[0])


STRIP_CALLS_QUERY = """
UPDATE calls SET notes = NULL, wellbeing = NULL, needs_support = NULL, urgency = NULL,
       keen_to_volunteer = NULL
WHERE call_id IN (SELECT call_id FROM retention_calls)
"""


def apply(con: duckdb.DuckDBPyConnection, *, actor: str, older_than_days: int = DETAILS_AFTER_DAYS,
          inactive_after_days: int = INACTIVE_AFTER_DAYS, as_of: datetime | None = None) -> Retention:
    """Remove what the policy says has expired, in one transaction, and audit it. Compact afterwards.

    Returns:
        The same counts as `plan`, with applied=True.
    """
    with transaction(con):
        result = plan(con, older_than_days=older_than_days, inactive_after_days=inactive_after_days,
                      as_of=as_of)
        for table in DETAIL_TABLES:
            con.execute(f"DELETE FROM {table} WHERE call_id IN (SELECT call_id FROM retention_calls)")
        con.execute(STRIP_CALLS_QUERY)
        audit(con, "retention", actor=actor, object_id=f"older_than_{result.older_than_days}d",
              counts={"calls_stripped": result.calls_to_strip, "notes_deleted": result.notes_to_delete,
                      **result.detail_rows, "inactive_members_flagged": result.inactive_members,
                      "lists_overdue": result.lists_overdue})
    snapshot.discard(con)  # the analysis copy kept beside the store held the stripped details
    return Retention(**{**result.__dict__, "applied": True})


__all__ = ["DETAILS_AFTER_DAYS", "INACTIVE_AFTER_DAYS", "Retention", "apply", "plan"]
