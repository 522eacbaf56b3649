"""Organisation settings kept in the store, such as the data-protection contact."""

from __future__ import annotations

import re

import duckdb

from workbench.errors import InputError
from workbench.store.audit import audit
from workbench.store.filters import check_date

# Every setting, with its default and what it is for. The guidance names one contact for
# lost lists, complaints and "how did you get my number?": the data-protection team.
KNOWN: dict[str, tuple[str, str]] = {
    "dp_contact": ("dataprotection@example.org", "the data-protection team's email, printed on every list"),
    "organisation": ("Northvale Labour Party", "the organisation's name, printed on lists and reports"),
    "call_purpose": (
        "to check in with members, keep them company while many are cut off from friends and family, find "
        "out whether they need support or would like to help others, and point them to local groups and "
        "services that can help",
        "why the calls are made, in the organisation's own words; printed on the callers' briefing",
    ),
    "shred_after_days": ("14", "days a printed list may exist before it must be shredded"),
    "escalate_after_days": ("7", "days a need may wait before it is escalated"),
    "as_of": (
        "",
        "count days waiting up to this date (YYYY-MM-DD); blank means today. The demo "
        "store sets it to just after its last calling round, so its 2020 needs read as fresh",
    ),
}

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get(con: duckdb.DuckDBPyConnection, key: str) -> str:
    """A setting's value, or its default."""
    _check_key(key)
    row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else KNOWN[key][0]


def all(con: duckdb.DuckDBPyConnection) -> dict[str, str]:  # noqa: A001 - reads as settings.all(con)
    """Every setting with its current value."""
    return {key: get(con, key) for key in KNOWN}


def set(con: duckdb.DuckDBPyConnection, key: str, value: str, *, actor: str) -> None:  # noqa: A001
    """Change a setting, checked first, and audit the change (by key: the value is not logged)."""
    _check_key(key)
    value = value.strip()
    if key == "dp_contact" and not EMAIL.match(value):
        raise InputError(
            f'dp_contact must be an email address, e.g. dataprotection@example.org; got "{value}".'
        )
    if key == "as_of" and value:
        try:
            value = check_date("as_of", value)
        except InputError as error:
            raise InputError(f"{error} Or leave it blank (\"\") to count up to today.") from None
    if key == "call_purpose" and not 10 <= len(value) <= 400:
        raise InputError(
            "call_purpose must be one or two sentences (10 to 400 characters) saying why members are "
            'called, e.g. "to check in and find out whether anyone needs support".'
        )
    if key.endswith("_days") and not (value.isdigit() and 0 < int(value) <= 3650):
        raise InputError(f'{key} must be a whole number of days from 1 to 3650; got "{value}".')
    con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])
    audit(con, "config.set", actor=actor, object_id=key)


def _check_key(key: str) -> None:
    if key not in KNOWN:
        raise InputError(f'Unknown setting "{key}". Known settings: {", ".join(sorted(KNOWN))}.')
