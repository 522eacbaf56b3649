"""Returns: a branch sends its follow-up list back with outcomes filled in, and the loop closes.

Rows are matched to the list as issued by List ID and Row; protected cells are checked against the
digest kept at issue, so a row cannot be moved onto someone else. Resolved and unreachable set the
follow-up's state, "needs more help" keeps it in progress, and "opted out" goes onto the register
through `privacy.optouts`. All or nothing; the same file twice changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from workbench.analysis import needs
from workbench.errors import InputError
from workbench.ingest import limits, returned
from workbench.lists import protection, registry
from workbench.lists.followups import (
    DATE_CALLED,
    FIRST,
    INITIALS,
    LAST,
    LIST_ID,
    MEMBERSHIP,
    NEEDS,
    OUTCOME,
    OUTCOME_STATE,
    OUTCOMES,
    PHONE,
    PROMPT,
    PROTECTED,
    REASON,
    ROW,
    URGENCY,
    WARD,
    row_digest,
)
from workbench.privacy import optouts
from workbench.store import snapshot
from workbench.store.audit import audit
from workbench.store.db import key
from workbench.store.state import transaction


@dataclass(frozen=True)
class Returns:
    """What importing a returned list did (counts only)."""

    file_name: str
    import_id: str
    already_imported: bool
    rows_read: int = 0
    changed: dict[str, int] = field(default_factory=dict)  # by outcome
    unchanged: int = 0  # same outcome as already recorded
    not_called: int = 0  # blank outcome
    erased: int = 0  # the member was erased since the list was made
    list_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # a copy of a list that should not exist came back, say



REQUIRED = (LIST_ID, ROW, *PROTECTED, OUTCOME)
COLUMNS = (LIST_ID, ROW, MEMBERSHIP, FIRST, LAST, PHONE, WARD, NEEDS, URGENCY, PROMPT, REASON, OUTCOME,
           DATE_CALLED, INITIALS)  # every column a list can go out with
MAX_PROBLEMS = 40
# What volunteers write for "do not call me again", as the callers' briefing and the calls import
# name it: recorded as opted out.
SYNONYMS = {"do not call": "opted_out", "dont call": "opted_out", "don t call": "opted_out",
            "dnc": "opted_out", "no more calls": "opted_out"}
# A value a problem repeats must be made only of words a volunteer writes about a call ("spoke to
# her", "left msg"): anything else (a name typed into the wrong column) is "the value".
CALL_WORDS = frozenset(
    " ".join([*OUTCOMES, *SYNONYMS]).split()
    + "no answer answered left msg message voicemail spoke to her him them called done ok yes not in busy "
      "wrong number no. call back later helped help needs more opted out engaged rang twice again "
      "maybe".split()
)

DONE_QUERY = "SELECT import_id FROM imports WHERE kind = 'returns' AND sha256 = ?"
ISSUED_QUERY = """
SELECT lm.list_id, lm.row_number, lm.member_key, lm.digest, lm.outcome, l.kind, lm.called_on
FROM list_members lm JOIN lists l ON l.list_id = lm.list_id
WHERE list_contains(?, lm.list_id)
"""
# Each list named in the file: its kind, when it was made, and what became of it since (destroyed,
# reported lost in a breach report) and how it went out (encrypted or not).
KNOWN_LISTS_QUERY = """
SELECT l.list_id, l.kind, l.created_at::DATE, l.destroyed_at::DATE,
       EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'breach_report' AND a.object_id = l.list_id),
       coalesce(p.method, 'none')
FROM lists l LEFT JOIN {protection} p ON p.list_id = l.list_id
WHERE list_contains(?, l.list_id)
"""
RECORD_OUTCOME = """
UPDATE list_members SET outcome = ?, called_on = ?, returned_at = ? WHERE list_id = ? AND row_number = ?
"""
INSERT_IMPORT = "INSERT INTO imports VALUES (?, 'returns', ?, ?, ?, ?, ?, ?, ?, 0)"


@dataclass(frozen=True)
class _Row:
    line: int
    list_id: str
    row: int
    member_key: str | None
    outcome: str | None
    previous: str | None
    called_on: date | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def needs_passphrase(path: str | Path) -> bool:
    """Whether a returned file is a password-protected workbook (so a passphrase must be asked for)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx" or not path.is_file():
        return False
    with open(path, "rb") as handle:
        return protection.is_encrypted_office(handle.read(8))


def _decrypted(path: Path, passphrase: str | None) -> bytes | None:
    """A protected workbook's plain bytes, in memory only; None for a plain file."""
    if not needs_passphrase(path):
        return None
    if not str(passphrase or "").strip():
        raise InputError(
            f"{path.name} is a password-protected list. Give the passphrase it was sent with "
            "(the CLI asks for it, or reads it from --list-passphrase-file)."
        )
    limits.check_workbook_size(path.stat().st_size, path.name)  # before it is read into memory
    return protection.decrypt_xlsx(path.read_bytes(), passphrase, file_name=path.name)


@dataclass(frozen=True)
class ReturnedFile:
    """A returned list read and checked (`read`), before the store is opened: its header and rows."""

    path: Path
    sha256: str
    header: list[str]
    rows: list[tuple[int, list[object]]] = field(repr=False)  # people's names: never in a repr
    encrypted: bool = False  # came back password-protected


def read(path: str | Path, *, passphrase: str | None = None) -> ReturnedFile:
    """Read a returned list (decrypting a protected workbook in memory), inside the ingest limits.

    Needs no store: the CLI and the app read the file first, so a slow or hostile file never holds
    the store's write lock while it is refused.

    Raises:
        InputError: the file is missing, not CSV/XLSX, beyond the ingest limits (`ingest.limits`),
            protected and the passphrase is missing or wrong, or has no header row.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No file at {path}. Give the path of the returned list (.xlsx or .csv).")
    # Read as any file from outside is: inside the ingest limits, so a hostile return is refused in
    # seconds (a cell declared at XFD1048576, a zip bomb, a line of a million fields).
    data = _decrypted(path, passphrase)
    header, rows = returned.read_table(path, header_first=LIST_ID, data=data)
    return ReturnedFile(path, _sha256(path), header, rows, encrypted=data is not None)


def import_results(
    con: duckdb.DuckDBPyConnection,
    path: str | Path | ReturnedFile,
    *,
    actor: str,
    passphrase: str | None = None,
) -> Returns:
    """Read a returned follow-up list (XLSX or CSV) and record its outcomes; all or nothing.

    Rows are matched by List ID and Row. Outcomes: resolved and unreachable set the follow-up's
    state; "needs more help" sets it in progress; "opted out" adds an opt-out (source "return").
    A row whose protected cells (First Name, Ward, Needs) differ from the list as issued, an
    unknown list ID, a row that is not on the list, or an outcome outside the vocabulary stops the
    whole import with a problem report naming file, row, column and fix, never a name or phone.
    An opt-out recorded after the list was made stays in force whatever the return says.

    Idempotent: the same file again changes nothing; a row whose outcome is already recorded adds
    no second event.

    A password-protected workbook (as the list went out) is decrypted in memory with `passphrase`;
    the plain workbook is never written anywhere. `path` may be a file already `read`, before the
    store was opened (the passphrase was used then).

    Returns:
        Returns(...) with counts of what changed.

    Raises:
        InputError: the file is missing, not CSV/XLSX, beyond the ingest limits (`ingest.limits`),
            protected and the passphrase is missing or wrong, or has problems (all listed; nothing
            changed).
    """
    if not str(actor or "").strip():
        raise InputError("Say who is importing the returns: give --by NAME or set WORKBENCH_USER.")
    sent = path if isinstance(path, ReturnedFile) else read(path, passphrase=passphrase)
    name = sent.path.name
    done = con.execute(DONE_QUERY, [sent.sha256]).fetchone()
    if done:
        return Returns(name, done[0], True)
    rows, counts, known = _check_rows(con, name, sent.header, sent.rows)
    warnings = _copies_that_should_not_exist(known, set(known), sent.encrypted)  # every list in the file
    if counts["not_rows"]:
        warnings += (f"{counts['not_rows']} line(s) with no List ID, Row or Outcome (notes or totals "
                     "typed under the list) were left out.",)
    return _apply(con, name, sent.sha256, rows, counts, actor.strip(), len(sent.rows), warnings)


def _copies_that_should_not_exist(known: dict, list_ids: set[str], encrypted: bool) -> tuple[str, ...]:
    """What the organiser must act on: a copy of a list recorded destroyed or reported lost came back,
    or a list that went out encrypted came back unprotected. Recorded anyway (the calls were made)."""
    tell = "; tell your data-protection lead."
    warnings = []
    for list_id in sorted(list_ids):
        _, _, destroyed, lost, method = known[list_id]
        if destroyed is not None:
            warnings.append(f"List {list_id} was recorded as destroyed on {destroyed:%d/%m/%Y}, yet a copy "
                            "came back: find and shred every copy" + tell)
        if lost:
            warnings.append(f"List {list_id} was reported lost (a breach report was made), and a copy came "
                            "back: record where it was found in the breach record" + tell)
        if method != "none" and not encrypted:
            warnings.append(f"List {list_id} went out encrypted and came back unprotected: delete every "
                            "unprotected copy (email attachments, downloads)" + tell)
    return tuple(warnings)


def _problem(problems: list[str], file_name: str, line: int, column: str, text: str) -> None:
    problems.append(f"{file_name} row {line}, column {column}: {text}")


def _check_rows(
    con: duckdb.DuckDBPyConnection, file_name: str, header: list[str], raw: list[tuple[int, list[object]]]
) -> tuple[list[_Row], dict[str, int], dict]:
    # Headers as the list was exported, whatever their case or spacing after a re-save ("outcome").
    exported = {returned.label(c): c for c in COLUMNS}
    header = [exported.get(returned.label(h), h) for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{file_name}: the column(s) {', '.join(missing)} are missing. Send back the list as it "
            f"was exported: keep every column and its header ({', '.join(REQUIRED)}, ...)."
        )
    at = {name: header.index(name) for name in header if name}
    ids = sorted({str(cells[at[LIST_ID]]).strip().upper() for _, cells in raw if at[LIST_ID] < len(cells)})
    known = {r[0]: r[1:] for r in con.execute(
        KNOWN_LISTS_QUERY.format(protection=registry.protection_table(con)), [ids]).fetchall()}
    issued = {(r[0], r[1]): r for r in con.execute(ISSUED_QUERY, [ids]).fetchall()}
    problems: list[str] = []
    rows: list[_Row] = []
    seen: set[tuple[str, int]] = set()
    counts = {"not_called": 0, "erased": 0, "not_rows": 0}
    for line, cells in raw:
        if not _cell_text(cells, at, LIST_ID) and not _cell_text(cells, at, ROW) \
                and not _cell_text(cells, at, OUTCOME):
            counts["not_rows"] += 1  # a note or a total typed under the list: no row of it
            continue
        checked = _check_row(con, file_name, line, cells, at, known, issued, seen, problems)
        if checked is None:
            continue
        if checked.outcome is None:
            counts["not_called"] += 1
        elif checked.member_key is None:
            counts["erased"] += 1
        else:
            rows.append(checked)
    if problems:
        _raise_problems(file_name, problems)
    return rows, counts, known


def _cell_text(cells: list[object], at: dict[str, int], column: str) -> str:
    return str(_cell(cells, at, column)).strip()


def _cell(cells: list[object], at: dict[str, int], column: str) -> object:
    i = at.get(column)
    return cells[i] if i is not None and i < len(cells) and cells[i] is not None else ""


def _check_row(
    con,
    file_name: str,
    line: int,
    cells: list[object],
    at: dict[str, int],
    known: dict,
    issued: dict,
    seen: set,
    problems: list[str],
) -> _Row | None:
    list_id = str(_cell(cells, at, LIST_ID)).strip().upper()
    before = len(problems)
    if list_id not in known:
        shown = registry.safe_id(list_id) if list_id else "(blank)"
        _problem(
            problems,
            file_name,
            line,
            LIST_ID,
            f'"{shown}" is not a list in this store. Keep the List ID '
            "as exported; `workbench lists` shows every list.",
        )
        return None
    if known[list_id][0] != "followup":
        _problem(
            problems,
            file_name,
            line,
            LIST_ID,
            f"{list_id} is a next-round call list; its results come "
            "back as call outcomes (workbench import), not as returns.",
        )
        return None
    number = _row_number(_cell(cells, at, ROW))
    if number is None or (list_id, number) not in issued:
        _problem(
            problems,
            file_name,
            line,
            ROW,
            f"is not a row of list {list_id}. Keep the Row numbers as "
            "exported; do not add, renumber or merge rows (add new people to the calling tool instead).",
        )
        return None
    if (list_id, number) in seen:
        _problem(problems, file_name, line, ROW, f"row {number} of list {list_id} appears twice; keep one.")
        return None
    seen.add((list_id, number))
    _, _, member_key, digest, previous, _, previous_on = issued[(list_id, number)]
    if digest and member_key is not None:
        _check_protected(con, file_name, line, list_id, number, cells, at, digest, problems)
    outcome = _outcome(file_name, line, _cell(cells, at, OUTCOME), problems)
    made = known[list_id][1]
    called_on = _called_on(file_name, line, _cell(cells, at, DATE_CALLED), problems, made)
    # An older copy of the list loaded after a newer one must not undo what the newer one recorded.
    if outcome is not None and outcome != previous and called_on and previous_on and called_on < previous_on:
        _problem(problems, file_name, line, OUTCOME,
                 f"row {number} of list {list_id} already holds a later result (called "
                 f"{previous_on:%d/%m/%Y}) than this file's ({called_on:%d/%m/%Y}). Leave this row's outcome "
                 "blank, or send the later copy of the list.")
    if len(problems) > before:
        return None
    return _Row(line, list_id, number, member_key, outcome, previous, called_on)


def _row_number(value: object) -> int | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _check_protected(
    con, file_name: str, line: int, list_id: str, number: int, cells, at, digest: str, problems: list[str]
) -> None:
    now = row_digest(key(con, "member"), list_id, number, {c: _cell(cells, at, c) for c in PROTECTED}).split(
        ":"
    )
    for column, was, found in zip(PROTECTED, digest.split(":"), now, strict=True):
        if was != found:
            _problem(
                problems,
                file_name,
                line,
                column,
                "differs from the list as issued. Put the original "
                "value back; corrections to a member's details go to the membership team, not through "
                "a returned list.",
            )


def _outcome(file_name: str, line: int, value: object, problems: list[str]) -> str | None:
    text = returned.label(str(value).replace("-", " ").replace("_", " ").replace("'", " "))
    if not text:
        return None
    if text in OUTCOMES:
        return OUTCOMES[text]
    if text in SYNONYMS:
        return SYNONYMS[text]
    words = text.split()
    shown = f'"{text}"' if len(text) <= 25 and all(w in CALL_WORDS for w in words) else "the value"
    _problem(
        problems,
        file_name,
        line,
        OUTCOME,
        f"{shown} is not an outcome. Write one of: "
        f"{', '.join(OUTCOMES)} (or leave it blank if the call has not been made).",
    )
    return None


def _called_on(file_name: str, line: int, value: object, problems: list[str], made: date) -> date | None:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif not str(value).strip():
        return None
    else:
        day = _parse_day(str(value).strip())
    if day is None:
        why = "is not a date we can read"
    elif day > registry.now().date():
        why = "is in the future"
    elif day < made:
        # A US-order date (12/1 for 1 December) or a year typed wrong usually lands before the list.
        why = f"is before the list was made ({made:%d/%m/%Y}), so it cannot be the day of this call"
    else:
        return day
    _problem(problems, file_name, line, DATE_CALLED,
             f"{why}. Write the day the call was made as dd/mm/yyyy, e.g. 21/04/2020, or leave it blank.")
    return None


def _parse_day(text: str) -> date | None:
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _raise_problems(file_name: str, problems: list[str]) -> None:
    shown = problems[:MAX_PROBLEMS]
    more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
    raise InputError(
        f"{file_name}: {len(problems)} problem(s); nothing was imported. Fix these and import the "
        "file again:\n  " + "\n  ".join(shown) + more
    )


def _apply(
    con: duckdb.DuckDBPyConnection,
    file_name: str,
    sha: str,
    rows: list[_Row],
    counts: dict[str, int],
    actor: str,
    rows_read: int,
    warnings: tuple[str, ...] = (),
) -> Returns:
    """Record the checked rows in one transaction: states, opt-outs, outcomes, the import, the audit."""
    changed = [r for r in rows if r.outcome != r.previous]
    by_outcome = {o: sum(1 for r in changed if r.outcome == o) for o in OUTCOMES.values()}
    # Letters only, derived from the file's SHA-256: a long run of hex digits would look like a
    # phone number to the audit log's guard.
    import_id = "returns-" + "".join(
        registry.ID_LETTERS[b % len(registry.ID_LETTERS)] for b in bytes.fromhex(sha[:24])
    )
    when = registry.now()
    with snapshot.leaving_analysis_data_alone(con), transaction(con):
        _set_states(con, changed, actor)
        added = _record_optouts(con, [r for r in changed if r.outcome == "opted_out"], actor, when)
        for r in changed:
            con.execute(RECORD_OUTCOME, [r.outcome, r.called_on, when, r.list_id, r.row])
        con.execute(
            INSERT_IMPORT, [import_id, file_name, sha, when, actor, rows_read, len(changed), len(changed)]
        )
        audit(
            con,
            "returns_imported",
            actor=actor,
            object_id=import_id,
            counts={
                **{k: v for k, v in by_outcome.items() if v},
                "unchanged": len(rows) - len(changed),
                "not_called": counts["not_called"],
                "erased": counts["erased"],
                "optouts_added": added,
                "lists": len({r.list_id for r in rows}),
                **({"warnings": len(warnings)} if warnings else {}),
            },
            member_keys=[r.member_key for r in changed],
        )
    return Returns(
        file_name,
        import_id,
        False,
        rows_read,
        {k: v for k, v in by_outcome.items() if v},
        len(rows) - len(changed),
        counts["not_called"],
        counts["erased"],
        tuple(sorted({r.list_id for r in rows})),
        warnings,
    )


def _set_states(con: duckdb.DuckDBPyConnection, changed: list[_Row], actor: str) -> None:
    groups: dict[tuple[str, str], list[str]] = {}
    for r in changed:
        if r.outcome in OUTCOME_STATE:
            groups.setdefault((r.list_id, OUTCOME_STATE[r.outcome]), []).append(r.member_key)
    for (list_id, state), keys in sorted(groups.items()):
        needs.set_states(con, keys, state, actor=actor, list_id=list_id)  # joins this transaction


def _record_optouts(con: duckdb.DuckDBPyConnection, rows: list[_Row], actor: str, when: datetime) -> int:
    # One register entry per returned row while none is active, its id derived from the row.
    added = [r.member_key for r in rows if optouts.record_from_return(
        con, f"return-{r.list_id}-{r.row}", r.member_key, actor=actor, when=when)]
    if added:
        audit(
            con,
            "optout.add",
            actor=actor,
            counts={"added": len(added), "source": "return"},
            member_keys=added,
        )
    return len(added)


__all__ = ["ReturnedFile", "Returns", "import_results", "needs_passphrase", "read"]
