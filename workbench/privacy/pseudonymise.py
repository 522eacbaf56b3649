"""Keyed pseudonyms (HMAC-SHA256), so nobody can reverse one by trying every phone number.

ENISA (2019): an unkeyed hash of a phone number or membership number can be reversed by brute
force, so every pseudonym here is keyed, and the keys live only inside the encrypted store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from workbench.errors import InputError
from workbench.store import db
from workbench.store import record_keys as store_record_keys  # `record_keys` here is the function below
from workbench.store.audit import audit  # not dataprotection: it imports optouts, which imports this module
from workbench.store.state import transaction

MEMBER_KEY_LENGTH = 16  # hex characters: 64 bits, collision-free at national scale (p < 1e-8)


def keyed(secret: bytes, values: Iterable[str | None], length: int = 64) -> list[str | None]:
    """HMAC-SHA256 of each value under `secret`, as hex; None stays None.

    Examples:
        >>> keyed(b"k" * 32, ["SYN0000001", None], length=8)
        ['bca6d402', None]
    """
    if not secret:
        raise ValueError("A pseudonym needs a key; refusing to hash without one.")
    return [None if v is None else hmac.new(secret, v.encode("utf-8"), hashlib.sha256).hexdigest()[:length]
            for v in values]


# Membership numbers compare without case, spaces or invisible marks: ' syn 0001 ', 'SYN\u00a00001'
# (a no-break space, as spreadsheets paste it) and 'syn0001' are one number. One expression, run by
# DuckDB, serves the import (on a file's column, `ingest.fields`) and every lookup by number
# (`normalise_membership_numbers`), so the two cannot disagree: Python's str.upper makes 'ß' 'SS'
# where DuckDB's makes it 'ẞ', and an opt-out typed with such a number never reached the member.
MEMBERSHIP_NUMBER_SQL = r"upper(regexp_replace({t}, '[\s\x{0B}\x{1C}-\x{1F}\x{85}\p{Z}\p{Cf}]+', '', 'g'))"
_NORMALISER: duckdb.DuckDBPyConnection | None = None
_NORMALISER_LOCK = threading.Lock()


def normalise_membership_numbers(values: Iterable[str | None]) -> list[str | None]:
    """Each membership number as the store holds it (`MEMBERSHIP_NUMBER_SQL`); None stays None.

    Examples:
        >>> normalise_membership_numbers([" syn 0001 ", "syn\u00a00001", None])
        ['SYN0001', 'SYN0001', None]
    """
    global _NORMALISER
    numbers = pa.table({"t": pa.array(list(values), pa.string())})
    if not numbers.num_rows:
        return []
    with _NORMALISER_LOCK:
        if _NORMALISER is None:
            _NORMALISER = duckdb.connect()
        with _NORMALISER.cursor() as cursor:
            cursor.register("numbers", numbers)
            # A plain scan keeps the rows' order.
            result = cursor.execute(f"SELECT {MEMBERSHIP_NUMBER_SQL.replace('{t}', 't')} FROM numbers")
            return result.fetch_arrow_table().column(0).to_pylist()


def normalise_membership_number(value: str) -> str:
    """One membership number as the store holds it: ' syn 0001 ' -> 'SYN0001'."""
    return normalise_membership_numbers([value])[0]


def member_keys(con: duckdb.DuckDBPyConnection, membership_numbers: Iterable[str]) -> list[str]:
    """The member_key for each membership number, under the store's 'member' key."""
    numbers = normalise_membership_numbers(membership_numbers)
    return keyed(db.key(con, "member"), numbers, MEMBER_KEY_LENGTH)


def suppression_hashes(con: duckdb.DuckDBPyConnection, values: Iterable[str | None]) -> list[str | None]:
    """Keyed hashes for the opt-out register: of an E.164 phone, or of a normalised membership number.

    The caller normalises first (phones to E.164, numbers with `normalise_membership_number`), so
    the same person always hashes the same way, before and after their identity is erased.
    """
    return keyed(db.key(con, "suppression"), values)


# -- caller pseudonyms ----------------------------------------------------------------------------
# A caller id from an export can be a volunteer's name, or a number as short as "1" that every count
# contains. At import each distinct id becomes C0001, C0002, ... (numbered in order of first import),
# found again through its keyed hash, so nothing short or personal stands in for a caller.
CALLER_KEY = "caller"
CALLER_PREFIX = "C"
CALLER_DIGITS = 4
STAGED_CALLERS = "SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL AND ({where})"
KNOWN_CALLERS = "SELECT source_hash, caller FROM caller_ids WHERE list_contains(?::VARCHAR[], source_hash)"
NEXT_CALLER = "SELECT count(*) + 1 FROM caller_ids"
CALLER_MAP = """
CREATE OR REPLACE TEMP TABLE {into} AS
SELECT unnest(?::VARCHAR[]) AS raw, unnest(?::VARCHAR[]) AS caller
"""


def caller_pseudonym(number: int) -> str:
    """The pseudonym of the n-th caller the store has seen.

    Examples:
        >>> caller_pseudonym(42), caller_pseudonym(12345)
        ('C0042', 'C12345')
    """
    return f"{CALLER_PREFIX}{number:0{CALLER_DIGITS}d}"


def normalise_caller(value: str) -> str:
    """Caller ids compare without case or surrounding space: ' Ana  B ' == 'ana b'."""
    return " ".join(str(value).split()).casefold()


def caller_pseudonyms(
    con: duckdb.DuckDBPyConnection, table: str, *, into: str, column: str = "caller", where: str = "TRUE"
) -> list[tuple[str, str]]:
    """Map the caller ids in `table.column` (a staging table or view) to the store's caller pseudonyms, as
    the temporary table `into` (raw, caller) that the staged calls are joined to.

    A join, not an UPDATE of the staging table: a national file's two million rows are read once
    when the calls are staged, rather than rewritten first. A caller new to the store is numbered
    after those held; `record_callers` stores the new ones, inside the import's transaction, so a
    new caller's pseudonym is stored with the calls or not at all. The numbering holds because the
    import is the store's only writer between the two. `table`, `into`, `column` and `where` (the
    rows to keep) are the ingest's own SQL, never input.

    Returns:
        The callers new to the store, as (keyed hash of the id, pseudonym) pairs.
    """
    staged = STAGED_CALLERS.format(table=table, column=column, where=where)
    raw = [r[0] for r in con.execute(staged).fetchall()]
    # No caller, no key: a file without callers does not create the store's caller key.
    hashes = keyed(db.ensure_key(con, CALLER_KEY), [normalise_caller(v) for v in raw]) if raw else []
    known = dict(con.execute(KNOWN_CALLERS, [sorted(set(hashes))]).fetchall())
    fresh = sorted(set(hashes) - known.keys())  # by hash: the numbering says nothing of the ids
    start = con.execute(NEXT_CALLER).fetchone()[0]
    for number, digest in enumerate(fresh, start=start):
        known[digest] = caller_pseudonym(number)
    con.execute(CALLER_MAP.format(into=into), [raw, [known[h] for h in hashes]])
    return [(digest, known[digest]) for digest in fresh]


def record_callers(con: duckdb.DuckDBPyConnection, fresh: list[tuple[str, str]]) -> None:
    """Store the pseudonyms of callers new to the store (`caller_pseudonyms`' result)."""
    if fresh:
        con.executemany("INSERT INTO caller_ids VALUES (?, ?)", [list(pair) for pair in fresh])


# -- per-release keys ------------------------------------------------------------------------------
# Every report release that carries a person-level key gets its own HMAC key, so two releases cannot
# be linked by matching pseudonyms unless the organiser asks for it (link_to). The member key is
# never used for a release: a released pseudonym is an HMAC of the member_key under the release key.
RELEASE_PREFIX = "release:"
RELEASE_PSEUDONYM_LENGTH = 16

RELEASE_KEY_QUERY = "SELECT secret FROM keys WHERE name = ?"
INSERT_KEY = "INSERT INTO keys VALUES (?, ?, now())"
RELEASE_KEYS_QUERY = "SELECT name FROM keys WHERE starts_with(name, ?) ORDER BY name"
DELETE_KEY = "DELETE FROM keys WHERE name = ?"


def release_key_name(release_id: str) -> str:
    """The keys-table name of a release's key: 'release:<release_id>'."""
    return RELEASE_PREFIX + release_id


def release_key(con: duckdb.DuckDBPyConnection, release_id: str, *, link_to: str | None = None) -> bytes:
    """A new secret for `release_id`, made with `secrets`; or, with `link_to`, that release's secret again.

    Args:
        release_id: the new release.
        link_to: an earlier release whose pseudonyms the new one must match (the organiser asked).

    Returns:
        The 32-byte secret, stored as 'release:<release_id>' in the encrypted store.

    Raises:
        InputError: the release id is taken, or `link_to` names no stored release key (never
            made, or retired by `workbench keys rotate`).
    """
    name = release_key_name(release_id)
    if con.execute(RELEASE_KEY_QUERY, [name]).fetchone():
        raise InputError(f'Release "{release_id}" already has a key; choose another release id.')
    if link_to is None:
        secret = secrets.token_bytes(32)
    else:
        row = con.execute(RELEASE_KEY_QUERY, [release_key_name(link_to)]).fetchone()
        if not row:
            raise InputError(f'No key for release "{link_to}": it was never made or its key was retired by '
                             "`workbench keys rotate`. Leave out --link-to for an unlinked release.")
        secret = bytes(row[0])
    con.execute(INSERT_KEY, [name, secret])
    return secret


def release_pseudonyms(secret: bytes, member_keys: Iterable[str]) -> list[str | None]:
    """Each member_key's pseudonym in one release: HMAC-SHA256 under the release's key, 16 hex characters."""
    return keyed(secret, member_keys, RELEASE_PSEUDONYM_LENGTH)


def release_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The release ids whose keys are still held."""
    rows = con.execute(RELEASE_KEYS_QUERY, [RELEASE_PREFIX]).fetchall()
    return [row[0][len(RELEASE_PREFIX):] for row in rows]


def rotate_release_keys(con: duckdb.DuckDBPyConnection, *, actor: str) -> int:
    """Retire every release key, so no earlier release can be re-created or linked again; audited.

    The 'member' and 'suppression' keys are not touched: member_key is the store's own join key and
    the suppression hashes must outlive erasure. Releases made after rotation get fresh keys as always.

    Returns:
        How many release keys were retired.
    """
    names = release_keys(con)
    with transaction(con):
        for release_id in names:
            con.execute(DELETE_KEY, [release_key_name(release_id)])
        audit(con, "keys.rotate", actor=actor, object_id="release keys", counts={"retired": len(names)})
    return len(names)


# -- record keys (cell-key perturbation) -------------------------------------------------------------
# Every member holds a permanent secret record key from 0 to 255 (ONS, Census 2021), defined in
# `store.record_keys`: the first byte of SHA-256 over the store's 'record' secret followed by the
# member_key. Reports publish only noise looked up from a sum of keys. The keys are kept nowhere but
# in memory and in the analysis snapshot's file, which is encrypted under a key only the store's own
# secrets give (whoever can read it can read the record secret itself).
RECORD_KEY_NAME = store_record_keys.NAME


def record_secret(con: duckdb.DuckDBPyConnection) -> bytes:
    """The store's record-key secret, made with `secrets` the first time a writable connection asks.

    Raises:
        StoreError: a read-only connection to a store that has never had one (open it once for writing).
    """
    secret = store_record_keys.existing_secret(con)
    if secret is not None:
        return secret
    try:
        return db.ensure_key(con, RECORD_KEY_NAME)
    except duckdb.Error:  # a read-only connection cannot write the new key
        return db.key(con, RECORD_KEY_NAME)


def record_key_sql(secret: bytes, member_key: str) -> str:
    """A DuckDB expression giving each member's record key (0..255) from the trusted column
    `member_key` (`store.record_keys.sql`)."""
    return store_record_keys.sql(secret, member_key)


def record_keys(secret: bytes, member_keys: Iterable[str]) -> list[int]:
    """Each member_key's record key (0..255), the same as `record_key_sql` gives inside DuckDB."""
    prefix = secret.hex()
    return [int(hashlib.sha256((prefix + key).encode("utf-8")).hexdigest()[:2], 16) for key in member_keys]


def file_digest(con: duckdb.DuckDBPyConnection, sha256_hex: str) -> str:
    """A keyed digest of an imported file, for `imports.sha256`: HMAC-SHA256 of its SHA-256.

    A file holding identity (a one-line opt-out file, say) must not be recoverable by hashing every
    candidate phone number, so the stored digest is keyed. It is deterministic under the store's
    keys, so importing the same file twice is still recognised. The key is derived from the
    'suppression' key (never rotated), so no new secret has to be written, even by a dry run.
    """
    key = hmac.new(db.key(con, "suppression"), b"imported file digest", hashlib.sha256).digest()
    return hmac.new(key, sha256_hex.encode("ascii"), hashlib.sha256).hexdigest()
