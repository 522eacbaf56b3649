"""Erasure (UK GDPR Art. 17): remove a member's identity and everything recorded about them, keep
only what stops them being contacted again, then rewrite the file so the bytes are really gone.

What stays: the members row (member_key and erased_at only, no branch, ward, postcode or age), the
opt-out register's hashes and member_key (plus a scope "all" entry added now, so a re-import of the
original member list can never put them back on a list), list rows with member_key cleared (a list
still counts its people for a breach report), and the audit log (which never held their data).

DuckDB marks deleted rows free but does not overwrite them, so `compact` copies the live data into a
fresh file under the same passphrase and atomically replaces the old one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from workbench.errors import InputError
from workbench.privacy import optouts, subjects
from workbench.privacy.optouts import vocabulary
from workbench.store import db, snapshot, snapshot_file
from workbench.store.audit import audit
from workbench.store.state import transaction

ERASURE_REASONS = ("subject_request", "deceased", "left_party", "other")
# Tables that keep a row after erasure (changed, not deleted); every other table holding a
# member_key or one of their call_ids loses those rows, including tables added after this module.
KEPT = {"members", "optouts", "list_members", "audit_log", "audit_head"}


@dataclass(frozen=True)
class Erasure:
    """What was removed, as counts by table, for one member_key."""

    member_key: str
    removed: dict[str, int]


TABLES_WITH_QUERY = """
SELECT table_name FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND column_name = ?
ORDER BY table_name
"""
CALL_IDS_QUERY = "SELECT call_id FROM calls WHERE member_key = ?"
CLEAR_MEMBER_QUERY = """
UPDATE members SET erased_at = now(), updated_at = now(), branch = NULL, ward = NULL, postcode = NULL,
       age = NULL, joined_on = NULL
WHERE member_key = ?
"""
# member_key, and any digest of the cells as issued, go; the row stays so the list keeps its count.
LIST_COLUMNS_CLEARED = ("member_key", "digest")
LIST_COLUMNS_QUERY = """
SELECT column_name FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'list_members'
"""


def erase(con: duckdb.DuckDBPyConnection, *, actor: str, reason: str, membership_number: str | None = None,
          phone: str | None = None, member_key: str | None = None) -> Erasure:
    """Remove one member's identity and records in one transaction; audit it. Compact afterwards.

    Args:
        reason: one of ERASURE_REASONS.
        membership_number, phone, member_key: exactly one.

    Returns:
        Erasure(member_key, removed): rows removed per table.

    Raises:
        InputError: bad reason, unknown member, malformed or shared phone, or already erased.
    """
    reason = vocabulary(reason, ERASURE_REASONS, "--reason")
    person = subjects.find(con, membership_number=membership_number, phone=phone, member_key=member_key)
    if person.erased:
        raise InputError("That member was erased already; nothing changed.")
    with transaction(con):
        removed = _remove(con, person.member_key)
        optouts.keep_erased(con, person, actor=actor)
        removed["list_rows_kept"] = _clear_list_rows(con, person.member_key)
        con.execute(CLEAR_MEMBER_QUERY, [person.member_key])
        audit(con, "erase", actor=actor, object_id=person.member_key, counts={**removed, "reason": reason},
              member_keys=[person.member_key])
    snapshot.discard(con)  # the analysis copy kept beside the store held their calls
    return Erasure(person.member_key, removed)


def _clear_list_rows(con: duckdb.DuckDBPyConnection, member_key: str) -> int:
    present = {row[0] for row in con.execute(LIST_COLUMNS_QUERY).fetchall()}
    sets = ", ".join(f"{c} = NULL" for c in LIST_COLUMNS_CLEARED if c in present)
    return len(con.execute(f"UPDATE list_members SET {sets} WHERE member_key = ? RETURNING 1",
                           [member_key]).fetchall())


def _remove(con: duckdb.DuckDBPyConnection, member_key: str) -> dict[str, int]:
    call_ids = [row[0] for row in con.execute(CALL_IDS_QUERY, [member_key]).fetchall()]
    removed: dict[str, int] = {}
    # Rows keyed by call first, while the calls still say whose they are.
    for table in _tables_with(con, "call_id"):
        if table not in KEPT and table != "calls" and call_ids:
            removed[table] = _delete(con, table, "call_id = ANY(?)", [call_ids])
    for table in _tables_with(con, "member_key"):
        if table not in KEPT:  # added to what went by call (followups has both columns)
            removed[table] = removed.get(table, 0) + _delete(con, table, "member_key = ?", [member_key])
    return {table: n for table, n in removed.items() if n}


def _tables_with(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    return [row[0] for row in con.execute(TABLES_WITH_QUERY, [column]).fetchall()]


def _delete(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list) -> int:
    # The table name comes from the catalogue, not from input, and is quoted all the same.
    quoted = '"' + table.replace('"', '""') + '"'
    return len(con.execute(f"DELETE FROM {quoted} WHERE {where} RETURNING 1", params).fetchall())


def compact(path: str | Path, passphrase: str | None) -> Path:
    """Rewrite the store into a fresh file, so deleted rows are no longer anywhere in it.

    Needs exclusive access: it opens the store for writing (waiting, then failing, if another program
    holds it), copies every table into a new file with the same passphrase, and atomically replaces
    the old file (mode 0600).

    Raises:
        StoreError: the store is missing, busy, or the passphrase is wrong.
    """
    path = Path(path)
    fresh = path.with_name(path.name + ".compacting")
    _remove_files(fresh)
    con = db.connect(path, passphrase)
    old_umask = os.umask(0o077)
    try:
        key = f" (ENCRYPTION_KEY {_quote(passphrase)})" if passphrase else ""
        con.execute(f"ATTACH {_quote(str(fresh))} AS wb_compact{key}")
        con.execute(f"COPY FROM DATABASE {db.ALIAS} TO wb_compact")
        con.execute("DETACH wb_compact")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        _remove_files(fresh)
        raise
    finally:
        os.umask(old_umask)
    con.close()
    os.replace(fresh, path)
    db.protect(path)
    snapshot_file.discard(path)
    return path


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _remove_files(path: Path) -> None:
    for candidate in (path, Path(f"{path}.wal")):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()


__all__ = ["ERASURE_REASONS", "Erasure", "compact", "erase"]
