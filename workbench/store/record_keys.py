"""Record keys for the cell-key method (ONS, Census 2021): each member's permanent key, 0 to 255.

A member's record key is the first byte of SHA-256 over the store's 'record' secret (as hex) followed
by the member_key: as good as a random byte to anyone without the secret, and the same for the member
in every release, so the same cell always gets the same noise. Reports publish only noise looked up
from sums of keys, never a key.

The definition lives here, in the bottom layer, because the analysis snapshot keeps every member's
key with its build (`snapshot.Snapshot.kept_record_keys`): hashing them took ~0.7 s of every new
process's first report on the national store, ~1.9 s at union scale. `privacy.pseudonymise` and the
reports use the same definition.
"""

from __future__ import annotations

import hashlib

import duckdb

NAME = "record"  # the secret's name in the store's `keys` table
KEY_QUERY = "SELECT secret FROM keys WHERE name = ?"


def sql(secret: bytes, member_key: str) -> str:
    """A DuckDB expression giving each member's record key (0..255) from the trusted column `member_key`.

    The secret goes in as a hex literal: it is hex only, so it cannot change the query's meaning,
    and the query text is never logged or stored.
    """
    return f"('0x' || left(sha256('{secret.hex()}' || {member_key}), 2))::INTEGER"


def secret_id(secret: bytes) -> str:
    """Which secret a set of keys was made under, without revealing it: its SHA-256, hex."""
    return hashlib.sha256(secret).hexdigest()


def existing_secret(con: duckdb.DuckDBPyConnection) -> bytes | None:
    """The store's record secret, or None if no report has made one yet (this never creates it)."""
    row = con.execute(KEY_QUERY, [NAME]).fetchone()
    return bytes(row[0]) if row else None
