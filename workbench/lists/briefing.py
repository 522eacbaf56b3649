"""The callers' briefing: one printable A4 sheet a volunteer takes to their first call.

Before you call: the active services in the branch's wards, by need. The call: its purpose (the
setting "call_purpose") and the steps of a good check-in. When a member asks: no more calls, how we
got their number, how to complain, with the data-protection contact. What to record: the outcome,
need and query labels exactly as `workbench import` reads them back. The list rules: report it,
shred it, secure it.

It holds no member's data (only the directory and settings), so it needs no registry entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from workbench import exports, pages
from workbench.errors import InputError
from workbench.ingest.labels import VOCABULARIES
from workbench.lists import printing
from workbench.lists.followups import CATEGORY_LABELS
from workbench.store import settings
from workbench.store.filters import check_filters, wards
from workbench.vocabulary import DP_QUERIES, NEED_CATEGORIES, OUTCOMES, URGENCIES

FORMATS = ("html", "pdf")
MAX_ROUND = 40

# What each outcome means to a caller, in the workbench's words; the label is the import's own.
OUTCOME_MEANINGS = {
    "answered": "you spoke to the member",
    "no_answer": "it rang out",
    "voicemail": "an answerphone picked up (leave no details about the member)",
    "busy": "the line was engaged",
    "wrong_number": "the number is not the member's, or does not work",
    "call_back_later": "they asked you to ring another time",
    "refused": "they did not want to talk this time",
    "do_not_call": "they asked not to be called again",
    "deceased_moved": "you were told the member has died or moved away",
}
NEED_MEANINGS = {
    "food": "food shopping, a food bank or meals",
    "medicine": "collecting prescriptions or medicines",
    "isolation": "lonely or cut off, and would like company",
    "mental_health": "finding it hard to cope, anxious or low",
    "financial": "money worries, benefits or debt",
    "housing": "rent, repairs, or fear of losing their home",
    "digital": "getting online or using a phone or computer",
    "other": "any other help",
}
URGENCY_MEANINGS = {
    "low": "help would be welcome in the next week or two",
    "medium": "help is needed within a few days",
    "high": "help is needed today or tomorrow",
}
DP_QUERY_MEANINGS = {
    "how_got_number": "they asked how we got their number",
    "complaint": "they want to complain",
    "other": "any other question about their data",
}


@dataclass(frozen=True)
class Service:
    """One service as the briefing shows it."""

    name: str
    contact: str
    areas: str


@dataclass(frozen=True)
class Briefing:
    """Everything the page shows; no member's data."""

    organisation: str
    dp_contact: str
    purpose: str
    branch: str
    wards: tuple[str, ...]
    round: str | None
    made_on: date
    services: dict[str, list[Service]]  # by need category label, in vocabulary order
    labels: dict[str, list[tuple[str, str]]]  # what to record: (label as imported, what it means)


# Only active services are offered (as analysis.services counts coverage): an Open Referral UK import
# records inactive, defunct or temporarily closed ones, which stay for history but are never signposted.
# A service with no areas covers every ward. Ward names compare without case or surrounding space, as
# the signposting gaps compare them (analysis.services): a directory's "salt hill" serves Salt Hill.
SERVICES_QUERY = """
SELECT name, category, coalesce(contact, '') AS contact, coalesce(areas, []) AS areas
FROM services
WHERE coalesce(status, 'active') = 'active'
  AND (len(coalesce(areas, [])) = 0
       OR list_has_any(list_transform(areas, a -> lower(trim(a))),
                       list_transform(?::VARCHAR[], w -> lower(trim(w)))))
ORDER BY name
"""


def active_services(con: duckdb.DuckDBPyConnection, in_wards: list[str]) -> list[tuple]:
    """Active services serving any of these wards (or everywhere): (name, category, contact, areas)."""
    return con.execute(SERVICES_QUERY, [in_wards]).fetchall()


def _grouped(rows: list[tuple]) -> dict[str, list[Service]]:
    groups: dict[str, list[Service]] = {}
    for category in (*NEED_CATEGORIES, None):
        for name, cat, contact, areas in rows:
            if cat == category or (category is None and cat not in NEED_CATEGORIES):
                label = CATEGORY_LABELS.get(cat, "Other")
                shown = ", ".join(areas) if areas else "everywhere in the area"
                groups.setdefault(label, []).append(Service(name, contact, shown))
    return groups


def _first_label(vocabulary: str, code: str) -> str:
    # The first label for a code is the one an import reads most plainly (e.g. "Call Back Later").
    return VOCABULARIES[vocabulary][code][0]


def record_labels() -> dict[str, list[tuple[str, str]]]:
    """The labels to write on a call sheet, as `workbench import` reads them back, with their meaning.

    Examples:
        >>> record_labels()["Outcome"][0]
        ('Answered', 'you spoke to the member')
    """
    return {
        "Outcome": [(_first_label("outcome", c), OUTCOME_MEANINGS[c]) for c in OUTCOMES],
        "Support needed": [(_first_label("category", c), NEED_MEANINGS[c]) for c in NEED_CATEGORIES],
        "Urgency": [(_first_label("urgency", c), URGENCY_MEANINGS[c]) for c in URGENCIES],
        "Data-protection query": [(_first_label("dp_query", c), DP_QUERY_MEANINGS[c]) for c in DP_QUERIES],
    }


def briefing(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str,
    ward: str | None = None,
    round: str | None = None,  # noqa: A002 - the calling round, as the CLI names it
    made_on: date | None = None,
) -> Briefing:
    """Gather the briefing for the callers of one branch (or one of its wards).

    Raises:
        InputError: no branch, an unknown branch or ward, a ward outside the branch, or a round name
            too long to print.
    """
    if not str(branch or "").strip():
        raise InputError("A briefing is made for one branch: give --branch NAME.")
    check_filters(con, branch=branch, ward=ward)
    in_branch = wards(con, branch)
    if ward is not None and ward not in in_branch:
        raise InputError(
            f'Ward "{ward}" is not in branch {branch}. Its wards are: {", ".join(in_branch) or "none"}.'
        )
    if round is not None and not (0 < len(round.strip()) <= MAX_ROUND):
        raise InputError(f"--round must be a name of 1 to {MAX_ROUND} characters, e.g. \"round 3\".")
    chosen = [ward] if ward else in_branch
    return Briefing(
        organisation=settings.get(con, "organisation"),
        dp_contact=settings.get(con, "dp_contact"),
        purpose=settings.get(con, "call_purpose").strip().rstrip("."),  # the page adds its own full stop
        branch=branch,
        wards=tuple(chosen),
        round=round.strip() if round else None,
        made_on=made_on or date.today(),
        services=_grouped(active_services(con, chosen)),
        labels=record_labels(),
    )


def render_briefing(brief: Briefing) -> str:
    """The briefing as a print-ready A4 HTML page (templates/briefing.html, autoescaped)."""
    return pages.render("briefing.html", brief=brief, title=f"Callers' briefing: {brief.branch}")


def write_briefing(
    con: duckdb.DuckDBPyConnection,
    out: str | Path,
    *,
    branch: str,
    ward: str | None = None,
    round: str | None = None,  # noqa: A002
    fmt: str | None = None,
) -> Path:
    """Write the briefing as HTML or PDF (A4). No registry entry: it holds no member's data.

    Args:
        fmt: "html" or "pdf"; default from the suffix of `out`.

    Raises:
        InputError: a bad argument or an unsupported format; PrintError: PDF without Chromium.

    Examples:
        >>> write_briefing(con, "briefing.pdf", branch="Ashcombe", round="round 3")  # doctest: +SKIP
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS or out.suffix.lower() != f".{fmt}":
        raise InputError(
            f"Unsupported briefing format for {out.name}. Supported formats: .html, .pdf "
            "(give --format and an --out path ending in it)."
        )
    if out.exists():
        raise InputError(f"{out} already exists. Choose another --out path (files are never overwritten).")
    page = render_briefing(briefing(con, branch=branch, ward=ward, round=round))
    if fmt == "html":
        return exports.write_text(out, page)
    data = printing.print_pdf(page, then=lambda pdf: pdf.read_bytes())
    return exports.write_bytes(out, data)


__all__ = ["Briefing", "Service", "active_services", "briefing", "record_labels", "render_briefing",
           "write_briefing"]
