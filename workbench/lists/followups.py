"""Branch follow-up lists: who to call back, handed out safely and registered.

A follow-up list is the triage queue for a branch (`needs.queue`, already suppressed), joined to
the little identity a caller needs (first name, phone), passed through `optouts.suppress` once
more right before it is written (an opt-out can land between the queue and the file), and written
by `exports` with its data-protection notice. Every list is registered (`lists`), so it can be
chased for shredding and reported if lost. A next-round list uses the same machinery for the
calling tool. Returns (`lists.returns`) close the loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import exports
from workbench.analysis import needs, outreach
from workbench.errors import InputError
from workbench.lists import printing, protection, registry
from workbench.lists.protection import Protection
from workbench.lists.registry import ListRecord
from workbench.phones import display_phone, display_phones
from workbench.privacy import optouts
from workbench.store import settings, snapshot
from workbench.store.audit import EMAIL_LIKE, PHONE_LIKE
from workbench.store.db import key, key_number_sql, registered
from workbench.store.filters import check_filters
from workbench.store.state import transaction

# Column names, shared by the writer and the returns reader.
LIST_ID, ROW, FIRST, PHONE, WARD, NEEDS, URGENCY, PROMPT = (
    "List ID",
    "Row",
    "First Name",
    "Phone",
    "Ward",
    "Needs",
    "Urgency",
    "Call-back prompt",
)
OUTCOME, DATE_CALLED, INITIALS, MEMBERSHIP = "Outcome", "Date called", "Caller initials", "Membership Number"
LAST, REASON = "Last Name", "Reason"
PROTECTED = (FIRST, WARD, NEEDS)  # cells a returned list must not change; checked against a digest

# What a branch writes in the Outcome column, and what it does to the follow-up.
OUTCOMES = {
    "resolved": "resolved",
    "unreachable": "unreachable",
    "needs more help": "needs_more_help",
    "opted out": "opted_out",
}
OUTCOME_STATE = {
    "resolved": "resolved",
    "unreachable": "unreachable",
    # Still being helped: someone must act on it, so it stays in the queue as in progress.
    "needs_more_help": "in_progress",
}
CATEGORY_LABELS = {
    "food": "Food",
    "medicine": "Medicine",
    "isolation": "Isolation",
    "mental_health": "Mental health",
    "financial": "Money",
    "housing": "Housing",
    "digital": "Getting online",
    "other": "Other",
}
# A short prompt per need: what the caller should ask about. Never a note from the call.
PROMPTS = {
    "food": "food shopping or a food bank",
    "medicine": "getting prescriptions",
    "isolation": "company or a befriending call",
    "mental_health": "how they are coping",
    "financial": "money worries or benefits advice",
    "housing": "their housing",
    "digital": "getting online",
    "other": "what help they need",
}
FOLLOWUP_DATA = (
    "first name",
    "phone number",
    "ward",
    "support needs (categories; can reveal health)",
    "urgency of the need",
)
NEXT_ROUND_DATA = (
    "membership number",
    "first name",
    "last name",
    "phone number",
    "ward",
    "reason for the call (unreached or check-in due)",
)


@dataclass(frozen=True)
class Composed:
    """Who is on a list before it is registered: the rows (with member_key) and who was left out."""

    rows: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)


# Formats a list can be written in. The protected ones are encrypted with a passphrase made for the
# list; the others (and a plain xlsx or pdf) need a recorded reason (`unprotected`).
LIST_FORMATS = ("xlsx", "pdf", "csv", "html")
PROTECTED_FORMATS = {"xlsx": protection.XLSX_METHOD, "pdf": protection.PDF_METHOD}
MAX_REASON = 300


@dataclass(frozen=True)
class Exported:
    """A written, registered list: its record, where it went, and who was left out (counts).

    `passphrase` opens a protected list. It exists only here, to be shown once; it is never stored,
    logged or audited, and is kept out of this object's repr.
    """

    record: ListRecord
    path: Path
    excluded: dict[str, int]
    passphrase: str | None = field(default=None, repr=False)

    @property
    def list_id(self) -> str:
        return self.record.list_id


def merge_counts(*parts: Mapping[str, int]) -> dict[str, int]:
    """Add up several 'left out, by reason' counts.

    Examples:
        >>> merge_counts({"opted out": 2}, {"opted out": 1, "erased": 1})
        {'opted out': 3, 'erased': 1}
    """
    total: dict[str, int] = {}
    for part in parts:
        for reason, n in part.items():
            if n:
                total[reason] = total.get(reason, 0) + int(n)
    return total


# Only keys and positions go into the store's join, not a list's other columns (lists of needs
# among them); the identities found are put back in the people's order in Arrow. The join compares
# each identity's key_number, an integer: it reads every identity held, and at union scale 1.5
# million strings cost twice as much. Anyone it does not find (an identity row written without a
# number) is then looked up by member_key, so the number only ever makes the join faster.
BY_NUMBER_QUERY = """
SELECT q.position, i.phone AS phone_held, {identity}
FROM (SELECT position, {number} AS key_number FROM {people}) q
JOIN identities i ON i.key_number = q.key_number
"""
BY_KEY_QUERY = """
SELECT q.position, i.phone AS phone_held, {identity}
FROM {people} q JOIN identities i ON i.member_key = q.member_key
"""


def _with_identity(con: duckdb.DuckDBPyConnection, people: pa.Table, columns: Sequence[str]
                   ) -> tuple[pa.Table, dict[str, int]]:
    """Join the identity columns a list shows (phone among them), keeping the people's order; leave
    out (and count) anyone with no phone to call.

    Only the columns asked for (this module's own names, never input) are read: every identity
    column read is decrypted for every member.
    """
    keys = pa.table({"member_key": people.column("member_key"), "position": pa.array(range(people.num_rows))})
    found = _identity_rows(con, keys, ", ".join(f"i.{c}" for c in columns))
    # The phone is checked on the list's rows, after the join, not on every identity held.
    held = pc.not_equal(pc.utf8_trim(found.column("phone_held"), " "), "")
    found = found.filter(pc.fill_null(held, False)).sort_by("position")
    joined = people.take(found.column("position"))
    for column in columns:
        joined = joined.append_column(column, found.column(column))
    return joined, {"no phone number": people.num_rows - joined.num_rows}


def _identity_rows(con: duckdb.DuckDBPyConnection, keys: pa.Table, identity: str) -> pa.Table:
    """position, phone_held and the identity columns of each key with an identity row, unordered."""
    with registered(con, keys, "_list_people") as people:
        found = con.execute(BY_NUMBER_QUERY.format(
            people=people, identity=identity, number=key_number_sql("member_key"))).fetch_arrow_table()
    if found.num_rows == keys.num_rows:
        return found
    rest = keys.filter(pc.invert(pc.is_in(keys.column("position"), value_set=found.column("position"))))
    with registered(con, rest, "_list_people") as people:
        more = con.execute(BY_KEY_QUERY.format(people=people, identity=identity)).fetch_arrow_table()
    return pa.concat_tables([found, more])


FOLLOWUP_IDENTITY = ("first_name", "phone")
NEXT_ROUND_IDENTITY = ("first_name", "last_name", "phone", "membership_number")


def compose(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str,
    ward: str | None = None,
    category: str | None = None,
    limit: int | None = None,
    as_of: datetime | str | None = None,
) -> Composed:
    """Who goes on a branch's follow-up list, most urgent first, with the identity a caller needs.

    Args:
        branch: the branch the list is for; ward, category: narrow it further.
        limit: at most this many people (the most urgent).
        as_of: passed to `needs.queue` (days waiting are counted to it).

    Returns:
        Composed(rows, excluded): rows hold member_key, first_name, phone, ward, categories, urgency,
        score, in queue order; excluded counts who was left out and why (suppression before and
        after the identity join, and no phone number).

    Raises:
        InputError: no branch, an unknown branch / ward / category, or a bad limit.
    """
    if not branch:
        raise InputError("A follow-up list is made for one branch: give --branch NAME.")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"--limit must be a whole number, 1 or more; got {limit!r}.")
    # In Arrow until the rows are final: the identity join runs in the store, and only the kept
    # rows' columns become Python.
    columns = ["member_key", "ward", "categories", "urgency", "score"]
    queue, excluded = needs.queue_arrow(con, branch=branch, ward=ward, category=category, as_of=as_of)
    people, no_phone = _with_identity(con, queue.select(columns), FOLLOWUP_IDENTITY)
    # The choke point again, right before writing: an opt-out may have landed since the queue ran.
    kept, late = optouts.suppress_table(con, people)
    if limit is not None:
        kept = kept.slice(0, limit)
    rows = needs.with_lists(kept, "categories")
    return Composed(
        rows[["member_key", "first_name", "phone", "ward", "categories", "urgency", "score"]],
        merge_counts(excluded, no_phone, late),
    )


def call_back_prompt(categories: list[str], urgency: str | None) -> str:
    """A short, neutral prompt for the caller: what to ask about. No notes, no diagnosis.

    Examples:
        >>> call_back_prompt(["food", "medicine"], "high")
        'Call first. Ask about food shopping or a food bank; getting prescriptions.'
    """
    asks = "; ".join(PROMPTS.get(c, "what help they need") for c in categories) or "how they are"
    return ("Call first. " if urgency == "high" else "") + f"Ask about {asks}."


def needs_text(categories) -> str:
    """Need categories as a list shows them: "Food; Medicine"."""
    return "; ".join(CATEGORY_LABELS.get(c, str(c)) for c in list(categories))


def _normal(value: object) -> str:
    return " ".join((value if isinstance(value, str) else exports.cell_text(value)).split())


def row_digest(secret: bytes, list_id: str, row: int, cells: Mapping[str, object]) -> str:
    """Keyed hashes of a row's protected cells as issued, one per column, joined with ':'.

    BLAKE2b in its keyed (MAC) mode under keys['member']: as strong as an HMAC here, and one C call
    per cell, which matters for a national branch list with tens of thousands of cells.
    """
    return row_digests(secret, list_id, [row], {c: [_normal(cells.get(c))] for c in PROTECTED})[0]


def row_digests(secret: bytes, list_id: str, rows: Sequence[int], cells: Mapping[str, Sequence[str]]
                ) -> list[str]:
    """`row_digest` of every row of a list at once: rows[i] is row i's number, cells[column][i] its text."""
    keyed = hashlib.blake2b(key=secret, digest_size=8)  # copied per cell: the key is absorbed once
    columns = []
    for column in PROTECTED:
        normal = {text: _normal(text) for text in set(cells[column])}  # a branch repeats its names and wards
        macs = []
        for row, text in zip(rows, cells[column], strict=True):
            h = keyed.copy()
            h.update(f"{list_id}|{row}|{column}|{normal[text]}".encode())
            macs.append(h.hexdigest())
        columns.append(macs)
    return [":".join(parts) for parts in zip(*columns, strict=True)]


def _table(
    con: duckdb.DuckDBPyConnection, list_id: str, composed: Composed, include_membership_number: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The list as written (display columns) and its registry rows (row_number, member_key, digest)."""
    rows = composed.rows
    n = len(rows)
    table = pd.DataFrame({LIST_ID: [list_id] * n, ROW: range(1, n + 1)})
    if include_membership_number:
        # Every composed row has a phone, so the join's phone filter leaves none of them out.
        keys = pa.table({"member_key": pa.array(rows["member_key"].astype(str))})
        ids = _with_identity(con, keys, ("membership_number",))[0].to_pandas().set_index("member_key")
        table[MEMBERSHIP] = rows["member_key"].map(ids["membership_number"]).fillna("").to_numpy()
    table[FIRST] = rows["first_name"].fillna("").to_numpy()
    table[PHONE] = display_phones(rows["phone"]).to_numpy()
    table[WARD] = rows["ward"].fillna("").to_numpy()
    # A branch's needs come in a few dozen combinations: each is written out once.
    needs_of = [tuple(c) for c in rows["categories"].tolist()]
    labels = {c: needs_text(c) for c in set(needs_of)}
    table[NEEDS] = [labels[c] for c in needs_of]
    table[URGENCY] = rows["urgency"].fillna("").str.capitalize().to_numpy()
    asks = list(zip(needs_of, rows["urgency"].tolist(), strict=True))
    prompts = {a: call_back_prompt(list(a[0]), a[1]) for a in set(asks)}
    table[PROMPT] = [prompts[a] for a in asks]
    table[OUTCOME], table[DATE_CALLED], table[INITIALS] = "", "", ""
    cells = {c: table[c].tolist() for c in PROTECTED}
    entries = pd.DataFrame(
        {
            "row_number": table[ROW].astype("int32"),
            "member_key": rows["member_key"].to_numpy(),
            "digest": row_digests(key(con, "member"), list_id, table[ROW].tolist(), cells),
        }
    )
    return table, entries


def notice(con: duckdb.DuckDBPyConnection, record: ListRecord) -> exports.Notice:
    """The data-protection notice a list carries: ID, recipient and purpose, dates, the three rules."""
    org, dp = settings.get(con, "organisation"), settings.get(con, "dp_contact")
    lines = (
        f"List ID: {record.list_id}. Made by {org} on {record.created_at:%d/%m/%Y}; "
        f"SHRED BY {record.shred_by:%d %B %Y}.",
        f"For: {record.recipient}. Purpose: {record.purpose}. "
        "Use it for nothing else; do not copy or share it.",
        f"Report it: if this list is lost or stolen, report it immediately to {dp}: "
        "it could be a data breach.",
        "Shred it: once all the calls have been made, destroy this list securely and confidentially "
        "(shred paper, delete files and emptied downloads), and tell your organiser so it is recorded.",
        "Secure it: if you keep it overnight, make sure it is out of sight "
        "and not easily accessible to others."
        + (
            " This file is encrypted: never write its passphrase on it or keep the two together."
            if record.protection is not None and record.protection.protected
            else ""
        ),
        "It holds members' personal data, including support needs. Write only the outcome, date and your "
        f"initials; no notes about health. Any other data-protection questions: {dp}."
        if record.kind == "followup"
        else "It holds members' personal data. Load it into the calling tool, then delete this file and any "
        f"copies. Any other data-protection questions: {dp}.",
    )
    title = f"CONFIDENTIAL: {org} " + (
        "welfare follow-up list" if record.kind == "followup" else "next-round call list"
    )
    running = (
        f"CONFIDENTIAL · {org} · List {record.list_id} · for {record.recipient} · "
        f"shred by {record.shred_by:%d/%m/%Y} · if lost, report to {dp}"
    )
    return exports.Notice(title, lines, running)


def _check_request(
    fmt: str | None, out: str | Path, purpose: str, recipient: str, actor: str, unprotected: str | None,
    force: bool = False,
) -> tuple[str, Path, Protection]:
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".") or "xlsx").lower()
    if fmt not in LIST_FORMATS:
        raise InputError(
            f'Unsupported list format "{fmt}". Supported formats: {", ".join(LIST_FORMATS)} '
            "(give --format, or an --out path ending in .xlsx, .pdf, .csv or .html)."
        )
    how = _protection(fmt, unprotected)
    if out.suffix.lower() != f".{fmt}":
        raise InputError(f"--out {out.name} does not end in .{fmt}; name the file {out.stem}.{fmt}.")
    try:
        exports.check_target(out, force)  # the safe writer's own rule, checked before any work
    except InputError as refused:
        raise InputError(
            f"{refused} An old list is never replaced silently: once it is destroyed, record that with "
            "`workbench lists destroyed LIST_ID`."
        ) from None
    for name, value in (("--purpose", purpose), ("--recipient", recipient), ("--by", actor)):
        if not str(value or "").strip():
            raise InputError(f"{name} is required: every list records who it is for, why, and who made it.")
    return fmt, out, how


def _protection(fmt: str, unprotected: str | None) -> Protection:
    """Encrypted unless a reason is given; a format that cannot be encrypted needs one."""
    if unprotected is None:
        if fmt not in PROTECTED_FORMATS:
            raise InputError(
                f"A {fmt} list cannot be encrypted. Choose --format xlsx or pdf (encrypted with a "
                f'passphrase), or give --unprotected "REASON" to write a plain {fmt}: the reason is '
                "recorded in the list registry and the audit log."
            )
        return Protection(PROTECTED_FORMATS[fmt])
    reason = " ".join(str(unprotected).split())
    if not reason:
        raise InputError(
            '--unprotected needs a reason, e.g. --unprotected "branch secretary has no Excel; paper '
            'copy kept locked": it is recorded in the list registry and the audit log.'
        )
    if len(reason) > MAX_REASON or EMAIL_LIKE.search(reason) or (
        PHONE_LIKE.search(reason) and sum(c.isdigit() for c in reason) >= 10
    ):
        raise InputError(
            f"The --unprotected reason must be a short sentence (at most {MAX_REASON} characters) with no "
            "phone number or email address in it: it is kept in the registry and the audit log."
        )
    return Protection(protection.UNPROTECTED, reason)


def _shred_days(con: duckdb.DuckDBPyConnection, days: int | None) -> int:
    return int(settings.get(con, "shred_after_days")) if days is None else days


# Column widths in a list workbook (characters), as HTML_WIDTHS for the printed page.
XLSX_WIDTHS = {LIST_ID: 17, ROW: 5, FIRST: 14, PHONE: 15, WARD: 16, NEEDS: 22, URGENCY: 9, PROMPT: 40,
               OUTCOME: 16, DATE_CALLED: 12, INITIALS: 9}


def _sheet(editable: bool) -> exports.Sheet:
    return exports.Sheet(
        editable=(OUTCOME, DATE_CALLED, INITIALS) if editable else (),
        choices={OUTCOME: list(OUTCOMES)} if editable else {},
        widths=XLSX_WIDTHS,
    )


def _printed(table: pd.DataFrame) -> pd.DataFrame:
    # The printed list needs no List ID column: the ID is in the page header on every sheet.
    return table.drop(columns=[c for c in (LIST_ID,) if c in table.columns])


def _page(table: pd.DataFrame, note: exports.Notice) -> str:
    printed = _printed(table)
    return exports.render_html(
        printed, notice=note, title=note.title, row_numbers=printed.columns[0] == ROW, widths=HTML_WIDTHS
    )


def _writer(
    table: pd.DataFrame, fmt: str, note: exports.Notice, editable: bool, secret: str | None, force: bool
) -> Callable[[Path], None]:
    """How the list is written. Slow work (building, printing, encrypting) happens now, in memory,
    before the registry transaction; the returned function only writes the finished bytes.

    With a `secret`, the plain workbook or PDF never reaches the target folder: only encrypted bytes do.
    """
    if fmt == "xlsx":
        data = exports.xlsx_bytes(table, notice=note, sheet=_sheet(editable))
        if secret is not None:
            data = protection.encrypt_xlsx(data, secret)
    elif fmt == "pdf":
        keep = (lambda pdf: protection.encrypt_pdf(pdf, secret)) if secret else (lambda pdf: pdf.read_bytes())
        data = printing.print_pdf(_page(table, note), then=keep)
    elif fmt == "csv":
        return lambda path: exports.write_csv(table, path, notice=note, force=force)
    else:
        page = _page(table, note)
        return lambda path: exports.write_text(path, page, force=force)
    return lambda path: exports.write_bytes(path, data, force=force)


HTML_WIDTHS = {
    ROW: "10mm",
    FIRST: "11%",
    PHONE: "11%",
    WARD: "10%",
    NEEDS: "11%",
    URGENCY: "7%",
    PROMPT: "18%",
    OUTCOME: "11%",
    DATE_CALLED: "8%",
    INITIALS: "7%",
    MEMBERSHIP: "10%",
    LAST: "12%",
    REASON: "20%",
}


def _issue(
    con: duckdb.DuckDBPyConnection,
    record: ListRecord,
    table: pd.DataFrame,
    entries: pd.DataFrame,
    out: Path,
    editable: bool,
    force: bool = False,
) -> str | None:
    """Register and write as one: the file exists only if the registry holds it, and vice versa.

    With `force`, a file already at `out` is replaced (the user asked for that); if the registry
    then fails to commit, the new list is removed, and the old file is not brought back.

    Returns:
        The passphrase that opens the list when it is protected (made here, kept nowhere), else None.
    """
    secret = protection.passphrase() if record.protection and record.protection.protected else None
    write = _writer(table, record.format, notice(con, record), editable, secret, force)
    written = False
    try:
        with snapshot.leaving_analysis_data_alone(con), transaction(con):
            registry.register(con, record, entries)
            write(out)  # atomic: whole file or none
            written = True
    except BaseException:
        if written:  # the commit failed: the file at `out` is our new, unregistered list
            out.unlink(missing_ok=True)
        raise
    return secret


def export(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str,
    purpose: str,
    recipient: str,
    out: str | Path,
    actor: str,
    fmt: str | None = None,
    ward: str | None = None,
    category: str | None = None,
    shred_after_days: int | None = None,
    include_membership_number: bool = False,
    limit: int | None = None,
    as_of: datetime | str | None = None,
    unprotected: str | None = None,
    force: bool = False,
) -> Exported:
    """Make, write and register a branch's follow-up list: encrypted XLSX or PDF, or with a reason, plain.

    Args:
        branch, ward, category: who it is for (see `compose`).
        purpose, recipient: why and to whom it is given; printed on it and kept in the registry.
        out: the file to write (mode 0600); an existing file or symlink there is refused unless `force`.
        fmt: xlsx (default) or pdf, encrypted with a passphrase made for the list; csv or html (or a
            plain xlsx or pdf) only with `unprotected`. Default: from out's suffix.
        unprotected: why this list is not encrypted; recorded in the registry and the audit log.
        actor: who made it (audit log and registry).
        shred_after_days: default the setting "shred_after_days" (14).
        include_membership_number: add the membership number (only when the branch needs it).
        force: replace a file (or symbolic link) already at `out`, never following a link.

    Returns:
        Exported(record, path, excluded, passphrase): the list's registry record, who was left out
        by reason, and the passphrase that opens it (None when unprotected): show it once.

    Raises:
        InputError: a bad argument, a plain format without a reason, nobody to put on the list, or an
            unwritable path. Nothing is registered or written then.
        PrintError: a PDF was asked for and Chromium is missing or failed (nothing is registered).

    Examples:
        >>> export(con, branch="Ashcombe", purpose="welfare call-backs", recipient="Ashcombe secretary",
        ...        out="ashcombe.xlsx", actor="ana")  # doctest: +SKIP
    """
    fmt, out, how = _check_request(fmt, out, purpose, recipient, actor, unprotected, force)
    days = _shred_days(con, shred_after_days)
    composed = compose(con, branch=branch, ward=ward, category=category, limit=limit, as_of=as_of)
    _refuse_empty(composed, f"branch {branch}")
    data = FOLLOWUP_DATA + (("membership number",) if include_membership_number else ())
    record = registry.new_record(
        "followup", purpose=purpose, recipient=recipient, actor=actor, shred_after_days=days,
        row_count=len(composed.rows), fmt=fmt, data_categories=data,
        filters={"branch": branch, "ward": ward, "category": category, "limit": limit},
        excluded=composed.excluded, protection=how,
    )
    table, entries = _table(con, record.list_id, composed, include_membership_number)
    secret = _issue(con, record, table, entries, out, editable=True, force=force)
    return Exported(record, out, composed.excluded, secret)


def _refuse_empty(composed: Composed, what: str) -> None:
    if composed.rows.empty:
        left = ", ".join(f"{n} {r}" for r, n in composed.excluded.items()) or "none"
        raise InputError(f"Nobody to put on a list for {what} (left out: {left}); no list was made.")


# ---- the next calling round ---------------------------------------------------------------------------

# Members whose latest answered call was long ago, or found them struggling (wellbeing <= N).
CHECKIN_QUERY = """
SELECT c.member_key, any_value(m.ward) AS ward, max(c.called_at) AS last_answered,
       arg_max(c.wellbeing, (c.called_at, c.call_id)) AS wellbeing
FROM calls c JOIN members m ON m.member_key = c.member_key
WHERE c.outcome = 'answered' AND (? IS NULL OR m.branch = ?) AND (? IS NULL OR m.ward = ?)
GROUP BY c.member_key
HAVING max(c.called_at) < CAST(? AS TIMESTAMP) - to_days(CAST(? AS INTEGER))
    OR arg_max(c.wellbeing, (c.called_at, c.call_id)) <= ?
"""


def _checkins(con: duckdb.DuckDBPyConnection, branch, ward, days: int, wellbeing: int, as_of) -> pd.DataFrame:
    frame = con.execute(CHECKIN_QUERY, [branch, branch, ward, ward, as_of, days, wellbeing]).df()
    # The reason never says "low wellbeing": the list leaves the building, the score stays in the store.
    frame["reason"] = (frame["wellbeing"] <= wellbeing).map(
        {True: "priority check-in", False: f"check-in due (last spoke over {days} days ago)"}
    )
    return frame[["member_key", "ward", "reason"]]


def compose_next_round(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    attempts: int = 3,
    checkin_after_days: int = 28,  # noqa: A002
    wellbeing_at_most: int = 2,
    as_of: datetime | str | None = None,
) -> Composed:
    """Who to call in the next round: still unreached after N attempts, or due a repeat check-in.

    Args:
        round, attempts: `outreach.unreached` (the latest round by default; at least 3 attempts).
        checkin_after_days: answered more than this many days before `as_of` (default
            `needs.reference_time`: the store's as_of setting, else now).
        wellbeing_at_most: or wellbeing this low (1-5) at their latest answered call.

    Returns:
        Composed(rows, excluded): rows hold member_key, membership_number, first_name, last_name,
        phone, ward, reason; excluded counts who was left out (opt-outs, erased, no phone).
    """
    for name, value, low, high in (
        ("checkin_after_days", checkin_after_days, 1, 3650),
        ("wellbeing_at_most", wellbeing_at_most, 0, 5),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InputError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
    check_filters(con, branch=branch, ward=ward)
    when = needs.reference_time(con, as_of)
    unreached = outreach.unreached(con, round, attempts, branch=branch, ward=ward)
    first = unreached.assign(reason=f"not reached after {attempts} attempts")[
        ["member_key", "ward", "reason"]
    ]
    people = pd.concat([first, _checkins(con, branch, ward, checkin_after_days, wellbeing_at_most, when)])
    people = people.drop_duplicates("member_key", keep="first").reset_index(drop=True)
    checked = optouts.suppress(con, people)  # the choke point, as on a follow-up list
    kept, late, no_phone = checked.kept, dict(checked.excluded), {}
    if not kept.empty:
        listed = pa.Table.from_pandas(kept, preserve_index=False)
        table, no_phone = _with_identity(con, listed, NEXT_ROUND_IDENTITY)
        kept = table.to_pandas()
    kept = kept.sort_values(["ward", "reason", "member_key"], na_position="last").reset_index(drop=True)
    return Composed(kept, merge_counts(unreached.attrs.get("excluded", {}), late, no_phone))


def next_round(
    con: duckdb.DuckDBPyConnection,
    *,
    purpose: str,
    recipient: str,
    out: str | Path,
    actor: str,
    fmt: str | None = None,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    attempts: int = 3,
    checkin_after_days: int = 28,  # noqa: A002
    wellbeing_at_most: int = 2,
    shred_after_days: int | None = None,
    as_of: datetime | str | None = None,
    unprotected: str | None = None,
    force: bool = False,
) -> Exported:
    """Write and register the call list for the next round, shaped for the calling tool.

    Columns: Membership Number, First Name, Last Name, Phone, Ward, Reason. The membership number is
    here because the calling tool matches each call to its member record by it, and call outcomes
    come back into the workbench keyed by it; a branch follow-up list leaves it out.

    Encrypted (xlsx by default, or pdf) exactly as `export`; a plain csv for a calling tool's
    upload needs `unprotected` with the reason. An existing file at `out` is refused unless `force`.

    Returns:
        Exported(record, path, excluded, passphrase).

    Raises:
        InputError: a bad argument, nobody to call, or an unwritable path; nothing is registered then.
    """
    fmt, out, how = _check_request(fmt, out, purpose, recipient, actor, unprotected, force)
    days = _shred_days(con, shred_after_days)
    composed = compose_next_round(
        con,
        branch=branch,
        ward=ward,
        round=round,
        attempts=attempts,
        checkin_after_days=checkin_after_days,
        wellbeing_at_most=wellbeing_at_most,
        as_of=as_of,
    )
    _refuse_empty(composed, f"the next round{f' in branch {branch}' if branch else ''}")
    record = registry.new_record(
        "next_round", purpose=purpose, recipient=recipient, actor=actor, shred_after_days=days,
        row_count=len(composed.rows), fmt=fmt, data_categories=NEXT_ROUND_DATA,
        filters={
            "branch": branch,
            "ward": ward,
            "round": round,
            "attempts": attempts,
            "checkin_after_days": checkin_after_days,
            "wellbeing_at_most": wellbeing_at_most,
        },
        excluded=composed.excluded, protection=how,
    )
    rows = composed.rows
    table = pd.DataFrame(
        {
            MEMBERSHIP: rows["membership_number"].fillna(""),
            FIRST: rows["first_name"].fillna(""),
            LAST: rows["last_name"].fillna(""),
            PHONE: display_phones(rows["phone"]).str.replace(" ", "", regex=False),
            WARD: rows["ward"].fillna(""),
            REASON: rows["reason"],
        }
    )
    entries = pd.DataFrame(
        {"row_number": range(1, len(rows) + 1), "member_key": rows["member_key"], "digest": None}
    )
    if fmt in ("html", "pdf"):
        table.insert(0, ROW, range(1, len(table) + 1))
    secret = _issue(con, record, table, entries, out, editable=False, force=force)
    return Exported(record, out, composed.excluded, secret)


__all__ = [
    "LIST_FORMATS",
    "PROTECTED_FORMATS",
    "Composed",
    "Exported",
    "OUTCOMES",
    "call_back_prompt",
    "compose",
    "compose_next_round",
    "display_phone",
    "export",
    "merge_counts",
    "needs_text",
    "next_round",
    "notice",
    "row_digest",
]
