"""Create or update members (and their identities) from a staged file, in SQL.

Used by both member lists and call exports that carry member columns. A re-import fills in and
updates details but never blanks one the file leaves empty, never touches the opt-out register,
and never writes an identity back for a member who has been erased.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from workbench import phones
from workbench.privacy import pseudonymise
from workbench.store import db

DETAILS = ("branch", "ward", "postcode", "age", "joined_on")
ALIASES = ("nationbuilder_id", "van_id", "external_id")  # other ids the member is known by
IDENTITY = ("first_name", "last_name", "email", "address", "phone", *ALIASES)


@dataclass(frozen=True)
class MemberCounts:
    """What writing members did."""

    created: int
    updated: int
    erased_skipped: int
    phones_unreadable: int
    phone_rows: list[int]
    unchanged: int = 0  # held already, and the file says nothing new of them


# A member already held has their member_key and membership_hash on their identity row, both
# keyed from this very membership number (every writer keeps identities so): reusing them spares
# two Python HMACs per member, over a second on a national call export. Only the numbers the
# store does not hold yet (or holds no identity for, e.g. after an erasure) are keyed afresh.
KNOWN_KEYS = """
CREATE OR REPLACE TEMP TABLE ingest_known_keys AS
SELECT s.membership_number, min(i.member_key) AS member_key, min(i.membership_hash) AS membership_hash
FROM (SELECT DISTINCT membership_number FROM temp.{stage} WHERE {valid} AND membership_number IS NOT NULL) s
LEFT JOIN identities i ON i.membership_number = s.membership_number AND i.membership_hash IS NOT NULL
GROUP BY s.membership_number
"""

NEW_NUMBERS = "SELECT membership_number FROM temp.ingest_known_keys WHERE member_key IS NULL"
FILE_NUMBERS = "SELECT count(*) FROM temp.ingest_known_keys"  # distinct membership numbers of valid rows

ALL_KEYS = """
CREATE OR REPLACE TEMP TABLE ingest_keys AS
SELECT membership_number, member_key, membership_hash FROM temp.ingest_known_keys WHERE member_key IS NOT NULL
UNION ALL
SELECT membership_number, member_key, membership_hash FROM temp.ingest_new_keys
"""


def register_keys(con: duckdb.DuckDBPyConnection, stage: str, valid: str) -> None:
    """temp.ingest_keys: membership_number -> member_key, membership_hash, for every valid row."""
    con.execute(KNOWN_KEYS.format(stage=stage, valid=valid))
    numbers = [r[0] for r in con.execute(NEW_NUMBERS).fetchall()]
    frame = pd.DataFrame(
        {
            "membership_number": pd.Series(numbers, dtype="object"),
            "member_key": pd.Series(pseudonymise.member_keys(con, numbers), dtype="object"),
            "membership_hash": pd.Series(pseudonymise.suppression_hashes(con, numbers), dtype="object"),
        }
    )
    _table(con, "ingest_new_keys", frame)
    con.execute(ALL_KEYS)


def _table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    # Every column is text; an empty frame would otherwise arrive typed as integers.
    columns = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in frame.columns)
    con.register("ingest_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM ingest_frame")
    finally:
        con.unregister("ingest_frame")


# Each distinct phone in the file, found in one pass over the rows (a national file has two million).
DISTINCT_PHONES = """
CREATE OR REPLACE TEMP TABLE ingest_raw_phones AS
SELECT DISTINCT t__phone AS raw FROM temp.{stage} WHERE {valid} AND t__phone IS NOT NULL
"""
# UK mobile and geographic numbers as people write them (CallHub's 447700900123, 07700 900123,
# +44 7700 900123, +44 (0)7700 900123, (0113) 496 0000) need no parser: once spaces, dots, hyphens
# and brackets are taken out, SQL writes their E.164 form, and only the rest go through phonenumbers
# (69 us each: a national file of real, distinct numbers would spend half a minute there). A test
# holds every number this path takes equal to what phonenumbers makes of it.
PLAIN_UK = r"^(\+?44|\+440|0)([127]\d{9})$"  # +440: "+44 (0)7700 900123" without its brackets
SEPARATORS = r"[ .()-]"
# Each distinct raw phone with its E.164 form when SQL can write it (NULL: phonenumbers reads it).
PLAIN_PHONES = """
SELECT raw, CASE WHEN regexp_matches(bare, '{plain}') THEN '+44' || regexp_extract(bare, '{plain}', 2) END
       AS e164
FROM (SELECT raw, regexp_replace(regexp_replace(raw, '{decimal}', '\\1'), '{separators}', '', 'g') AS bare
      FROM temp.ingest_raw_phones)
"""
# The ".0" of a whole number as pandas writes it (`phones.WHOLE_AS_DECIMAL`) goes before the dots
# that people write between digits are dropped, so it never becomes a digit of the number.
WHOLE_AS_DECIMAL = f"^{phones.WHOLE_AS_DECIMAL}$"


def _filled(query: str, stage: str, valid: str) -> str:
    # str.replace, not str.format: the phone pattern has braces of its own.
    return (query.replace("{stage}", stage).replace("{valid}", valid).replace("{plain}", PLAIN_UK)
            .replace("{separators}", SEPARATORS).replace("{decimal}", WHOLE_AS_DECIMAL))


PHONES_READY = "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'ingest_phones'"


def register_phones(con: duckdb.DuckDBPyConnection, stage: str, valid: str, progress: bool | None) -> None:
    """temp.ingest_phones: raw -> e164, phone_hash, each distinct raw phone parsed once.

    Kept when already made for this import (phone matching makes it before the write).
    """
    if con.execute(PHONES_READY).fetchone()[0]:
        return
    con.execute(_filled(DISTINCT_PHONES, stage, valid))
    read = con.execute(_filled(PLAIN_PHONES, stage, valid)).fetchdf()
    plain = read["e164"].notna()
    frame = pd.concat([read[plain], phones.normalise(read.loc[~plain, "raw"], progress=progress)],
                      ignore_index=True)
    frame["phone_hash"] = pd.Series(
        pseudonymise.suppression_hashes(con, frame["e164"].tolist()), dtype="object"
    )
    _table(con, "ingest_phones", frame)


PEOPLE = """
CREATE OR REPLACE TEMP TABLE ingest_people AS
SELECT k.member_key, k.membership_hash, s.membership_number,
       coalesce(s.first_name, {first}) AS first_name, coalesce(s.last_name, {last}) AS last_name,
       s.email, s.address, s.postcode, s.ward, s.branch, s.age, s.joined_on,
       ph.e164 AS phone, ph.phone_hash, s.nationbuilder_id, s.van_id, s.external_id
FROM (SELECT DISTINCT ON (membership_number) * FROM temp.{stage} WHERE {valid}
      ORDER BY membership_number, {latest}) s
JOIN temp.ingest_keys k USING (membership_number)
LEFT JOIN temp.ingest_phones ph ON ph.raw = s.t__phone
"""


def gather(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    valid: str,
    *,
    latest: str = "row DESC",
    progress: bool | None = None,
) -> None:
    """temp.ingest_people: one row per member in the file, the latest row's details winning."""
    register_phones(con, stage, valid, progress)
    # "Name" alone: everything before the last word is the first name.
    first = r"nullif(regexp_extract(s.full_name, '^(.*\S)\s+\S+$', 1), '')"
    last = r"CASE WHEN s.full_name IS NULL THEN NULL ELSE regexp_extract(s.full_name, '(\S+)$', 1) END"
    con.execute(PEOPLE.format(stage=stage, valid=valid, latest=latest, first=first, last=last))


NUMBERS_ONLY = f"""
CREATE OR REPLACE TEMP TABLE ingest_people AS
SELECT member_key, membership_hash, membership_number,
       {
    ", ".join(
        f"CAST(NULL AS VARCHAR) AS {c}"
        for c in ("first_name", "last_name", "email", "address", "postcode", "ward", "branch", *ALIASES)
    )
},
       CAST(NULL AS INTEGER) AS age, CAST(NULL AS DATE) AS joined_on,
       CAST(NULL AS VARCHAR) AS phone, CAST(NULL AS VARCHAR) AS phone_hash
FROM temp.ingest_keys
-- A number alone changes nothing for a member already held with an identity (the one whose keys
-- came from it): leave those out, so the state query reads none of their details.
WHERE member_key NOT IN (
    SELECT member_key FROM temp.ingest_known_keys
    WHERE member_key IS NOT NULL AND member_key IN (SELECT member_key FROM members)
)
"""


def gather_numbers_only(con: duckdb.DuckDBPyConnection) -> None:
    """temp.ingest_people for a file with membership numbers but no member details (most call exports)."""
    _table(con, "ingest_phones", pd.DataFrame({"raw": [], "e164": [], "phone_hash": []}, dtype="object"))
    con.execute(NUMBERS_ONLY)


def _changed(alias: str, columns: tuple[str, ...]) -> str:
    return " OR ".join(f"coalesce(p.{c}, {alias}.{c}) IS DISTINCT FROM {alias}.{c}" for c in columns)


STATE = f"""
CREATE OR REPLACE TEMP TABLE ingest_state AS
SELECT p.member_key,
       m.member_key IS NULL AS is_new,
       m.erased_at IS NOT NULL AS erased,
       m.member_key IS NOT NULL AND m.erased_at IS NULL AND (i.member_key IS NULL OR
           {_changed("m", DETAILS)} OR {_changed("i", IDENTITY)}) AS changed
FROM temp.ingest_people p
LEFT JOIN members m USING (member_key)
LEFT JOIN identities i USING (member_key)
"""

UPDATE_MEMBERS = f"""
UPDATE members m SET {", ".join(f"{c} = coalesce(p.{c}, m.{c})" for c in DETAILS)}, updated_at = now()
FROM temp.ingest_people p
WHERE m.member_key = p.member_key
  AND p.member_key IN (SELECT member_key FROM temp.ingest_state WHERE changed)
"""

UPDATE_IDENTITIES = f"""
UPDATE identities i SET {", ".join(f"{c} = coalesce(p.{c}, i.{c})" for c in IDENTITY)},
       phone_hash = coalesce(p.phone_hash, i.phone_hash), membership_hash = p.membership_hash
FROM temp.ingest_people p
WHERE i.member_key = p.member_key
  AND p.member_key IN (SELECT member_key FROM temp.ingest_state WHERE changed)
"""

INSERT_MEMBERS = """
INSERT INTO members (member_key, branch, ward, postcode, age, joined_on, created_at, updated_at)
SELECT member_key, branch, ward, postcode, age, joined_on, now(), now()
FROM temp.ingest_people WHERE member_key IN (SELECT member_key FROM temp.ingest_state WHERE is_new)
"""

# New members, and existing (not erased) ones that somehow lack an identity row.
INSERT_IDENTITIES = f"""
INSERT INTO identities (member_key, membership_number, first_name, last_name, phone, email, address,
                        phone_hash, membership_hash, nationbuilder_id, van_id, external_id, key_number)
SELECT p.member_key, p.membership_number, p.first_name, p.last_name, p.phone, p.email, p.address,
       p.phone_hash, p.membership_hash, p.nationbuilder_id, p.van_id, p.external_id,
       {db.key_number_sql("p.member_key")}
FROM temp.ingest_people p
WHERE p.member_key IN (SELECT member_key FROM temp.ingest_state WHERE NOT erased)
  AND p.member_key NOT IN (SELECT member_key FROM identities)
"""

COUNTS = (
    "SELECT count(*) FILTER (is_new), count(*) FILTER (changed), count(*) FILTER (erased), "
    "count(*) FILTER (NOT (is_new OR changed OR erased)) FROM temp.ingest_state"
)

UNREADABLE = """
SELECT s.row FROM temp.{stage} s JOIN temp.ingest_phones ph ON ph.raw = s.t__phone
WHERE {valid} AND ph.e164 IS NULL ORDER BY s.row
"""


def write(con: duckdb.DuckDBPyConnection, stage: str, valid: str) -> MemberCounts:
    """Apply temp.ingest_people to members and identities; return what changed."""
    con.execute(STATE)
    created, updated, erased, unchanged = con.execute(COUNTS).fetchone()
    if updated:
        con.execute(UPDATE_MEMBERS)
        con.execute(UPDATE_IDENTITIES)
    if created:
        con.execute(INSERT_MEMBERS)
    con.execute(INSERT_IDENTITIES)
    bad_rows = [r[0] for r in con.execute(UNREADABLE.format(stage=stage, valid=valid)).fetchall()]
    return MemberCounts(created, updated, erased, len(bad_rows), bad_rows[:10], unchanged)
