"""The audit log: append-only and hash-chained, so an edited or deleted entry is detectable.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of the entry
itself (seq, logged_at, actor, action, object_id, counts, member_digest). `verify` walks the chain and
names the first entry that does not fit. The head of the chain (last seq and hash) is also kept in
`audit_head`, so deleting the newest entries is caught as well.

An entry never holds a name, phone number, email or note. Callers pass counts and ids only, and
`audit` refuses any string that looks like a phone number or an email address: a cheap guard
against a mistake, not a proof (a name cannot be recognised reliably, so none is ever passed).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from workbench.errors import InputError

GENESIS = "0" * 64

# A phone: 10-15 digits, optionally with +, spaces, dashes, dots or brackets, standing alone
# (not inside a longer word such as a hex digest). An email: anything@anything.tld.
PHONE_LIKE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]{8,}\d(?![\w])")
EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# A member_key is 16 lowercase hex characters. About one in 1,850 is all digits, and was refused as a
# phone number, so such a member could not be erased. No phone number has 16 digits (E.164: at most 15).
MEMBER_KEY_SHAPE = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Verification:
    """The result of checking the chain: ok, how many entries, and the first bad one."""

    ok: bool
    entries: int
    bad_seq: int | None = None
    problem: str | None = None


def member_digest(member_keys: Iterable[str] | None) -> str | None:
    """SHA-256 over the sorted, distinct member keys, so an entry says who without saying who.

    Examples:
        >>> member_digest(["b", "a", "a"]) == member_digest(["a", "b"])
        True
        >>> member_digest(None) is None
        True
    """
    if member_keys is None:
        return None
    keys = sorted({str(k) for k in member_keys if k is not None})
    return hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()


def _canonical(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def entry_hash(prev_hash: str, entry: dict) -> str:
    """SHA-256 of the previous hash followed by the entry's canonical JSON."""
    return hashlib.sha256((prev_hash + _canonical(entry)).encode("utf-8")).hexdigest()


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _refuse_personal_data(field: str, value) -> None:
    for text in _strings(value):
        if MEMBER_KEY_SHAPE.fullmatch(text):
            continue
        digits = sum(ch.isdigit() for ch in text)
        if EMAIL_LIKE.search(text) or (PHONE_LIKE.search(text) and digits >= 10):
            raise InputError(f"Audit {field} looks like it holds a phone number or an email address; the "
                             "audit log takes ids and counts only. Pass a member_key or a count instead.")


LAST_QUERY = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
INSERT_QUERY = "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
HEAD_QUERY = "INSERT OR REPLACE INTO audit_head VALUES (1, ?, ?)"


def audit(con: duckdb.DuckDBPyConnection, action: str, *, actor: str, object_id: str | None = None,
          counts: dict | None = None, member_keys: Iterable[str] | None = None) -> int:
    """Append one entry to the audit log, inside the caller's transaction; return its seq.

    Args:
        action: what happened, e.g. "optout.add", "import.members", "list.create", "erase".
        actor: who did it (from --by or WORKBENCH_USER).
        object_id: what it happened to: a list id, import id, call id or member_key.
        counts: a JSON-able dict of counts, e.g. {"matched": 3, "unmatched": 1}.
        member_keys: the members involved; only a digest of them is stored.

    Returns:
        The new entry's sequence number (1 for the first entry).

    Raises:
        InputError: no actor or action, or a value that looks like a phone number or email.

    Examples:
        >>> audit(con, "optout.add", actor="ana", counts={"added": 1})  # doctest: +SKIP
        1
    """
    if not action or not str(actor or "").strip():
        raise InputError("An audit entry needs an action and an actor: give --by NAME or set WORKBENCH_USER.")
    for field, value in (("action", action), ("object_id", object_id), ("counts", counts)):
        _refuse_personal_data(field, value)
    last = con.execute(LAST_QUERY).fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = datetime.now(UTC).replace(tzinfo=None)
    counts_json = _canonical(counts) if counts is not None else None
    entry = _entry(seq, at, str(actor).strip(), action, object_id, counts_json, member_digest(member_keys))
    digest = entry_hash(prev_hash, entry)
    con.execute(INSERT_QUERY, [seq, at, entry["actor"], action, object_id, counts_json,
                               entry["member_digest"], prev_hash, digest])
    con.execute(HEAD_QUERY, [seq, digest])
    return seq


def _entry(seq: int, at: datetime, actor: str, action: str, object_id: str | None, counts: str | None,
           digest: str | None) -> dict:
    return {"seq": int(seq), "logged_at": at.isoformat(timespec="microseconds"), "actor": actor,
            "action": action, "object_id": object_id, "counts": counts, "member_digest": digest}


ENTRIES_QUERY = """
SELECT seq, logged_at, actor, action, object_id, counts, member_digest, prev_hash, hash
FROM audit_log ORDER BY seq
"""
HEAD_READ_QUERY = "SELECT seq, hash FROM audit_head WHERE id = 1"


def verify(con: duckdb.DuckDBPyConnection) -> Verification:
    """Walk the chain from the first entry and report the first one that does not fit.

    Returns:
        Verification(ok, entries, bad_seq, problem): bad_seq names the entry that was edited, or the
        seq that is missing when an entry was deleted.
    """
    rows = con.execute(ENTRIES_QUERY).fetchall()
    prev_hash, expected_seq = GENESIS, 1
    for seq, at, actor, action, object_id, counts, digest, stored_prev, stored_hash in rows:
        if seq != expected_seq:
            return Verification(False, len(rows), expected_seq, f"entry {expected_seq} is missing (deleted)")
        entry = _entry(seq, at, actor, action, object_id, counts, digest)
        if stored_prev != prev_hash:
            return Verification(False, len(rows), seq, f"entry {seq} does not follow entry {seq - 1}")
        if entry_hash(prev_hash, entry) != stored_hash:
            return Verification(False, len(rows), seq, f"entry {seq} was changed after it was written")
        prev_hash, expected_seq = stored_hash, seq + 1
    return _check_head(con, rows, prev_hash, expected_seq - 1)


def _check_head(con: duckdb.DuckDBPyConnection, rows: list, last_hash: str, last_seq: int) -> Verification:
    head = con.execute(HEAD_READ_QUERY).fetchone()
    if head is None and not rows:
        return Verification(True, 0)
    if head is None:
        return Verification(False, len(rows), last_seq, "the record of the log's last entry is missing")
    if head[0] > last_seq:
        return Verification(False, len(rows), last_seq + 1,
                            f"entry {last_seq + 1} is missing (deleted): the log ends at {last_seq}, "
                            f"but {head[0]} entries were written")
    if head[0] != last_seq or head[1] != last_hash:
        return Verification(False, len(rows), last_seq,
                            f"entry {last_seq} does not match the log's recorded end")
    return Verification(True, len(rows))


LOG_QUERY = """
SELECT seq, logged_at, actor, action, object_id, counts, member_digest
FROM audit_log
WHERE (? IS NULL OR action LIKE ? || '%')
ORDER BY seq DESC
LIMIT ?
"""


def log(con: duckdb.DuckDBPyConnection, *, action: str | None = None, limit: int = 50) -> pd.DataFrame:
    """The newest entries first, optionally only actions starting with `action`."""
    return con.execute(LOG_QUERY, [action, action, limit]).df()


__all__ = ["Verification", "audit", "entry_hash", "log", "member_digest", "verify"]
