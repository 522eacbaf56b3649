"""Subject access (UK GDPR Art. 15): everything held about one person, as JSON and as a readable page.

It covers identity, every call with its notes, needs, skills, services referenced, follow-ups,
opt-outs, data-protection queries, and which lists they appeared on and when. The files get mode
0600 and the request is audited (by member_key digest and counts, never by name).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from workbench import exports, pages
from workbench.errors import InputError
from workbench.privacy import optouts, subjects
from workbench.store import settings
from workbench.store.audit import audit
from workbench.store.state import transaction

IDENTITY_QUERY = """
SELECT i.membership_number, i.first_name, i.last_name, i.phone, i.email, i.address,
       i.nationbuilder_id, i.van_id, i.external_id,
       m.branch, m.ward, m.postcode, m.age, m.joined_on, m.created_at AS first_recorded, m.erased_at
FROM members m LEFT JOIN identities i ON i.member_key = m.member_key
WHERE m.member_key = ?
"""
CALLS_QUERY = """
SELECT call_id, round, caller, called_at, outcome, wellbeing, needs_support, urgency, keen_to_volunteer,
       dp_query, notes
FROM calls WHERE member_key = ? ORDER BY called_at
"""
NEEDS_QUERY = """
SELECT n.call_id, n.category FROM call_needs n JOIN calls c USING (call_id)
WHERE c.member_key = ? ORDER BY n.call_id, n.category
"""
SKILLS_QUERY = """
SELECT s.call_id, s.skill FROM call_skills s JOIN calls c USING (call_id)
WHERE c.member_key = ? ORDER BY s.call_id, s.skill
"""
SERVICES_QUERY = """
SELECT cs.call_id, coalesce(sv.name, cs.raw_name) AS service, sv.category, sv.contact
FROM call_services cs JOIN calls c USING (call_id) LEFT JOIN services sv USING (service_id)
WHERE c.member_key = ? ORDER BY cs.call_id, service
"""
FOLLOWUPS_QUERY = """
SELECT call_id, state, opened_at, updated_at, assigned_to, resolved_at FROM followups WHERE member_key = ?
"""
FOLLOWUP_EVENTS_QUERY = """
SELECT changed_at, state, changed_by, list_id FROM followup_events WHERE member_key = ? ORDER BY changed_at
"""
# Each list the person was on, with what the branch sent back about them (Article 15 covers it).
LISTS_QUERY = """
SELECT l.list_id, l.kind, l.purpose, l.recipient, l.created_at, l.shred_by, l.destroyed_at, lm.row_number,
       lm.outcome AS return_outcome, lm.called_on AS return_called_on, lm.returned_at
FROM list_members lm JOIN lists l USING (list_id)
WHERE lm.member_key = ? ORDER BY l.created_at
"""
DP_QUERIES_QUERY = """
SELECT c.call_id, c.dp_query, coalesce(q.status, 'open') AS status, q.updated_at
FROM calls c LEFT JOIN dp_queries q USING (call_id)
WHERE c.member_key = ? AND c.dp_query IS NOT NULL ORDER BY c.called_at
"""
SECTIONS = {
    "calls": CALLS_QUERY, "needs": NEEDS_QUERY, "skills": SKILLS_QUERY, "services_referenced": SERVICES_QUERY,
    "followups": FOLLOWUPS_QUERY, "followup_history": FOLLOWUP_EVENTS_QUERY, "lists": LISTS_QUERY,
    "data_protection_queries": DP_QUERIES_QUERY,
}


@dataclass(frozen=True)
class SubjectAccess:
    """Where the two files went, and how many records of each kind they hold."""

    json_path: Path
    html_path: Path
    counts: dict[str, int]


def collect(con: duckdb.DuckDBPyConnection, person: subjects.Subject) -> dict:
    """Everything held about one person, as plain JSON-able data.

    Returns:
        {"member_key", "generated_at", "data_protection_contact", "identity", "calls", "needs", ...}.
    """
    identity = con.execute(IDENTITY_QUERY, [person.member_key]).df()
    report = {"member_key": person.member_key,
              "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "data_protection_contact": settings.get(con, "dp_contact"),
              "identity": _records(identity)[0] if len(identity) else None}
    for name, query in SECTIONS.items():
        report[name] = _records(con.execute(query, [person.member_key]).df())
    report["opt_outs"] = _records(optouts.entries_for(con, person))
    return report


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def export(con: duckdb.DuckDBPyConnection, out: str | Path, *, actor: str,
           membership_number: str | None = None, phone: str | None = None,
           force: bool = False) -> SubjectAccess:
    """Write everything held about one person to OUT.json and OUT.html (mode 0600), and audit it.

    Args:
        out: a path; its suffix is replaced by .json and .html.
        membership_number, phone: exactly one; a phone shared by several members is refused.
        force: replace existing files (or symlinks) at OUT.json and OUT.html.

    Raises:
        InputError: unknown member, malformed or shared phone, the output folder is missing, or a
            file is already there (without force).
    """
    if membership_number and phone:
        raise InputError("Name the member one way: --membership-number or --phone, not both.")
    person = subjects.find(con, membership_number=membership_number, phone=phone)
    report = collect(con, person)
    json_path, html_path = _paths(Path(out))
    for path in (json_path, html_path):
        exports.check_target(path, force)  # both, before either is written
    # The one safe writer: a new 0600 file, never through a symlink, never over a file unless forced.
    exports.write_text(json_path, json.dumps(report, indent=2, ensure_ascii=False, default=str), force=force)
    exports.write_text(html_path, render_html(report), force=force)
    counts = {name: len(report[name]) for name in [*SECTIONS, "opt_outs"]}
    with transaction(con):
        audit(con, "subject_access", actor=actor, object_id=person.member_key, counts=counts,
              member_keys=[person.member_key])
    return SubjectAccess(json_path, html_path, counts)


def _paths(out: Path) -> tuple[Path, Path]:
    if not out.parent.exists():
        raise InputError(f"The folder {out.parent} does not exist; create it or choose another --out.")
    base = out.with_suffix("") if out.suffix.lower() in (".json", ".html", ".htm") else out
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".html")


def render_html(report: dict) -> str:
    """A plain, printable page (templates/sar.html); every value is escaped: a note cannot inject markup."""
    identity = report["identity"] or {}
    sections = [("Identity", [{"field": k, "value": v} for k, v in identity.items()])]
    sections += [(name.replace("_", " ").capitalize(), report[name]) for name in [*SECTIONS, "opt_outs"]]
    return pages.render("sar.html", generated_at=report["generated_at"],
                        contact=report["data_protection_contact"], sections=sections)


__all__ = ["SubjectAccess", "collect", "export", "render_html"]
