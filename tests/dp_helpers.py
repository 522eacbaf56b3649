"""Small hand-made people and calls for the opt-out and data-protection tests, so answers are exact.

Members are written the way ingest writes them: a members row, and an identity with its
suppression hashes computed by the same functions (pseudonymise + phones).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from workbench.privacy import pseudonymise
from workbench.privacy.subjects import phone_e164


def add_member(con: duckdb.DuckDBPyConnection, number: str, phone: str | None = None, *,
               last_name: str = "Example", branch: str = "Ashcombe", ward: str = "Rookton") -> str:
    """Insert (or replace) one member with identity; return the member_key."""
    key = pseudonymise.member_keys(con, [number])[0]
    e164 = phone_e164(phone) if phone else None
    phone_hash, number_hash = pseudonymise.suppression_hashes(
        con, [e164, pseudonymise.normalise_membership_number(number)])
    con.execute("INSERT OR REPLACE INTO members VALUES "
                "(?, ?, ?, 'NV1 1AA', 70, DATE '2001-02-03', now(), now(), NULL)", [key, branch, ward])
    con.execute("INSERT OR REPLACE INTO identities (member_key, membership_number, first_name, last_name, "
                "phone, email, address, phone_hash, membership_hash) VALUES "
                "(?, ?, 'Pat', ?, ?, 'pat@example.org', '1 High St', ?, ?)",
                [key, number, last_name, e164, phone_hash, number_hash])
    return key


def add_call(con: duckdb.DuckDBPyConnection, call_id: str, member_key: str, outcome: str = "answered", *,
             called_at: datetime = datetime(2020, 4, 1, 10, 0), notes: str | None = None,
             dp_query: str | None = None, round: str = "R1") -> str:  # noqa: A002 - the column's name
    """Insert one call; answered calls get wellbeing and a need flag."""
    answered = outcome == "answered"
    details = [3, True, "high", False] if answered else [None] * 4
    con.execute("INSERT INTO calls VALUES (?, ?, ?, 'C0001', ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [call_id, member_key, round, called_at, outcome, *details, dp_query, notes])
    return call_id


def keys_of(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every member_key in the store, for a full list."""
    return [r[0] for r in con.execute("SELECT member_key FROM members ORDER BY member_key").fetchall()]
