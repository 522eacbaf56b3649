"""The opt-out register: the one choke point every list of people goes through.

An opt-out holds keyed hashes (HMAC under keys['suppression']) of the E.164 phone number and the
membership number it was given for, plus the member_key when it matched a member. Suppression
joins a list against the active opt-outs on all three, so:

- an opt-out suppresses the member *and* the phone number (another member on that number too);
- an entry that matched nobody still suppresses anyone who arrives later with that number;
- it still works after the member's identity has been erased, because the hashes stay.

Withdrawal records a re-consent with its own reason and date; nothing is ever deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import ids
from workbench.errors import InputError
from workbench.privacy import subjects
from workbench.privacy.subjects import phone_e164
from workbench.store import snapshot
from workbench.store.audit import audit
from workbench.store.state import fingerprint as store_fingerprint
from workbench.store.state import transaction

REASONS = ("asked_not_to_be_called", "complaint", "deceased", "moved_away", "other")
SCOPES = ("calls", "all")
# "register": a bare phone number kept on the do-not-call register, with no member and no story.
SOURCES = ("call", "manual", "import", "return", "erasure", "register")
# Every INSERT INTO optouts in the workbench is in this module and names these columns; withdrawal
# columns start empty and only `withdraw` sets them.
ENTRY_COLUMNS = (
    "optout_id, member_key, phone_hash, membership_hash, scope, reason, source, recorded_by, recorded_at"
)
# What a list is for, as passed to suppress(): a call list (both kinds of opt-out apply), "all"
# (every opt-out applies: the strictest), or "other" contact such as post (only scope "all" applies).
LIST_SCOPES = {"calls": ("calls", "all"), "all": ("calls", "all"), "other": ("all",)}
REASON_OPTED_OUT, REASON_ERASED, REASON_GONE, REASON_NO_KEY = (
    "opted out", "erased", "deceased or moved", "no member key")


@dataclass(frozen=True)
class Suppressed:
    """A list after suppression: the rows kept, and how many people were left out, by reason."""

    kept: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def total_excluded(self) -> int:
        return sum(self.excluded.values())


# Everyone the register or an erasure keeps off a list, with the stronger reason. An opt-out or
# erasure counts the moment it is committed (`flagged` keeps a reading only while the store
# and the register are exactly as they were). It does not depend on the list, so a
# 500,000-row list costs nothing extra in DuckDB: Arrow's is_in against this (small) set does the
# rest. Identities are scanned once, with two IN (hash-set) tests rather than a join with OR, so
# DuckDB hashes the small register side instead of comparing every pair.
REGISTER_FLAGGED_QUERY = """
WITH active AS (
    SELECT member_key, phone_hash, membership_hash FROM optouts
    WHERE withdrawn_at IS NULL AND list_contains(?, scope)
),
opted AS (
    SELECT member_key FROM active WHERE member_key IS NOT NULL
    UNION
    SELECT member_key FROM identities
    WHERE phone_hash IN (SELECT phone_hash FROM active)
       OR membership_hash IN (SELECT membership_hash FROM active)
),
flagged AS (
    SELECT member_key, 1 AS strength, 'erased' AS reason FROM members WHERE erased_at IS NOT NULL
    UNION ALL SELECT member_key, 2, 'opted out' FROM opted
)
SELECT member_key, arg_min(reason, strength) AS reason FROM flagged GROUP BY member_key
"""

# Gone: a deceased_moved call with no later call of the same member (so their latest call says
# so; on a tie at the latest moment, the safe side: suppressed). It depends only on calls, so the
# analysis snapshot's `gone` table answers it when the snapshot is of the store as it is now (the
# snapshot is rebuilt whenever calls change); otherwise (inside a transaction, say) the store does.
GONE_QUERY = """
SELECT DISTINCT d.member_key FROM calls d
WHERE d.outcome = 'deceased_moved'
  AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.member_key = d.member_key AND c.called_at > d.called_at)
"""
SNAPSHOT_GONE_QUERY = "SELECT member_key FROM gone"


# What the register reading depends on, read on every call (under a millisecond): any entry added
# or withdrawn, or any erasure, changes it, so a kept reading is used only for an identical register.
REGISTER_STATE_QUERY = """
SELECT count(*), count(withdrawn_at), max(recorded_at), max(withdrawn_at),
       (SELECT count(erased_at) FROM members), (SELECT count(*) FROM identities)
FROM optouts
"""
# The last reading per scope: (store fingerprint, register state) -> table. Matching the register
# against 500,000 identities costs ~25 ms on the national store, and a dashboard reads it on every
# filter change; the store fingerprint (file, WAL, audit head) changes with any committed write from
# any process, and the register state above is checked besides. Keys only, never identities.
_READINGS: dict[str, tuple[tuple, pa.Table]] = {}


def reading_key(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """What a kept reading of the register, or anything suppressed by it, is valid for: the store's
    `state.fingerprint` and the register's own state. None inside a transaction: keep nothing."""
    fingerprint = store_fingerprint(con)
    return None if fingerprint is None else (fingerprint, con.execute(REGISTER_STATE_QUERY).fetchone())


def flagged(con: duckdb.DuckDBPyConnection, scope: str = "calls") -> pd.DataFrame:
    """`flagged_table` as a DataFrame of Arrow-backed strings: member_key, reason."""
    return flagged_table(con, scope).to_pandas(types_mapper=pd.ArrowDtype)


def flagged_table(con: duckdb.DuckDBPyConnection, scope: str = "calls") -> pa.Table:
    """Everyone in the store who must not be on a list of kind `scope`: member_key, reason.

    One row and reason per member, the strongest: erased, then opted out, then deceased or moved.
    Read afresh whenever the store or the register changed; inside a transaction, always.
    """
    key = reading_key(con)
    kept = _READINGS.get(scope)
    if key is not None and kept is not None and kept[0] == key:
        return kept[1]  # Arrow tables cannot be changed in place, so sharing one is safe
    reading = _read_flagged(con, scope, snapshot.current(con, key[0] if key else None))
    if key is not None:
        _READINGS[scope] = (key, reading)
    return reading


def _read_flagged(con: duckdb.DuckDBPyConnection, scope: str, snap) -> pa.Table:
    register = con.execute(REGISTER_FLAGGED_QUERY, [list(LIST_SCOPES[scope])]).fetch_arrow_table()
    if snap is not None:
        with snap.cursor() as cursor:
            gone = cursor.execute(SNAPSHOT_GONE_QUERY).fetch_arrow_table()
    else:
        gone = con.execute(GONE_QUERY).fetch_arrow_table()
    register = register.cast(pa.schema([("member_key", pa.string()), ("reason", pa.string())]))
    # The register's reasons outrank "deceased or moved" (the register has one row per member).
    gone = gone.filter(pc.invert(pc.is_in(gone.column("member_key").cast(pa.string()),
                                          value_set=register.column("member_key").combine_chunks())))
    gone = gone.append_column("reason", pa.array([REASON_GONE] * gone.num_rows, pa.string()))
    return pa.concat_tables([register, gone.cast(register.schema)]).combine_chunks()


def suppress(con: duckdb.DuckDBPyConnection, people: pd.DataFrame, *, scope: str = "calls",
             flagged_now: pd.DataFrame | pa.Table | None = None) -> Suppressed:
    """Remove everyone who must not be on a list: opted out, erased, or deceased/moved.

    Every list, export or follow-up queue of people goes through this function; there is no
    second path. The input is not changed.

    Args:
        people: any frame with a `member_key` column (other columns are kept as they are).
        scope: what the list is for: "calls" (default; call lists), "all" (every opt-out applies),
            or "other" (contact other than calls, such as post: only opt-outs with scope "all").
        flagged_now: `flagged_table(con, scope)` (or `flagged`) read moments ago, to check several
            lists built together against one reading of the register (read again for every list
            otherwise).

    Returns:
        Suppressed(kept, excluded): `kept` has the same columns with suppressed rows removed;
        `excluded` counts distinct people left out, by reason, e.g. {"opted out": 3, "erased": 1}.
        Rows without a member_key cannot be checked, so they are left out too ("no member key").

    Raises:
        InputError: no member_key column, or an unknown scope.
    """
    _require_keys(people.columns)
    column = people["member_key"]
    try:
        keys = pa.array(column, from_pandas=True)  # None and NaN both become null
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # keys of mixed types: compared as text, as stored
        keys = pa.array(column.astype(str).where(column.notna(), None), pa.string())
    kept, excluded = _check_keys(con, keys, scope, flagged_now)
    return Suppressed(people.loc[kept.to_numpy(zero_copy_only=False)], excluded)


def suppress_table(con: duckdb.DuckDBPyConnection, table: pa.Table, *, scope: str = "calls",
                   flagged_now: pd.DataFrame | pa.Table | None = None) -> tuple[pa.Table, dict[str, int]]:
    """`suppress` for an Arrow table with a member_key column: (rows kept, excluded counts).

    Only the keys are checked, so no other column (lists of categories or skills, say) is
    converted to Python just to be thrown away, and pandas is never needed.
    """
    _require_keys(table.column_names)
    kept, excluded = _check_keys(con, table.column("member_key"), scope, flagged_now)
    return table.filter(kept), excluded


def _require_keys(columns) -> None:
    if "member_key" not in columns:
        raise InputError("suppress() needs a member_key column: every list of people is checked by it.")


def _check_keys(con: duckdb.DuckDBPyConnection, keys: pa.Array | pa.ChunkedArray, scope: str,
                flagged_now: pd.DataFrame | pa.Table | None) -> tuple[pa.Array, dict[str, int]]:
    """The one suppression rule, for `suppress` and `suppress_table`: which rows to keep, and the
    distinct people left out by reason, most first. A row without a key cannot be checked: left out."""
    if scope not in LIST_SCOPES:
        raise InputError(f'Unknown list scope "{scope}". Expected one of: {", ".join(LIST_SCOPES)}.')
    if flagged_now is None:
        everyone = flagged_table(con, scope)
    elif isinstance(flagged_now, pa.Table):
        everyone = flagged_now
    else:
        everyone = pa.Table.from_pandas(flagged_now[["member_key", "reason"]], preserve_index=False)
    keys = (keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys).cast(pa.string())
    flagged_keys = everyone.column("member_key").cast(pa.string()).combine_chunks()
    # The smaller side is hashed: a branch list is smaller than a union's register, a whole
    # membership larger. Either way the flagged people on the list come out of it.
    if len(keys) < len(flagged_keys):
        on_list = everyone.filter(pc.is_in(flagged_keys, value_set=keys))
        flagged_rows = pc.is_in(keys, value_set=on_list.column("member_key").cast(pa.string()))
    else:
        flagged_rows = pc.is_in(keys, value_set=flagged_keys)  # a null key is not in the set: False
        on_list = everyone.filter(pc.is_in(flagged_keys, value_set=keys.filter(flagged_rows)))
    # Counts are of distinct people on this list, whatever their number of rows.
    counts = pc.value_counts(on_list.column("reason").combine_chunks()).to_pylist()
    excluded = {str(c["values"]): int(c["counts"]) for c in sorted(counts, key=lambda c: -c["counts"])}
    missing = keys.null_count
    if missing:
        excluded[REASON_NO_KEY] = missing
    return pc.and_(pc.invert(flagged_rows), pc.is_valid(keys)), excluded


# One register entry per "do not call" outcome, its id derived from the call, so importing the same
# calls again adds nothing, and a withdrawn entry is not brought back by a re-import.
FROM_CALLS_QUERY = """
INSERT INTO optouts (COLUMNS)
SELECT 'call-' || c.call_id, c.member_key, i.phone_hash, i.membership_hash, 'calls',
       'asked_not_to_be_called', 'call', ?, c.called_at
FROM calls c
LEFT JOIN identities i ON i.member_key = c.member_key
WHERE c.outcome = 'do_not_call'
  AND {only_calls}
  AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.optout_id = 'call-' || c.call_id)
RETURNING member_key
""".replace("COLUMNS", ENTRY_COLUMNS)


def record_from_calls(con: duckdb.DuckDBPyConnection, *, actor: str,
                      call_ids: list[str] | None = None) -> int:
    """Turn "do not call" outcomes into register entries (source "call"); return how many were added.

    Args:
        actor: who ran the import, for the register and the audit log.
        call_ids: only these calls (e.g. the ones just imported); None means every call in the store.

    Returns:
        The number of new register entries. Calls already on the register add nothing.
    """
    if call_ids is None:
        rows = con.execute(FROM_CALLS_QUERY.format(only_calls="TRUE"), [actor]).fetchall()
    else:
        name = f"_calls_{uuid.uuid4().hex}"
        con.register(name, pa.table({"call_id": pa.array([str(c) for c in call_ids], pa.string())}))
        try:
            only = f"c.call_id IN (SELECT call_id FROM {name})"
            rows = con.execute(FROM_CALLS_QUERY.format(only_calls=only), [actor]).fetchall()
        finally:
            con.unregister(name)
    if rows:
        audit(con, "optout.add", actor=actor, counts={"added": len(rows), "source": "call"},
              member_keys=[r[0] for r in rows])
    return len(rows)


# ---- writers for the other paths onto the register (returns, erasure, bulk import) ----------------

# One entry per "opted out" row of a returned list, none when an active entry already covers the
# member (so the same return twice adds nothing). A withdrawn entry covers nothing: a member who
# opted out, was withdrawn in error and then opted out again on a later call gets a new entry.
FROM_RETURN_QUERY = """
INSERT INTO optouts (COLUMNS)
SELECT ?, i.member_key, i.phone_hash, i.membership_hash, 'calls', 'asked_not_to_be_called', 'return', ?, ?
FROM identities i
WHERE i.member_key = ? AND NOT EXISTS (
    SELECT 1 FROM optouts o
    WHERE o.member_key = i.member_key AND o.withdrawn_at IS NULL AND o.scope IN ('calls', 'all'))
RETURNING member_key
""".replace("COLUMNS", ENTRY_COLUMNS)
# Ids taken by earlier entries of the same returned row: the next one is numbered after them.
RETURN_IDS_QUERY = "SELECT count(*) FROM optouts WHERE optout_id = ? OR starts_with(optout_id, ? || '#')"


def record_from_return(con: duckdb.DuckDBPyConnection, optout_id: str, member_key: str, *, actor: str,
                       when) -> bool:
    """Register a returned list's "opted out" row (source "return"); False if an active entry already
    covers the member. `optout_id` names the row; a row that opted out before gets "<id>#2", ...

    Runs in the caller's transaction (a returns import is all or nothing) and leaves auditing to it.
    """
    taken = con.execute(RETURN_IDS_QUERY, [optout_id, optout_id]).fetchone()[0]
    entry_id = f"{optout_id}#{taken + 1}" if taken else optout_id
    return bool(con.execute(FROM_RETURN_QUERY, [entry_id, actor, when, member_key]).fetchall())


ENTRY_EXISTS_QUERY = "SELECT 1 FROM optouts WHERE optout_id = ?"
ERASURE_QUERY = """
INSERT INTO optouts (COLUMNS) VALUES (?, ?, ?, ?, 'all', 'other', 'erasure', ?, now())
""".replace("COLUMNS", ENTRY_COLUMNS)


# The erased person's own active opt-outs: theirs by member_key or membership number, never by a
# phone someone else may share.
OWN_OPTOUT_QUERY = """
SELECT min(recorded_at) FROM optouts
WHERE withdrawn_at IS NULL AND (member_key = ? OR membership_hash = ?)
"""
# Their entries stop matching the phone: a phone can be shared (a household landline), and an entry
# that matched it would opt out, and show in the subject-access file of, someone else.
DETACH_PHONE_QUERY = "UPDATE optouts SET phone_hash = NULL WHERE member_key = ? OR membership_hash = ?"
BARE_NUMBER_QUERY = """
INSERT INTO optouts (COLUMNS) VALUES (?, NULL, ?, NULL, 'calls', 'other', 'register', NULL, ?)
""".replace("COLUMNS", ENTRY_COLUMNS)


def keep_erased(con: duckdb.DuckDBPyConnection, person: subjects.Subject, *, actor: str) -> str:
    """Keep what stops an erased member being contacted again, and nothing that points at them; return the id.

    - Their membership-number hash (and member_key) stay on the register, so re-importing the old
      member list can never bring them back.
    - Their phone hash is kept only if they had opted out themselves, and then only as a bare number
      on the do-not-call register: no member, no reason, no source that says "erasure", dated when
      they first opted out. Anyone who shares the phone is then not called on it, and sees in their
      own subject-access file only that the number is on the register.
    - Otherwise the phone is not kept: a member sharing it is not opted out by someone else's erasure.

    Runs in the erasure's own transaction; the erasure's audit entry covers it.
    """
    opted_out_at = con.execute(OWN_OPTOUT_QUERY, [person.member_key, person.membership_hash]).fetchone()[0]
    con.execute(DETACH_PHONE_QUERY, [person.member_key, person.membership_hash])
    if opted_out_at is not None and person.phone_hash is not None:
        con.execute(BARE_NUMBER_QUERY, [f"num-{uuid.uuid4().hex[:12]}", person.phone_hash, opted_out_at])
    optout_id = f"era-{person.member_key}"
    if con.execute(ENTRY_EXISTS_QUERY, [optout_id]).fetchone():
        # Erased before, then brought back by hand (ingest never restores an erased identity): a new
        # entry of its own, and the earlier one keeps its history.
        optout_id = f"{optout_id}-{ids.random_letters(6)}"
    con.execute(ERASURE_QUERY, [optout_id, person.member_key, None, person.membership_hash, actor])
    return optout_id


IMPORTED_QUERY = """
INSERT INTO optouts (COLUMNS)
SELECT 'imp-' || ? || '-' || entry, member_key, phone_hash, membership_hash, scope, reason, 'import', ?, now()
FROM {matched} WHERE NOT on_register
""".replace("COLUMNS", ENTRY_COLUMNS)


def record_imported(con: duckdb.DuckDBPyConnection, matched: pd.DataFrame, *, import_id: str,
                    actor: str) -> None:
    """Register a bulk opt-out file's matched entries (source "import") not already on the register.

    `matched` has entry, member_key, phone_hash, membership_hash, scope, reason and on_register
    (`ingest.optout_lists`). Runs in the import's transaction, which audits it.
    """
    name = f"_matched_{uuid.uuid4().hex}"
    con.register(name, matched)
    try:
        con.execute(IMPORTED_QUERY.format(matched=name), [import_id, actor])
    finally:
        con.unregister(name)


# One register entry per member a source system marks do-not-call (NationBuilder's do_not_call,
# Spoke's contact[optOut]); its id is derived from the file's SHA-256 and the member, so the same
# file imported twice adds nothing. A member already opted out (not withdrawn) gets no second entry.
FROM_IMPORT_QUERY = """
INSERT INTO optouts (COLUMNS)
SELECT 'import-' || substr(sha256(? || '|' || k.member_key), 1, 24), k.member_key, i.phone_hash,
       i.membership_hash, 'calls', 'asked_not_to_be_called', 'import', ?, now()
FROM (SELECT DISTINCT member_key FROM {keys}) k
LEFT JOIN identities i ON i.member_key = k.member_key
WHERE NOT EXISTS (SELECT 1 FROM optouts o
                  WHERE o.optout_id = 'import-' || substr(sha256(? || '|' || k.member_key), 1, 24))
  AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.member_key = k.member_key AND o.withdrawn_at IS NULL)
RETURNING member_key
""".replace("COLUMNS", ENTRY_COLUMNS)


def record_from_import(con: duckdb.DuckDBPyConnection, *, actor: str, member_keys: list[str],
                       sha256: str) -> int:
    """Put members an imported file marks do-not-call on the register (source "import").

    Runs inside the caller's transaction (the import's), so the opt-outs and the rows that carried
    them are written together or not at all.

    Args:
        actor: who ran the import.
        member_keys: the members the file marks do-not-call.
        sha256: the file's SHA-256, kept in the entry's id and the audit log.

    Returns:
        The number of new register entries.
    """
    name = f"_import_keys_{uuid.uuid4().hex}"
    con.register(name, pa.table({"member_key": pa.array([str(k) for k in member_keys], pa.string())}))
    try:
        rows = con.execute(FROM_IMPORT_QUERY.format(keys=name), [sha256, actor, sha256]).fetchall()
    finally:
        con.unregister(name)
    if rows:
        audit(con, "optout.add", actor=actor, object_id=f"import:{sha256[:16]}",
              counts={"added": len(rows), "source": "import", "sha256": sha256},
              member_keys=[r[0] for r in rows])
    return len(rows)


WITHDRAWAL_REASONS = ("re_consented", "recorded_in_error", "other")


@dataclass(frozen=True)
class Change:
    """What an add or withdraw did: the entries touched, and whether anything changed."""

    optout_ids: tuple[str, ...]
    changed: bool
    message: str


def vocabulary(value: str | None, allowed: tuple[str, ...], option: str, *, echo: bool = True) -> str:
    """A value from a fixed vocabulary; "asked not to be called" reads as asked_not_to_be_called.

    Args:
        echo: repeat the bad value in the message; False for values read from a file, where a
            cell meant for a reason might hold free text about a person.

    Raises:
        InputError: missing or not in the vocabulary; the message lists what is allowed.
    """
    text = "_".join(str(value or "").strip().lower().replace("-", " ").split())
    if not text:
        raise InputError(f"{option} is missing; expected one of: {', '.join(allowed)}.")
    if text not in allowed:
        shown = f' "{value}"' if echo else ""
        raise InputError(f"{option}{shown} is not one of: {', '.join(allowed)}.")
    return text


ACTIVE_FOR_QUERY = """
SELECT optout_id, scope FROM optouts
WHERE withdrawn_at IS NULL
  AND (member_key = ? OR membership_hash = ? OR (phone_hash = ? AND (member_key IS NULL OR member_key = ?)))
"""
ADD_QUERY = f"INSERT INTO optouts ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())"


def add(con: duckdb.DuckDBPyConnection, *, actor: str, reason: str, scope: str = "calls",
        membership_number: str | None = None, phone: str | None = None, member_key: str | None = None,
        source: str = "manual") -> Change:
    """Put one member (and the phone number they gave) on the register, in its own transaction.

    Args:
        reason: one of REASONS (spaces allowed: "asked not to be called").
        scope: "calls" (no more calls) or "all" (no contact at all).
        membership_number, phone, member_key: exactly one. A phone or membership number that
            matches nobody yet is stored all the same, so it suppresses anyone who arrives with it.

    Returns:
        Change: the new entry's id; changed=False if an entry already covers it.

    Raises:
        InputError: a bad reason or scope, a malformed phone, or nobody matches.
    """
    reason, scope = vocabulary(reason, REASONS, "--reason"), vocabulary(scope, SCOPES, "--scope")
    try:
        person = subjects.find(con, membership_number=membership_number, phone=phone, member_key=member_key)
    except subjects.NoMatch:
        if member_key:
            raise
        return _add_unmatched(con, actor, reason, scope, source, phone, membership_number)
    by_phone = subjects.phone_hash(con, phone) if phone else None
    existing = con.execute(ACTIVE_FOR_QUERY, [person.member_key, person.membership_hash,
                                              by_phone or person.phone_hash, person.member_key]).fetchall()
    if any(s in (scope, "all") for _, s in existing):
        return Change(tuple(i for i, _ in existing), False,
                      "Already on the opt-out register; nothing changed.")
    optout_id = f"opt-{ids.random_letters(12)}"
    with snapshot.leaving_analysis_data_alone(con), transaction(con):
        con.execute(ADD_QUERY, [optout_id, person.member_key, by_phone or person.phone_hash,
                                person.membership_hash, scope, reason, source, actor])
        audit(con, "optout.add", actor=actor, object_id=optout_id,
              counts={"added": 1, "scope": scope, "reason": reason, "source": source},
              member_keys=[person.member_key])
    return Change((optout_id,), True, f"Added {optout_id} (scope {scope}, reason {reason}).")


def _add_unmatched(con: duckdb.DuckDBPyConnection, actor: str, reason: str, scope: str, source: str,
                   phone: str | None, membership_number: str | None) -> Change:
    # Someone asked, on paper or by phone, for a number we do not hold yet: keep its hash, so the
    # suppression is waiting for them if a later import brings them in.
    phone_h = subjects.phone_hash(con, phone) if phone else None
    number_h = subjects.membership_hash(con, membership_number) if membership_number else None
    existing = con.execute(ACTIVE_BY_HASH_QUERY, [phone_h, number_h]).fetchall()
    if any(s in (scope, "all") for _, s in existing):
        return Change(tuple(i for i, _ in existing), False,
                      "Already on the opt-out register; nothing changed.")
    optout_id = f"opt-{ids.random_letters(12)}"
    with snapshot.leaving_analysis_data_alone(con), transaction(con):
        con.execute(ADD_QUERY, [optout_id, None, phone_h, number_h, scope, reason, source, actor])
        audit(con, "optout.add", actor=actor, object_id=optout_id,
              counts={"added": 1, "matched": 0, "scope": scope, "reason": reason, "source": source})
    what = "phone number" if phone else "membership number"
    return Change((optout_id,), True, f"Added {optout_id} (scope {scope}, reason {reason}). No member has "
                  f"that {what} yet; it is kept, so anyone who arrives with it will not be called.")


WITHDRAW_QUERY = """
UPDATE optouts SET withdrawn_at = now(), withdrawn_by = ?, withdrawal_reason = ?
WHERE withdrawn_at IS NULL AND list_contains(?, optout_id)
RETURNING optout_id, member_key
"""
ACTIVE_BY_HASH_QUERY = """
SELECT optout_id, scope FROM optouts
WHERE withdrawn_at IS NULL AND (phone_hash = ? OR membership_hash = ?)
"""


def withdraw(con: duckdb.DuckDBPyConnection, *, actor: str, reason: str, membership_number: str | None = None,
             phone: str | None = None, member_key: str | None = None) -> Change:
    """Record a re-consent: every active entry for the person is marked withdrawn, never deleted.

    Withdrawing by phone touches entries for that number; by membership number or member_key, the
    member's own entries and entries for their phone that name no other member.

    Raises:
        InputError: a bad reason, a malformed phone, or no active entry matches (nothing changed).
    """
    reason = vocabulary(reason, WITHDRAWAL_REASONS, "--reason")
    ids = [row[0] for row in _active_entries(con, membership_number, phone, member_key)]
    if not ids:
        raise InputError("No active opt-out matches; nothing changed. "
                         "See the register with: workbench optout list")
    with snapshot.leaving_analysis_data_alone(con), transaction(con):
        rows = con.execute(WITHDRAW_QUERY, [actor, reason, ids]).fetchall()
        audit(con, "optout.withdraw", actor=actor, counts={"withdrawn": len(rows), "reason": reason},
              member_keys=[r[1] for r in rows if r[1]])
    noun = "entry" if len(rows) == 1 else "entries"
    return Change(tuple(r[0] for r in rows), True, f"Withdrew {len(rows)} register {noun}.")


def _active_entries(con: duckdb.DuckDBPyConnection, membership_number: str | None, phone: str | None,
                    member_key: str | None) -> list[tuple]:
    subjects.one_identifier(membership_number, phone, member_key)
    if phone:
        return con.execute(ACTIVE_BY_HASH_QUERY, [subjects.phone_hash(con, phone), None]).fetchall()
    try:
        person = subjects.find(con, membership_number=membership_number, member_key=member_key)
    except InputError:
        if not membership_number:
            raise
        # A number imported before its member arrived: only its hash is on the register.
        number_hash = subjects.membership_hash(con, membership_number)
        return con.execute(ACTIVE_BY_HASH_QUERY, [None, number_hash]).fetchall()
    return con.execute(ACTIVE_FOR_QUERY, [person.member_key, person.membership_hash, person.phone_hash,
                                          person.member_key]).fetchall()


REGISTER_QUERY = """
SELECT optout_id, member_key, member_key IS NOT NULL AS matched, scope, reason, source, recorded_by,
       recorded_at, CASE WHEN withdrawn_at IS NULL THEN 'active' ELSE 'withdrawn' END AS status,
       withdrawn_at, withdrawn_by, withdrawal_reason
FROM optouts
WHERE (? IS NULL OR member_key = ?) AND (? OR withdrawn_at IS NULL)
ORDER BY recorded_at, optout_id
"""


def register(con: duckdb.DuckDBPyConnection, *, member_key: str | None = None,
             include_withdrawn: bool = True) -> pd.DataFrame:
    """The register with its history: who, why, where from, when, and any withdrawal.

    It never shows a phone or membership number, nor their hashes: only member_key.
    """
    return con.execute(REGISTER_QUERY, [member_key, member_key, include_withdrawn]).df()


ENTRIES_FOR_QUERY = """
SELECT optout_id, scope, reason, source, recorded_at, withdrawn_at, withdrawal_reason
FROM optouts
WHERE member_key = ? OR membership_hash = ? OR phone_hash = ?
ORDER BY recorded_at
"""


def entries_for(con: duckdb.DuckDBPyConnection, person: subjects.Subject) -> pd.DataFrame:
    """Every register entry, active or withdrawn, that concerns one person (for subject access)."""
    return con.execute(ENTRIES_FOR_QUERY, [person.member_key, person.membership_hash, person.phone_hash]).df()


__all__ = ["LIST_SCOPES", "REASONS", "SCOPES", "SOURCES", "WITHDRAWAL_REASONS", "Change", "Suppressed", "add",
           "entries_for", "flagged", "flagged_table", "keep_erased", "phone_e164", "reading_key",
           "record_from_calls", "record_from_return", "record_imported", "register",
           "suppress", "suppress_table", "vocabulary", "withdraw"]
