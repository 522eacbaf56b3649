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
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import phonenumbers

from workbench import pseudonymise
from workbench.audit import audit
from workbench.errors import InputError

REASONS = ("asked_not_to_be_called", "complaint", "deceased", "moved_away", "other")
SCOPES = ("calls", "all")
SOURCES = ("call", "manual", "import", "return")
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


def phone_e164(value: object) -> str | None:
    """A phone number in E.164 (UK numbers assumed without a country code), or None if it is not one.

    Ofcom's drama ranges (07700 900xxx) are not "valid" to libphonenumber, so a UK number of the
    right length is accepted as possible; anything else must be a valid number.

    Examples:
        >>> phone_e164("07700 900123")
        '+447700900123'
        >>> phone_e164("12345") is None
        True
    """
    text = str(value or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    uk_possible = (number.country_code == 44 and len(str(number.national_number)) in (9, 10)
                   and phonenumbers.is_possible_number(number))
    if not (uk_possible or phonenumbers.is_valid_number(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# One row per suppressed person with the strongest reason. Three equi-joins (UNION) rather than one
# join with OR, so DuckDB hashes each side once instead of comparing every pair.
SUPPRESS_QUERY = """
WITH people AS (SELECT DISTINCT member_key FROM {people} WHERE member_key IS NOT NULL),
active AS (
    SELECT member_key, phone_hash, membership_hash FROM optouts
    WHERE withdrawn_at IS NULL AND list_contains(?, scope)
),
opted AS (
    SELECT member_key FROM active WHERE member_key IS NOT NULL
    UNION SELECT i.member_key FROM identities i JOIN active a ON i.phone_hash = a.phone_hash
    UNION SELECT i.member_key FROM identities i JOIN active a ON i.membership_hash = a.membership_hash
),
gone AS (
    SELECT c.member_key FROM calls c SEMI JOIN people p ON c.member_key = p.member_key
    GROUP BY c.member_key HAVING arg_max(c.outcome, c.called_at) = 'deceased_moved'
)
SELECT p.member_key,
       CASE WHEN m.erased_at IS NOT NULL THEN 'erased'
            WHEN o.member_key IS NOT NULL THEN 'opted out'
            ELSE 'deceased or moved' END AS reason
FROM people p
LEFT JOIN members m ON m.member_key = p.member_key
LEFT JOIN opted o ON o.member_key = p.member_key
LEFT JOIN gone g ON g.member_key = p.member_key
WHERE m.erased_at IS NOT NULL OR o.member_key IS NOT NULL OR g.member_key IS NOT NULL
"""


def suppress(con: duckdb.DuckDBPyConnection, people: pd.DataFrame, *, scope: str = "calls") -> Suppressed:
    """Remove everyone who must not be on a list: opted out, erased, or deceased/moved.

    Every list, export or follow-up queue of people goes through this function; there is no
    second path. The input is not changed.

    Args:
        people: any frame with a `member_key` column (other columns are kept as they are).
        scope: what the list is for: "calls" (default; call lists), "all" (every opt-out applies),
            or "other" (contact other than calls, such as post: only opt-outs with scope "all").

    Returns:
        Suppressed(kept, excluded): `kept` has the same columns with suppressed rows removed;
        `excluded` counts distinct people left out, by reason, e.g. {"opted out": 3, "erased": 1}.
        Rows without a member_key cannot be checked, so they are left out too ("no member key").

    Raises:
        InputError: no member_key column, or an unknown scope.
    """
    if "member_key" not in people.columns:
        raise InputError("suppress() needs a member_key column; every list of people is checked by member_key.")
    if scope not in LIST_SCOPES:
        raise InputError(f'Unknown list scope "{scope}". Expected one of: {", ".join(LIST_SCOPES)}.')
    reasons = _suppressed_keys(con, people["member_key"], scope)
    missing = people["member_key"].isna()
    drop = people["member_key"].isin(reasons["member_key"]) | missing
    excluded = {str(k): int(v) for k, v in reasons["reason"].value_counts().items()}
    if missing.any():
        excluded[REASON_NO_KEY] = int(missing.sum())
    return Suppressed(people.loc[~drop].copy(), excluded)


def _suppressed_keys(con: duckdb.DuckDBPyConnection, keys: pd.Series, scope: str) -> pd.DataFrame:
    name = f"_suppress_{uuid.uuid4().hex}"
    frame = pd.DataFrame({"member_key": keys.dropna().astype(str).unique()})
    con.register(name, frame)
    try:
        return con.execute(SUPPRESS_QUERY.format(people=name), [list(LIST_SCOPES[scope])]).df()
    finally:
        con.unregister(name)


# One register entry per "do not call" outcome, its id derived from the call, so importing the same
# calls again adds nothing, and a withdrawn entry is not brought back by a re-import.
FROM_CALLS_QUERY = """
INSERT INTO optouts
SELECT 'call-' || c.call_id, c.member_key, i.phone_hash, i.membership_hash, 'calls',
       'asked_not_to_be_called', 'call', ?, c.called_at, NULL, NULL, NULL
FROM calls c
LEFT JOIN identities i ON i.member_key = c.member_key
WHERE c.outcome = 'do_not_call'
  AND {only_calls}
  AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.optout_id = 'call-' || c.call_id)
RETURNING member_key
"""


def record_from_calls(con: duckdb.DuckDBPyConnection, *, actor: str, call_ids: list[str] | None = None) -> int:
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
        con.register(name, pd.DataFrame({"call_id": [str(c) for c in call_ids]}, dtype=object))
        try:
            only = f"c.call_id IN (SELECT call_id FROM {name})"
            rows = con.execute(FROM_CALLS_QUERY.format(only_calls=only), [actor]).fetchall()
        finally:
            con.unregister(name)
    if rows:
        audit(con, "optout.add", actor=actor, counts={"added": len(rows), "source": "call"},
              member_keys=[r[0] for r in rows])
    return len(rows)


def membership_hashes(con: duckdb.DuckDBPyConnection, numbers: Iterable[str]) -> list[str | None]:
    """Suppression hashes of membership numbers, normalised the way identities are."""
    return pseudonymise.suppression_hashes(
        con, [pseudonymise.normalise_membership_number(n) for n in numbers])


__all__ = ["LIST_SCOPES", "REASONS", "SCOPES", "SOURCES", "Suppressed", "membership_hashes", "phone_e164",
           "record_from_calls", "suppress"]
