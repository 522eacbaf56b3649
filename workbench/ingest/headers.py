"""Match an export's column headers to the fields the workbench knows, whatever they are called.

Headers compare in a normalised form (lower case, letters and digits only), so "Membership No.",
"membership_number" and "MEMBERSHIP NUMBER" are all the same. Each field has the synonyms real
exports use; a small TOML mapping file handles anything else:

    [columns]
    membership_number = "Member Ref"
    called_at = "When"
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import InputError

# Member columns: a member list holds them, and a call export may carry them too.
MEMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "membership_number": (
        "membership number",
        "membership no",
        "membership id",
        "member number",
        "member no",
        "member id",
        "membership",
        "member ref",
        "member reference",
        "membership ref",
        "person id",
    ),
    "first_name": ("first name", "firstname", "forename", "forenames", "given name", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "full_name": ("name", "full name", "member name", "fullname"),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "telephone number",
        "tel",
        "mobile",
        "mobile number",
        "mobile phone",
        "landline",
        "contact number",
        "number to call",
    ),
    "email": ("email", "e mail", "email address", "e mail address"),
    "address": ("address", "address line 1", "street address", "address 1", "home address"),
    "postcode": ("postcode", "post code", "postal code", "zip"),
    "ward": ("ward", "ward name", "electoral ward"),
    "branch": ("branch", "branch name", "clp branch", "local branch"),
    "age": ("age", "age years", "age in years"),
    "joined_on": (
        "joined",
        "joined on",
        "join date",
        "date joined",
        "joined date",
        "membership start",
        "start date",
    ),
}

CALL_FIELDS: dict[str, tuple[str, ...]] = {
    "call_id": ("call id", "call ref", "call reference", "callid", "attempt id", "id"),
    "round": ("round", "calling round", "campaign", "call round", "wave"),
    "caller": ("caller", "caller id", "volunteer", "called by", "agent"),
    "called_at": (
        "date",
        "date time",
        "datetime",
        "called at",
        "call date",
        "date of call",
        "call time",
        "when",
        "timestamp",
        "called on",
    ),
    "outcome": ("outcome", "call outcome", "result", "call result", "status", "disposition"),
    "wellbeing": ("wellbeing", "well being", "wellbeing score", "how are they"),
    "needs_support": ("needs support", "needs support y n", "support needed", "need support", "needs help"),
    "need_categories": (
        "need categories",
        "need category",
        "needs",
        "support categories",
        "support type",
        "support needs",
    ),
    "urgency": ("urgency", "priority"),
    "keen_to_volunteer": (
        "keen to volunteer",
        "keen to help",
        "volunteer y n",
        "wants to volunteer",
        "keen to support others",
    ),
    "skills": ("skills", "volunteer skills", "can help with"),
    "services_referenced": (
        "services referenced",
        "services",
        "signposted to",
        "referred to",
        "services signposted",
        "signposting",
    ),
    "dp_query": ("dp query", "data protection query", "data protection", "dp question"),
    "notes": ("notes", "note", "comments", "comment", "call notes"),
}

SERVICE_FIELDS: dict[str, tuple[str, ...]] = {
    "service_id": ("service id", "id", "service ref"),
    "name": ("name", "service name", "service", "organisation", "organization", "organisation name"),
    "category": ("category", "type", "service type", "taxonomy"),
    "areas": ("areas served", "areas", "area", "wards", "wards served", "service area", "coverage"),
    "contact": ("contact", "contact details", "phone", "email", "website", "url"),
    "aliases": ("aliases", "alias", "also known as", "other names", "alternate name", "alternate names"),
}

CALL_AND_MEMBER_FIELDS = {**CALL_FIELDS, **MEMBER_FIELDS}

KINDS: dict[str, dict[str, tuple[str, ...]]] = {
    "members": MEMBER_FIELDS,
    "calls": CALL_AND_MEMBER_FIELDS,
    "services": SERVICE_FIELDS,
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "members": ("membership_number",),
    "calls": ("membership_number", "round", "called_at", "outcome"),
    "services": ("name",),
}

# What gives a file away as one kind or another, for "did you mean workbench import calls?".
TELLTALES: dict[str, tuple[str, ...]] = {
    "calls": ("outcome", "called_at"),
    "members": ("membership_number", "postcode"),
    "services": ("name", "category", "areas"),
}


def normalise(header: str) -> str:
    """A header's comparable form: lower case, letters and digits only.

    Examples:
        >>> normalise(" Membership No. ")
        'membershipno'
    """
    return re.sub(r"[^0-9a-z]+", "", str(header).lower())


@dataclass(frozen=True)
class HeaderMatch:
    """Which file column feeds which field, and which columns were not used."""

    columns: dict[str, str]  # field -> the file's own header
    extra: list[str] = field(default_factory=list)


def load_mapping(path: str | Path | None) -> dict:
    """Read a TOML mapping file: `[columns]` field = "header", `[outcomes]` "label" = "outcome".

    Raises:
        InputError: the file is missing, is not TOML, or names an unknown section.
    """
    if path is None:
        return {}
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as error:
        raise InputError(f"Cannot read the mapping file {path}: {error.strerror}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(
            f"{path.name} is not a valid TOML mapping file ({error}). Write it like:\n"
            '[columns]\nmembership_number = "Member Ref"'
        ) from None
    unknown = sorted(set(data) - {"columns", "outcomes"})
    if unknown:
        raise InputError(
            f"{path.name}: unknown section [{unknown[0]}]; a mapping file has [columns] "
            '(field = "your header") and optionally [outcomes] ("your label" = "outcome").'
        )
    return data


def match(
    kind: str, headers: list[str], mapping: dict | None = None, file_name: str = "the file"
) -> HeaderMatch:
    """Map the file's headers onto `kind`'s fields; check the required ones are there.

    Args:
        kind: members | calls | services.
        headers: the file's column headers, in order.
        mapping: a loaded mapping (see `load_mapping`); its [columns] win over synonyms.
        file_name: used in error messages.

    Returns:
        A HeaderMatch with field -> header, and the headers nothing used.

    Raises:
        InputError: a required column is missing (naming expected, found and the closest match),
        the mapping names a field or header that does not exist, or two columns claim one field.
    """
    fields = KINDS[kind]
    chosen = _mapped(kind, headers, (mapping or {}).get("columns", {}), file_name)
    by_form = {normalise(h): h for h in reversed(headers)}
    for name, synonyms in fields.items():
        if name in chosen:
            continue
        for form in (normalise(name), *(normalise(s) for s in synonyms)):
            header = by_form.get(form)
            if header is not None and header not in chosen.values():
                chosen[name] = header
                break
    _check_required(kind, headers, chosen, file_name)
    used = set(chosen.values())
    return HeaderMatch(columns=chosen, extra=[h for h in headers if h not in used])


def _mapped(kind: str, headers: list[str], columns: dict, file_name: str) -> dict[str, str]:
    fields = KINDS[kind]
    chosen: dict[str, str] = {}
    for name, header in columns.items():
        if name not in fields:
            raise InputError(f'Mapping: "{name}" is not a {kind} field. Fields: {", ".join(fields)}.')
        found = [h for h in headers if h == header] or [
            h for h in headers if normalise(h) == normalise(header)
        ]
        if not found:
            raise InputError(
                f'Mapping: {file_name} has no column "{header}" (for {name}). '
                f"Columns found: {', '.join(headers)}."
            )
        chosen[name] = found[0]
    return chosen


def _check_required(kind: str, headers: list[str], chosen: dict[str, str], file_name: str) -> None:
    missing = [name for name in REQUIRED[kind] if name not in chosen]
    if not missing:
        return
    name = missing[0]
    forms = {normalise(h): h for h in headers}
    candidates = [normalise(name), *(normalise(s) for s in KINDS[kind][name])]
    close = [forms[m] for c in candidates for m in difflib.get_close_matches(c, forms, n=1, cutoff=0.6)]
    hint = (
        f' The closest is "{close[0]}": if that is it, map it with --mapping '
        f'([columns] {name} = "{close[0]}").'
        if close
        else f' Add the column, or map yours with --mapping ([columns] {name} = "Your Header").'
    )
    guess = guess_kind(headers)
    also = (
        f" This looks like a {guess} file: try `workbench import {guess} {file_name}`."
        if guess and guess != kind
        else ""
    )
    expected = ", ".join(_label(n) for n in REQUIRED[kind])
    raise InputError(
        f"{file_name}: no column for {_label(name)} (required). Expected: {expected}. "
        f"Found: {', '.join(headers) or '(no columns)'}.{hint}{also}"
    )


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize().replace("Called at", "Date")


def guess_kind(headers: list[str]) -> str | None:
    """Which kind of export these headers look like, or None when nothing is clear."""
    forms = {normalise(h) for h in headers}
    scores = {}
    for kind, telltales in TELLTALES.items():
        fields = KINDS[kind]
        scores[kind] = sum(any(normalise(s) in forms for s in (name, *fields[name])) for name in telltales)
    best = max(scores, key=scores.get)
    return best if scores[best] == len(TELLTALES[best]) else None
