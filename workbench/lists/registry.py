"""The list registry: every list of people that left the building, and what became of it.

A list is recorded with its ID, kind, purpose, recipient, creator, dates, row count, the kinds of
data it held and the member keys on it (by row). The guidance's three rules map onto it: a list
past its shred-by date is flagged until someone records its destruction ("Shred it"), and a lost
one gets a breach report in one command ("Report it").
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd

from workbench import ids
from workbench.errors import InputError
from workbench.lists.protection import Protection
from workbench.store import snapshot
from workbench.store.audit import audit
from workbench.store.state import transaction

KINDS = {"followup": "FU", "next_round": "NR"}
KIND_LABELS = {"followup": "welfare follow-up list", "next_round": "next-round call list"}
# Letters only, without I and O: read aloud over a phone without confusion, and never enough
# digits in an ID to look like a phone number to the audit log's guard.
ID_LETTERS = ids.LETTERS
ID_PATTERN = r"^(FU|NR)-\d{8}-[A-Z]{5}$"


@dataclass(frozen=True)
class ListRecord:
    """One registered list, as the registry holds it."""

    list_id: str
    kind: str
    purpose: str
    recipient: str
    created_by: str | None
    created_at: datetime
    shred_by: date
    destroyed_at: datetime | None
    destroyed_by: str | None
    row_count: int
    format: str
    data_categories: tuple[str, ...]
    filters: dict
    excluded: dict
    protection: Protection | None = None  # None: made before protection was recorded

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None


def now() -> datetime:
    """The current UTC time without a zone, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_list_id(kind: str, when: datetime | None = None) -> str:
    """A fresh list ID such as FU-20200415-KQXRT: kind, date made, five random letters.

    Examples:
        >>> new_list_id("followup", datetime(2020, 4, 15))[:12]
        'FU-20200415-'
    """
    if kind not in KINDS:
        raise InputError(f'Unknown list kind "{kind}". Expected one of: {", ".join(KINDS)}.')
    tail = ids.random_letters(5)
    return f"{KINDS[kind]}-{(when or now()):%Y%m%d}-{tail}"


INSERT_LIST = """
INSERT INTO lists (list_id, kind, purpose, recipient, created_by, created_at, shred_by, destroyed_at,
                   destroyed_by, row_count, format, data_categories, filters, excluded)
VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?)
"""
INSERT_PROTECTION = "INSERT INTO list_protection (list_id, method, reason) VALUES (?, ?, ?)"
INSERT_MEMBERS = """
INSERT INTO list_members (list_id, row_number, member_key, digest)
SELECT ?, row_number, member_key, digest FROM {rows}
"""


def register(con: duckdb.DuckDBPyConnection, record: ListRecord, rows: pd.DataFrame) -> ListRecord:
    """Record a new list and its rows, and audit it ("list_created"); inside the caller's transaction.

    Args:
        record: the list (destroyed fields are ignored).
        rows: row_number, member_key and digest, one per row of the list.

    Returns:
        The record as stored.
    """
    con.execute(
        INSERT_LIST,
        [
            record.list_id,
            record.kind,
            record.purpose,
            record.recipient,
            record.created_by,
            record.created_at,
            record.shred_by,
            record.row_count,
            record.format,
            list(record.data_categories),
            json.dumps(record.filters),
            json.dumps(record.excluded),
        ],
    )
    if record.protection is not None:
        con.execute(INSERT_PROTECTION, [record.list_id, record.protection.method, record.protection.reason])
    name = f"_list_rows_{secrets.token_hex(6)}"
    con.register(name, rows[["row_number", "member_key", "digest"]])
    try:
        con.execute(INSERT_MEMBERS.format(rows=name), [record.list_id])
    finally:
        con.unregister(name)
    audit(
        con,
        "list_created",
        actor=record.created_by or "unknown",
        object_id=record.list_id,
        counts={
            "kind": record.kind,
            "rows": record.row_count,
            "format": record.format,
            "excluded": dict(record.excluded),
            # How it was protected, and why not when it was not; never the passphrase.
            **_protection_counts(record.protection),
        },
        member_keys=rows["member_key"].dropna().tolist(),
    )
    return record


PROTECTION_TABLE_QUERY = """
SELECT count(*) FROM duckdb_tables()
WHERE database_name = current_database() AND table_name = 'list_protection'
"""
NO_PROTECTION_TABLE = "(SELECT NULL::VARCHAR AS list_id, NULL::VARCHAR AS method, NULL::VARCHAR AS reason)"


def protection_table(con: duckdb.DuckDBPyConnection) -> str:
    # A store made before list_protection existed gains it on its next write open; read-only until
    # then, its lists read as "not recorded" rather than failing.
    return "list_protection" if con.execute(PROTECTION_TABLE_QUERY).fetchone()[0] else NO_PROTECTION_TABLE


def _protection_counts(protection: Protection | None) -> dict:
    if protection is None:
        return {}
    return {"protection": protection.method, "unprotected_reason": protection.reason}


GET_QUERY = """
SELECT l.list_id, kind, purpose, recipient, created_by, created_at, shred_by, destroyed_at, destroyed_by,
       row_count, format, data_categories, filters, excluded, p.method, p.reason
FROM lists l LEFT JOIN {protection} p ON p.list_id = l.list_id
WHERE l.list_id = ?
"""


def get(con: duckdb.DuckDBPyConnection, list_id: str) -> ListRecord:
    """The registered list with this ID.

    Raises:
        InputError: no such list (the message says how to see every list).
    """
    query = GET_QUERY.format(protection=protection_table(con))
    row = con.execute(query, [str(list_id).strip().upper()]).fetchone()
    if row is None:
        raise InputError(
            f'No list with ID "{safe_id(list_id)}" in this store. `workbench lists` shows every '
            "list and its ID (e.g. FU-20200415-KQXRT)."
        )
    return ListRecord(
        *row[:11], tuple(row[11] or ()), json.loads(row[12] or "{}"), json.loads(row[13] or "{}"),
        Protection(row[14], row[15]) if row[14] else None,
    )


def new_record(kind: str, *, purpose: str, recipient: str, actor: str, shred_after_days: int, row_count: int,
               fmt: str, data_categories: tuple[str, ...], filters: dict, excluded: dict,
               protection: Protection | None = None) -> ListRecord:
    """The registry record of a list made now: a fresh ID, its shred-by date, not destroyed."""
    created = now()
    return ListRecord(
        new_list_id(kind, created), kind, purpose.strip(), recipient.strip(), actor.strip(), created,
        shred_by(created, shred_after_days), None, None, row_count, fmt, data_categories, filters, excluded,
        protection,
    )


def safe_id(value: object) -> str:
    # An ID is echoed only when it looks like one; anything else might be a pasted name or number.
    text = str(value).strip()
    return text if len(text) <= 24 and text.replace("-", "").isalnum() else "(not shown)"


LISTS_QUERY = """
WITH returned AS (SELECT list_id, count(outcome) AS returned FROM list_members GROUP BY list_id)
SELECT l.list_id, l.kind, l.recipient, l.purpose, l.created_by, l.created_at, l.shred_by, l.row_count,
       coalesce(r.returned, 0) AS returned, l.destroyed_at, l.destroyed_by,
       CASE p.method WHEN 'none' THEN 'NOT encrypted: ' || coalesce(p.reason, '')
                     WHEN 'xlsx-agile-aes256' THEN 'encrypted (AES-256 XLSX)'
                     WHEN 'pdf-aes256' THEN 'encrypted (AES-256 PDF)'
                     ELSE coalesce(p.method, 'not recorded') END AS protection
FROM lists l LEFT JOIN returned r ON r.list_id = l.list_id LEFT JOIN {protection} p ON p.list_id = l.list_id
WHERE NOT ? OR l.destroyed_at IS NULL
ORDER BY l.destroyed_at IS NOT NULL, l.shred_by, l.created_at, l.list_id
"""


def lists(
    con: duckdb.DuckDBPyConnection, *, outstanding: bool = False, as_of: date | None = None
) -> pd.DataFrame:
    """Every list, those still out first (soonest shred-by first), each with a status.

    Args:
        outstanding: only lists not yet recorded destroyed.
        as_of: the day shred-by dates are judged against (default today).

    Returns:
        list_id, kind, recipient, purpose, created_by, created_at, shred_by, rows, returned (rows with
        an outcome back), protection (how it was encrypted, or "NOT encrypted: " and the reason
        recorded; "not recorded" for lists made before protection was recorded), status ("out",
        "PAST SHRED-BY" or "destroyed"), days_overdue, destroyed_at, destroyed_by.
    """
    query = LISTS_QUERY.format(protection=protection_table(con))
    frame = con.execute(query, [outstanding]).df().rename(columns={"row_count": "rows"})
    today = pd.Timestamp(as_of or now().date())
    overdue = (today - pd.to_datetime(frame["shred_by"])).dt.days.clip(lower=0)
    destroyed = frame["destroyed_at"].notna()
    frame["status"] = "out"
    frame.loc[~destroyed & (overdue > 0), "status"] = "PAST SHRED-BY"
    frame.loc[destroyed, "status"] = "destroyed"
    frame["days_overdue"] = overdue.where(~destroyed, 0).fillna(0).astype(int)
    order = [
        "list_id",
        "kind",
        "recipient",
        "purpose",
        "created_by",
        "created_at",
        "shred_by",
        "rows",
        "returned",
        "protection",
        "status",
        "days_overdue",
        "destroyed_at",
        "destroyed_by",
    ]
    return frame[order]


DESTROY_QUERY = "UPDATE lists SET destroyed_at = ?, destroyed_by = ? WHERE list_id = ?"


def mark_destroyed(
    con: duckdb.DuckDBPyConnection, list_id: str, *, actor: str, destroyed_at: datetime | None = None
) -> ListRecord:
    """Record that a list was shredded or deleted, and audit it ("list_destroyed").

    Raises:
        InputError: no such list, no actor, or the list was already recorded destroyed (nothing changes).
    """
    if not str(actor or "").strip():
        raise InputError("Say who destroyed the list: give --by NAME or set WORKBENCH_USER.")
    record = get(con, list_id)
    if record.destroyed:
        raise InputError(
            f"List {record.list_id} was already recorded destroyed on "
            f"{record.destroyed_at:%d/%m/%Y} by {record.destroyed_by}; nothing changed."
        )
    when = destroyed_at or now()
    with snapshot.leaving_analysis_data_alone(con), transaction(con):
        con.execute(DESTROY_QUERY, [when, actor.strip(), record.list_id])
        overdue = max((when.date() - record.shred_by).days, 0)
        audit(
            con,
            "list_destroyed",
            actor=actor.strip(),
            object_id=record.list_id,
            counts={"rows": record.row_count, "days_past_shred_by": overdue},
        )
    return get(con, record.list_id)


def shred_by(created: datetime, days: int) -> date:
    """The day a list must be shredded by.

    Raises:
        InputError: days is not a whole number from 1 to 3650.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
        raise InputError(f"--shred-after-days must be a whole number of days from 1 to 3650; got {days!r}.")
    return (created + timedelta(days=days)).date()

__all__ = [
    "ID_PATTERN",
    "KINDS",
    "ListRecord",
    "get",
    "lists",
    "mark_destroyed",
    "new_list_id",
    "new_record",
    "now",
    "register",
    "shred_by",
]
