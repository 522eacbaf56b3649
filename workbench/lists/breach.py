"""Report it: what a data-protection team needs when a list is lost or stolen.

Facts and counts about the list (purpose, recipient, shred-by, what it held, who has since opted
out or been erased), the ICO's 72-hour rule, and what to do next. Names only with
`with_identities`, for the team that may have to tell the people on it. The report is written from
templates/breach.md or templates/breach.html; both escape what the list's record holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from workbench import exports, pages
from workbench.errors import InputError
from workbench.lists.protection import Protection
from workbench.lists.registry import KIND_LABELS, ListRecord, get, now
from workbench.privacy import optouts
from workbench.store import settings
from workbench.store.audit import audit
from workbench.store.state import transaction

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

# The rule for telling people, as written in UK GDPR Article 34(3)(a), which the ICO's guidance on
# personal data breaches applies. Quoted, not judged: the decision stays with the data-protection lead.
ARTICLE_34_3_A = (
    "the controller has implemented appropriate technical and organisational protection measures, and "
    "those measures were applied to the personal data affected by the personal data breach, in "
    "particular those that render the personal data unintelligible to any person who is not authorised "
    "to access it, such as encryption"
)
ENCRYPTED_CONSEQUENCE = (
    "What this means: the ICO's guidance on personal data breaches says the people affected need not "
    "be told of a breach (UK GDPR Article 34(3)(a)) where \"" + ARTICLE_34_3_A + "\". A lost list "
    "encrypted with AES-256 whose passphrase travelled separately is therefore a much lower risk to "
    "the people on it, and may be a reason they need not be told. That is the rule, not a verdict: "
    "the decision, and whether the ICO must still be told (Article 33), stays with the data-protection lead."
)
ENCRYPTED_CHECKS = (
    "Check before relying on it: did the passphrase travel with the file (the same email, a note with "
    "the memory stick, written on a printout)? Was the list printed, or saved unencrypted, anywhere? "
    "A paper copy or a decrypted copy is not protected."
)
UNENCRYPTED_CONSEQUENCE = (
    "What this means: anyone who has the file or a printout can read every name, phone number and need "
    "on it. The exception for data made unintelligible by encryption (UK GDPR Article 34(3)(a)) cannot "
    "be relied on; judge the risk as for readable special-category data."
)
NOT_RECORDED = (
    "Protection: not recorded (the list was made before the workbench recorded it). Treat it as not "
    "encrypted unless the recipient can show otherwise."
)


def protection_lines(protection: Protection | None) -> list[str]:
    """What the breach report says about how the list was protected, and what follows from it."""
    if protection is None:
        return [NOT_RECORDED, UNENCRYPTED_CONSEQUENCE]
    if not protection.protected:
        return [f"Protection: {protection.describe()}", UNENCRYPTED_CONSEQUENCE]
    return [
        f"Protection: {protection.describe()}",
        "The passphrase was made for this list, shown once to the person who made it and never stored "
        "by the workbench; they were told to send it by a different channel from the file.",
        ENCRYPTED_CONSEQUENCE,
        ENCRYPTED_CHECKS,
    ]


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
        ("How the list was protected", protection_lines(r.protection)),
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


FORMATS = {"markdown": "breach.md", "html": "breach.html"}
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html"}


def render_breach(report: BreachReport, fmt: str = "markdown") -> str:
    """The report as Markdown or HTML; identities only when the report holds them."""
    if fmt not in FORMATS:
        raise InputError(
            f'Unsupported breach report format "{fmt}". Supported formats: markdown (.md), html (.html).'
        )
    return pages.render(FORMATS[fmt], title=f"Breach report: list {report.record.list_id}",
                        sections=breach_sections(report), identity_columns=IDENTITY_COLUMNS,
                        people=_identity_rows(report.identities))


def write_breach(
    con: duckdb.DuckDBPyConnection,
    list_id: str,
    path: str | Path,
    *,
    actor: str,
    with_identities: bool = False,
    fmt: str | None = None,
    force: bool = False,
) -> Path:
    """Write the breach report to a file (mode 0600): audited and written as one.

    Args:
        fmt: "markdown" or "html"; default from the suffix (.md or .html).
        force: replace a file (or symlink) already at `path`; without it that is refused.

    Raises:
        InputError: an unsupported suffix, no such list, no actor, or a file already at `path`.
    """
    path = Path(path)
    fmt = fmt or SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"Unsupported file extension: '{path.suffix}'. Supported formats: .md, .html")
    with transaction(con):
        text = render_breach(breach(con, list_id, actor=actor, with_identities=with_identities), fmt)
        exports.write_text(path, text, force=force)
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
            values = (p.first_name, p.last_name, p.phone, p.membership_number, p.email)
            rows.append([str(p.row_number), *("" if pd.isna(v) else str(v) for v in values)])
    return rows


__all__ = ["BreachReport", "breach", "breach_sections", "protection_lines", "render_breach", "write_breach"]
