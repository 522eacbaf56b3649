"""Bulk opt-outs from a CSV or XLSX of phone numbers and/or membership numbers (another tool, a
paper list typed up). Entries that match nobody are still stored: their hashes suppress anyone who
arrives later with that number. The file is all or nothing: one bad row and nothing is stored.

The file is read as every import is (`files.stage`: the limits on size, columns, fields and a
workbook's extent, calamine for workbooks), so a hostile file is refused in seconds; the CLI reads it
(`ingest.read`) before it opens the store, so it never holds the store's lock meanwhile. The
register itself is written only by `privacy.optouts`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from workbench import ids
from workbench.errors import InputError
from workbench.ingest import files, headers
from workbench.privacy import optouts, pseudonymise
from workbench.privacy.optouts import REASONS, SCOPES, vocabulary
from workbench.privacy.subjects import phone_e164
from workbench.store.audit import audit
from workbench.store.state import transaction

SUFFIXES = (".csv", ".xlsx")
# Accepted headers, compared in lower case with spaces, dots and underscores ignored.
PHONE_HEADERS = {"phone", "phonenumber", "telephone", "tel", "mobile", "mobilenumber"}
MEMBERSHIP_HEADERS = {"membershipnumber", "membershipno", "membernumber", "memberno", "membershipid",
                      "memberid"}


@dataclass(frozen=True)
class ImportResult:
    """What a bulk import did. Counts only: never a number from the file."""

    import_id: str | None
    entries: int
    matched_members: int
    unmatched_entries: int
    already_on_register: int
    already_imported: bool = False


def _header_key(text: object) -> str:
    return re.sub(r"[\s._\-#]", "", str(text)).lower()


def read_entries(frame: pd.DataFrame, name: str, default_reason: str, default_scope: str) -> pd.DataFrame:
    """A file's rows (text cells, and each row's number in the file in `files.ROW_NAME`) as E.164
    phones and normalised membership numbers, checked.

    Raises:
        InputError: no usable column, or a bad value (named by row and column, never repeated).
    """
    numbers = frame[files.ROW_NAME].tolist()
    frame = frame.drop(columns=files.ROW_NAME).fillna("")
    columns = {_header_key(c): c for c in frame.columns}
    phone_col = next((columns[k] for k in columns if k in PHONE_HEADERS), None)
    number_col = next((columns[k] for k in columns if k in MEMBERSHIP_HEADERS), None)
    if phone_col is None and number_col is None:
        if headers.looks_like_data(list(frame.columns)):
            raise InputError(f"{name}: {headers.HEADERLESS} Expected a Phone or a Membership Number column.")
        raise InputError(f"{name}: no Phone or Membership Number column. Found: "
                         f"{headers.shown_headers(list(frame.columns))}. Add a header row naming one.")
    rows = []
    for number, values in zip(numbers, frame.to_dict("records"), strict=True):
        rows.append(_entry(name, int(number), values, phone_col, number_col, default_reason, default_scope))
    entries = pd.DataFrame([r for r in rows if r], columns=["phone", "number", "reason", "scope"])
    entries["number"] = pd.Series(pseudonymise.normalise_membership_numbers(_values(entries["number"])),
                                  index=entries.index, dtype="object")
    return entries.drop_duplicates(ignore_index=True)


STAGED_QUERY = "SELECT * FROM temp.{table} ORDER BY {row}"


def _rows(con: duckdb.DuckDBPyConnection, source: files.Source | Path) -> tuple[pd.DataFrame, str]:
    """The file's cells as text with their row numbers, and its SHA-256; read within the limits."""
    if isinstance(source, files.Source):
        con, staged, sha256, path = source.connection, source.staged, source.sha256, source.path
    else:
        path = Path(source)
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(f"Unsupported file extension: '{path.suffix}' ({path.name}). "
                             f"Supported formats: {', '.join(SUFFIXES)}")
        staged, sha256 = files.stage(con, path, table="optout_list"), files.sha256(path)
    try:
        return con.execute(STAGED_QUERY.format(table=staged.table, row=files.ROW)).df(), sha256
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{staged.table}")


def _entry(name: str, row: int, values: dict, phone_col, number_col, reason: str, scope: str) -> tuple | None:
    phone_text = str(values.get(phone_col, "") or "").strip() if phone_col is not None else ""
    number_text = str(values.get(number_col, "") or "").strip() if number_col is not None else ""
    if not phone_text and not number_text:
        return None  # a blank line
    phone = phone_e164(phone_text) if phone_text else None
    if phone_text and phone is None:
        raise InputError(f'{name} row {row}, column "{phone_col}": not a UK phone number. Write it like '
                         "07700 900123 or +44 7700 900123, or leave the cell empty. Nothing was imported.")
    number = number_text or None  # normalised with the file's other numbers (`read_entries`)
    row_reason, row_scope = _row_vocab(name, row, values, reason, scope)
    return phone, number, row_reason, row_scope


def _row_vocab(name: str, row: int, values: dict, reason: str, scope: str) -> tuple[str, str]:
    found = {_header_key(k): v for k, v in values.items()}
    try:
        where = f"{name} row {row}, column"
        return (vocabulary(found.get("reason") or reason, REASONS, f"{where} Reason", echo=False),
                vocabulary(found.get("scope") or scope, SCOPES, f"{where} Scope", echo=False))
    except InputError as error:
        raise InputError(f"{error} Nothing was imported.") from None


# Each entry matched to members by either hash; a phone shared by several members matches them all,
# but member_key is only set when exactly one member matched.
MATCH_QUERY = """
WITH hits AS (
    SELECT n.entry, i.member_key FROM {entries} n JOIN identities i ON i.membership_hash = n.membership_hash
    UNION SELECT n.entry, i.member_key FROM {entries} n JOIN identities i ON i.phone_hash = n.phone_hash
)
SELECT n.entry, n.phone_hash, n.membership_hash, n.reason, n.scope,
       CASE WHEN count(DISTINCT h.member_key) = 1 THEN any_value(h.member_key) END AS member_key,
       count(DISTINCT h.member_key) AS n_matched,
       coalesce(list(DISTINCT h.member_key) FILTER (WHERE h.member_key IS NOT NULL), []) AS matched,
       EXISTS (SELECT 1 FROM optouts o WHERE o.withdrawn_at IS NULL AND o.scope = n.scope
               AND o.phone_hash IS NOT DISTINCT FROM n.phone_hash
               AND o.membership_hash IS NOT DISTINCT FROM n.membership_hash) AS on_register
FROM {entries} n LEFT JOIN hits h ON h.entry = n.entry
GROUP BY ALL
"""
SEEN_QUERY = "SELECT import_id FROM imports WHERE kind = 'optouts' AND sha256 = ?"
IMPORT_ROW_QUERY = """
INSERT INTO imports (import_id, kind, file_name, sha256, imported_at, imported_by, rows_read, loaded, updated,
                     rejected)
VALUES (?, 'optouts', ?, ?, now(), ?, ?, ?, 0, 0)
"""


def import_file(con: duckdb.DuckDBPyConnection, path: str | Path | files.Source, *, actor: str,
                reason: str = "asked_not_to_be_called", scope: str = "calls") -> ImportResult:
    """Add every row of a CSV/XLSX of phones and/or membership numbers to the register.

    Args:
        path: the file; columns Phone and/or Membership Number, optionally Reason and Scope. Or a
            `files.Source` read before the store was opened (`ingest.read`), as the CLI does.
        reason, scope: used for rows that do not say.

    Returns:
        ImportResult with counts. The same file again (by its keyed digest) changes nothing.

    Raises:
        InputError: the file is beyond the limits (`ingest.limits`) or cannot be read, or a column
            or a row is bad; nothing is stored.
    """
    reason, scope = vocabulary(reason, REASONS, "--reason"), vocabulary(scope, SCOPES, "--scope")
    name = (path.path if isinstance(path, files.Source) else Path(path)).name
    frame, digest = _rows(con, path)
    entries = read_entries(frame, name, reason, scope)
    # Keyed, as every file of people's digest is: a file holding one phone number could otherwise be
    # matched to a guess by its plain SHA-256.
    sha256 = pseudonymise.file_digest(con, digest)
    if con.execute(SEEN_QUERY, [sha256]).fetchone():
        return ImportResult(None, len(entries), 0, 0, 0, already_imported=True)
    hashed = _hashed(con, entries)
    import_id = f"optouts-{ids.random_letters(12)}"
    with transaction(con):
        matched = _match(con, hashed)
        optouts.record_imported(con, matched, import_id=import_id, actor=actor)
        result = _result(import_id, matched)
        con.execute(IMPORT_ROW_QUERY, [import_id, name, sha256, actor, len(entries), result.entries
                                       - result.already_on_register])
        audit(con, "optout.import", actor=actor, object_id=import_id, member_keys=_members(matched),
              counts={"entries": result.entries, "matched_members": result.matched_members,
                      "unmatched_entries": result.unmatched_entries,
                      "already_on_register": result.already_on_register})
    return result


def _hashed(con: duckdb.DuckDBPyConnection, entries: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "entry": range(1, len(entries) + 1),
        "phone_hash": pseudonymise.suppression_hashes(con, _values(entries["phone"])),
        "membership_hash": pseudonymise.suppression_hashes(con, _values(entries["number"])),
        "reason": entries["reason"], "scope": entries["scope"]})


def _values(column: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in column]


def _match(con: duckdb.DuckDBPyConnection, hashed: pd.DataFrame) -> pd.DataFrame:
    name = f"_entries_{uuid.uuid4().hex}"
    con.register(name, hashed)
    try:
        return con.execute(MATCH_QUERY.format(entries=name)).df()
    finally:
        con.unregister(name)


def _members(matched: pd.DataFrame) -> set[str]:
    return {str(k) for keys in matched["matched"] for k in keys}


def _result(import_id: str, matched: pd.DataFrame) -> ImportResult:
    unmatched = int((matched["n_matched"] == 0).sum())
    return ImportResult(import_id, len(matched), len(_members(matched)), unmatched,
                        int(matched["on_register"].sum()))


__all__ = ["ImportResult", "import_file", "read_entries"]
