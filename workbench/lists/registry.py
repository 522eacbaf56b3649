"""The list registry: every list of people that left the building, and what became of it.

A list is recorded with its ID, kind, purpose, recipient, creator, dates, row count, the kinds of
data it held and the member keys on it (by row). The guidance's three rules map onto it: a list
past its shred-by date is flagged until someone records its destruction ("Shred it"), and a lost
one gets a breach report in one command ("Report it").
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from workbench import ids
from workbench.errors import InputError
from workbench.store.audit import audit

KINDS = {"followup": "FU", "next_round": "NR"}
KIND_LABELS = {"followup": "welfare follow-up list", "next_round": "next-round call list"}
# Letters only, without I and O: read aloud over a phone without confusion, and never enough
# digits in an ID to look like a phone number to the audit log's guard.
ID_LETTERS = ids.LETTERS
ID_PATTERN = r"^(FU|NR)-\d{8}-[A-Z]{5}$"


@dataclass(frozen=True)
class ListRecord:
    """One registered list, as the registry holds it."""

    list_id: str
    kind: str
    purpose: str
    recipient: str
    created_by: str | None
    created_at: datetime
    shred_by: date
    destroyed_at: datetime | None
    destroyed_by: str | None
    row_count: int
    format: str
    data_categories: tuple[str, ...]
    filters: dict
    excluded: dict

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None


def now() -> datetime:
    """The current UTC time without a zone, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_list_id(kind: str, when: datetime | None = None) -> str:
    """A fresh list ID such as FU-20200415-KQXRT: kind, date made, five random letters.

    Examples:
        >>> new_list_id("followup", datetime(2020, 4, 15))[:12]
        'FU-20200415-'
    """
    if kind not in KINDS:
        raise InputError(f'Unknown list kind "{kind}". Expected one of: {", ".join(KINDS)}.')
    tail = ids.random_letters(5)
    return f"{KINDS[kind]}-{(when or now()):%Y%m%d}-{tail}"


INSERT_LIST = """
INSERT INTO lists (list_id, kind, purpose, recipient, created_by, created_at, shred_by, destroyed_at,
                   destroyed_by, row_count, format, data_categories, filters, excluded)
VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?)
"""
INSERT_MEMBERS = """
INSERT INTO list_members (list_id, row_number, member_key, digest)
SELECT ?, row_number, member_key, digest FROM {rows}
"""


def register(con: duckdb.DuckDBPyConnection, record: ListRecord, rows: pd.DataFrame) -> ListRecord:
    """Record a new list and its rows, and audit it ("list_created"); inside the caller's transaction.

    Args:
        record: the list (destroyed fields are ignored).
        rows: row_number, member_key and digest, one per row of the list.

    Returns:
        The record as stored.
    """
    con.execute(
        INSERT_LIST,
        [
            record.list_id,
            record.kind,
            record.purpose,
            record.recipient,
            record.created_by,
            record.created_at,
            record.shred_by,
            record.row_count,
            record.format,
            list(record.data_categories),
            json.dumps(record.filters),
            json.dumps(record.excluded),
        ],
    )
    name = f"_list_rows_{secrets.token_hex(6)}"
    con.register(name, rows[["row_number", "member_key", "digest"]])
    try:
        con.execute(INSERT_MEMBERS.format(rows=name), [record.list_id])
    finally:
        con.unregister(name)
    audit(
        con,
        "list_created",
        actor=record.created_by or "unknown",
        object_id=record.list_id,
        counts={
            "kind": record.kind,
            "rows": record.row_count,
            "format": record.format,
            "excluded": dict(record.excluded),
        },
        member_keys=rows["member_key"].dropna().tolist(),
    )
    return record


GET_QUERY = """
SELECT list_id, kind, purpose, recipient, created_by, created_at, shred_by, destroyed_at, destroyed_by,
       row_count, format, data_categories, filters, excluded
FROM lists WHERE list_id = ?
"""


def get(con: duckdb.DuckDBPyConnection, list_id: str) -> ListRecord:
    """The registered list with this ID.

    Raises:
        InputError: no such list (the message says how to see every list).
    """
    row = con.execute(GET_QUERY, [str(list_id).strip().upper()]).fetchone()
    if row is None:
        raise InputError(
            f'No list with ID "{safe_id(list_id)}" in this store. `workbench lists` shows every '
            "list and its ID (e.g. FU-20200415-KQXRT)."
        )
    return ListRecord(
        *row[:11], tuple(row[11] or ()), json.loads(row[12] or "{}"), json.loads(row[13] or "{}")
    )


def new_record(kind: str, *, purpose: str, recipient: str, actor: str, shred_after_days: int, row_count: int,
               fmt: str, data_categories: tuple[str, ...], filters: dict, excluded: dict) -> ListRecord:
    """The registry record of a list made now: a fresh ID, its shred-by date, not destroyed."""
    created = now()
    return ListRecord(
        new_list_id(kind, created), kind, purpose.strip(), recipient.strip(), actor.strip(), created,
        shred_by(created, shred_after_days), None, None, row_count, fmt, data_categories, filters, excluded,
    )


def safe_id(value: object) -> str:
    # An ID is echoed only when it looks like one; anything else might be a pasted name or number.
    text = str(value).strip()
    return text if len(text) <= 24 and text.replace("-", "").isalnum() else "(not shown)"


LISTS_QUERY = """
WITH returned AS (SELECT list_id, count(outcome) AS returned FROM list_members GROUP BY list_id)
SELECT l.list_id, l.kind, l.recipient, l.purpose, l.created_by, l.created_at, l.shred_by, l.row_count,
       coalesce(r.returned, 0) AS returned, l.destroyed_at, l.destroyed_by
FROM lists l LEFT JOIN returned r ON r.list_id = l.list_id
WHERE NOT ? OR l.destroyed_at IS NULL
ORDER BY l.destroyed_at IS NOT NULL, l.shred_by, l.created_at, l.list_id
"""


def lists(
    con: duckdb.DuckDBPyConnection, *, outstanding: bool = False, as_of: date | None = None
) -> pd.DataFrame:
    """Every list, those still out first (soonest shred-by first), each with a status.

    Args:
        outstanding: only lists not yet recorded destroyed.
        as_of: the day shred-by dates are judged against (default today).

    Returns:
        list_id, kind, recipient, purpose, created_by, created_at, shred_by, rows, returned (rows with
        an outcome back), status ("out", "PAST SHRED-BY" or "destroyed"), days_overdue, destroyed_at,
        destroyed_by.
    """
    frame = con.execute(LISTS_QUERY, [outstanding]).df().rename(columns={"row_count": "rows"})
    today = pd.Timestamp(as_of or now().date())
    overdue = (today - pd.to_datetime(frame["shred_by"])).dt.days.clip(lower=0)
    destroyed = frame["destroyed_at"].notna()
    frame["status"] = "out"
    frame.loc[~destroyed & (overdue > 0), "status"] = "PAST SHRED-BY"
    frame.loc[destroyed, "status"] = "destroyed"
    frame["days_overdue"] = overdue.where(~destroyed, 0).fillna(0).astype(int)
    order = [
        "list_id",
        "kind",
        "recipient",
        "purpose",
        "created_by",
        "created_at",
        "shred_by",
        "rows",
        "returned",
        "status",
        "days_overdue",
        "destroyed_at",
        "destroyed_by",
    ]
    return frame[order]


DESTROY_QUERY = "UPDATE lists SET destroyed_at = ?, destroyed_by = ? WHERE list_id = ?"


def mark_destroyed(
    con: duckdb.DuckDBPyConnection, list_id: str, *, actor: str, destroyed_at: datetime | None = None
) -> ListRecord:
    """Record that a list was shredded or deleted, and audit it ("list_destroyed").

    Raises:
        InputError: no such list, no actor, or the list was already recorded destroyed (nothing changes).
    """
    if not str(actor or "").strip():
        raise InputError("Say who destroyed the list: give --by NAME or set WORKBENCH_USER.")
    record = get(con, list_id)
    if record.destroyed:
        raise InputError(
            f"List {record.list_id} was already recorded destroyed on "
            f"{record.destroyed_at:%d/%m/%Y} by {record.destroyed_by}; nothing changed."
        )
    when = destroyed_at or now()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(DESTROY_QUERY, [when, actor.strip(), record.list_id])
        overdue = max((when.date() - record.shred_by).days, 0)
        audit(
            con,
            "list_destroyed",
            actor=actor.strip(),
            object_id=record.list_id,
            counts={"rows": record.row_count, "days_past_shred_by": overdue},
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return get(con, record.list_id)


def shred_by(created: datetime, days: int) -> date:
    """The day a list must be shredded by.

    Raises:
        InputError: days is not a whole number from 1 to 3650.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
        raise InputError(f"--shred-after-days must be a whole number of days from 1 to 3650; got {days!r}.")
    return (created + timedelta(days=days)).date()


# ---- breach report ---------------------------------------------------------------------------------

OUTCOMES_QUERY = """
SELECT coalesce(outcome, 'no outcome returned') AS outcome, count(*) AS rows
FROM list_members WHERE list_id = ? GROUP BY ALL ORDER BY rows DESC, outcome
"""
KEYS_QUERY = "SELECT row_number, member_key FROM list_members WHERE list_id = ? ORDER BY row_number"
IDENTITIES_QUERY = """
SELECT lm.row_number, i.first_name, i.last_name, i.phone, i.membership_number, i.email,
       m.erased_at IS NOT NULL OR lm.member_key IS NULL AS erased
FROM list_members lm
LEFT JOIN members m ON m.member_key = lm.member_key
LEFT JOIN identities i ON i.member_key = lm.member_key AND m.erased_at IS NULL
WHERE lm.list_id = ?
ORDER BY lm.row_number
"""
ICO_NOTE = (
    "Under UK GDPR Article 33 a personal data breach must be reported to the ICO without undue "
    "delay and within 72 hours of becoming aware of it, unless it is unlikely to result in a risk "
    "to people's rights and freedoms. This list holds special-category data (party membership "
    "reveals political opinion; support needs can reveal health), so assume it must be reported."
)


@dataclass(frozen=True)
class BreachReport:
    """What a data-protection team needs when a list is lost: facts and counts, no identities by default."""

    record: ListRecord
    organisation: str
    dp_contact: str
    since: dict[str, int]  # people on the list now suppressed, by reason (opted out, erased, ...)
    outcomes: dict[str, int]  # rows by returned outcome
    past_shred_by: int  # days past shred-by (0 if not, or destroyed)
    identities: pd.DataFrame | None  # only with with_identities=True


def breach(
    con: duckdb.DuckDBPyConnection,
    list_id: str,
    *,
    actor: str,
    with_identities: bool = False,
    as_of: date | None = None,
) -> BreachReport:
    """Gather the breach report for a list, and audit that it was made ("breach_report").

    Args:
        with_identities: add who was on it (row, names, phone, membership number, email) for the
            data-protection team, who may need to tell them. Audited as such.
        as_of: the day shred-by is judged against (default today).

    Raises:
        InputError: no such list, or no actor.
    """
    from workbench.privacy import optouts
    from workbench.store import settings

    if not str(actor or "").strip():
        raise InputError("Say who is making the breach report: give --by NAME or set WORKBENCH_USER.")
    record = get(con, list_id)
    keys = con.execute(KEYS_QUERY, [record.list_id]).df()
    since = dict(optouts.suppress(con, keys, scope="all").excluded)
    if optouts.REASON_NO_KEY in since:  # member_key cleared by erasure
        since["erased"] = since.get("erased", 0) + since.pop(optouts.REASON_NO_KEY)
    outcomes = {str(k): int(v) for k, v in con.execute(OUTCOMES_QUERY, [record.list_id]).fetchall()}
    today = as_of or now().date()
    overdue = 0 if record.destroyed else max((today - record.shred_by).days, 0)
    people = con.execute(IDENTITIES_QUERY, [record.list_id]).df() if with_identities else None
    audit(
        con,
        "breach_report",
        actor=actor.strip(),
        object_id=record.list_id,
        counts={"rows": record.row_count, "with_identities": int(with_identities)},
        member_keys=keys["member_key"].dropna().tolist() if with_identities else None,
    )
    return BreachReport(
        record,
        settings.get(con, "organisation"),
        settings.get(con, "dp_contact"),
        since,
        outcomes,
        overdue,
        people,
    )


def breach_sections(report: BreachReport) -> list[tuple[str, list[str]]]:
    """The report as (heading, lines) sections, for markdown or HTML."""
    r = report.record
    status = (
        f"recorded destroyed on {r.destroyed_at:%d/%m/%Y %H:%M} by {r.destroyed_by}"
        if r.destroyed
        else "NOT recorded destroyed"
        + (f" and {report.past_shred_by} days past its shred-by date" if report.past_shred_by else "")
    )
    since = ", ".join(f"{n} {reason}" for reason, n in sorted(report.since.items())) or "none"
    outcomes = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in report.outcomes.items()) or "none"
    return [
        (
            "The list",
            [
                f"List ID: {r.list_id} ({KIND_LABELS.get(r.kind, r.kind)}, {r.format.upper()})",
                f"Purpose: {r.purpose}",
                f"Given to (recipient): {r.recipient}",
                f"Made: {r.created_at:%d/%m/%Y %H:%M} UTC by {r.created_by or 'unknown'}",
                f"Shred by: {r.shred_by:%d/%m/%Y}",
                f"Status: {status}",
            ],
        ),
        (
            "Who was on it",
            [
                f"People on the list: {r.row_count}",
                f"Since opted out, erased, deceased or moved: {since}",
                f"Outcomes returned so far: {outcomes}",
            ],
        ),
        (
            "What data it held",
            [
                *(f"- {c}" for c in r.data_categories),
                f"- (implied) membership of {report.organisation}: political opinion, special-category data",
            ],
        ),
        (
            "What to do next",
            [
                "1. Record when and how the loss was discovered, and by whom. Ask the recipient where "
                "and when it was last seen, and whether it was paper or a file "
                "(and on which device or account).",
                f"2. Tell the data-protection contact now: {report.dp_contact}.",
                f"3. {ICO_NOTE}",
                "4. If the risk to the people on it is high, they must be told without undue delay "
                "(Article 34); the data-protection team can produce the names with --with-identities.",
                "5. Record the breach in the organisation's breach log, whatever is decided about reporting.",
                "6. If the list is found, destroy it and record that: "
                f"workbench lists destroyed {r.list_id} --by NAME",
            ],
        ),
        (
            "Contact",
            [f"Organisation: {report.organisation}", f"Data-protection contact: {report.dp_contact}"],
        ),
    ]


def render_breach(report: BreachReport, fmt: str = "markdown") -> str:
    """The report as markdown or HTML; identities only when the report holds them."""
    if fmt not in ("markdown", "html"):
        raise InputError(
            f'Unsupported breach report format "{fmt}". Supported formats: markdown (.md), html (.html).'
        )
    title = f"Breach report: list {report.record.list_id}"
    sections = breach_sections(report)
    table = _identity_rows(report.identities)
    return _markdown(title, sections, table) if fmt == "markdown" else _html(title, sections, table)


def write_breach(
    con: duckdb.DuckDBPyConnection,
    list_id: str,
    path: str | Path,
    *,
    actor: str,
    with_identities: bool = False,
    fmt: str | None = None,
) -> Path:
    """Write the breach report to a file (mode 0600): audited and written as one.

    Args:
        fmt: "markdown" or "html"; default from the suffix (.md or .html).

    Raises:
        InputError: an unsupported suffix, no such list, or no actor.
    """
    from workbench import exports

    path = Path(path)
    fmt = fmt or {".md": "markdown", ".markdown": "markdown", ".html": "html"}.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"Unsupported file extension: '{path.suffix}'. Supported formats: .md, .html")
    con.execute("BEGIN TRANSACTION")
    try:
        text = render_breach(breach(con, list_id, actor=actor, with_identities=with_identities), fmt)
        exports.atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return path


IDENTITY_COLUMNS = ("Row", "First name", "Last name", "Phone", "Membership number", "Email")


def _identity_rows(people: pd.DataFrame | None) -> list[list[str]] | None:
    if people is None:
        return None
    rows = []
    for p in people.itertuples(index=False):
        if p.erased:
            rows.append([str(p.row_number), "(erased)", "", "", "", ""])
        else:
            rows.append(
                [
                    str(p.row_number),
                    *(
                        "" if pd.isna(v) else str(v)
                        for v in (p.first_name, p.last_name, p.phone, p.membership_number, p.email)
                    ),
                ]
            )
    return rows


def _markdown(title: str, sections, table) -> str:
    out = [f"# {title}", "", "CONFIDENTIAL: for the data-protection team.", ""]
    for heading, lines in sections:
        out += (
            [f"## {heading}", ""]
            + [line if line[:2] in ("- ",) or line[:1].isdigit() else f"- {line}" for line in lines]
            + [""]
        )
    if table is not None:

        def cell(text: str) -> str:
            return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

        out += [
            "## People on the list (identities: handle as special-category data)",
            "",
            "| " + " | ".join(IDENTITY_COLUMNS) + " |",
            "|" + "---|" * len(IDENTITY_COLUMNS),
        ]
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table] + [""]
    return "\n".join(out)


def _html(title: str, sections, table) -> str:
    import html

    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>", "<p><strong>CONFIDENTIAL: for the data-protection team.</strong></p>"]
    for heading, lines in sections:
        body.append(
            f"<h2>{esc(heading)}</h2><ul>"
            + "".join(f"<li>{esc(line.lstrip('- '))}</li>" for line in lines)
            + "</ul>"
        )
    if table is not None:
        head = "".join(f"<th>{esc(c)}</th>" for c in IDENTITY_COLUMNS)
        rows = "".join(
            "<tr>" + "".join(f"<td><bdi>{esc(c)}</bdi></td>" for c in row) + "</tr>" for row in table
        )
        body.append(
            "<h2>People on the list (identities: handle as special-category data)</h2>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
    style = (
        "body{font:11pt/1.4 Arial,sans-serif;max-width:190mm;margin:10mm auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #000;padding:2px 6px;text-align:left}"
        "@page{size:A4;margin:15mm}thead{display:table-header-group}tr{break-inside:avoid}"
    )
    return (
        f'<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


__all__ = [
    "BreachReport",
    "ID_PATTERN",
    "KINDS",
    "ListRecord",
    "get",
    "lists",
    "mark_destroyed",
    "new_list_id",
    "new_record",
    "now",
    "register",
    "shred_by",
    "breach",
    "breach_sections",
    "render_breach",
    "write_breach",
]
