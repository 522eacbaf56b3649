"""Data-protection queries raised on calls: "how did you get my number?", complaints, and other
requests for the data-protection team, with their status. A query with no status row is open.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from workbench.errors import InputError
from workbench.privacy.optouts import vocabulary
from workbench.store.audit import audit
from workbench.store.state import transaction

STATUSES = ("open", "passed_to_dp_team", "closed")

LIST_QUERY = """
SELECT c.call_id, c.member_key, c.round, c.called_at, c.dp_query, coalesce(q.status, 'open') AS status,
       q.updated_at, q.updated_by
FROM calls c LEFT JOIN dp_queries q USING (call_id)
WHERE c.dp_query IS NOT NULL AND (? IS NULL OR coalesce(q.status, 'open') = ?)
ORDER BY c.called_at, c.call_id
"""


def queries(con: duckdb.DuckDBPyConnection, *, status: str | None = "open") -> pd.DataFrame:
    """Calls that raised a data-protection query, with status; never the call's notes.

    Args:
        status: one of STATUSES, or None for all.
    """
    if status is not None:
        status = vocabulary(status, STATUSES, "--status")
    return con.execute(LIST_QUERY, [status, status]).df()


CALL_QUERY = "SELECT member_key, dp_query FROM calls WHERE call_id = ?"
SET_QUERY = "INSERT OR REPLACE INTO dp_queries VALUES (?, ?, now(), ?)"


def set_status(con: duckdb.DuckDBPyConnection, call_id: str, status: str, *, actor: str) -> None:
    """Move one query to a new status, and audit it.

    Raises:
        InputError: unknown call, a call with no query, or an unknown status.
    """
    status = vocabulary(status, STATUSES, "status")
    row = con.execute(CALL_QUERY, [call_id]).fetchone()
    if row is None or row[1] is None:
        what = "no call" if row is None else "a call with no data-protection query"
        raise InputError(f'"{call_id}" is {what}. See the open queries with: workbench dp-queries')
    with transaction(con):
        con.execute(SET_QUERY, [call_id, status, actor])
        audit(con, "dp_query.status", actor=actor, object_id=call_id, counts={"status": status},
              member_keys=[row[0]])


__all__ = ["STATUSES", "queries", "set_status"]
