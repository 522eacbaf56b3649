"""Match an export's column headers to the fields the workbench knows, by meaning.

Headers compare in a normalised form (lower case, letters and digits only), so "Membership No.",
"membership_number" and "MEMBERSHIP NUMBER" are all the same; beyond that each header is scored
against every field's synonyms with rapidfuzz (word order, punctuation and small typos aside), so
"Date Called", "Call date/time" and "When called" all find the call time. A format profile adds
its own header names. A small TOML mapping file handles anything else:

    [columns]
    membership_number = "Member Ref"
    called_at = "When"

    [outcomes]              # your outcome labels
    "Spoke - all fine" = "answered"

    [answers.need_categories]   # a survey question's answers
    "Yes - medicine" = "medicine"

    [categories]            # Open Referral UK taxonomy terms
    "Community hubs" = "isolation"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

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
    "nationbuilder_id": ("nationbuilder id", "nb id", "nationbuilder person id"),
    "van_id": ("vanid", "van id", "voter file vanid", "voter file van id", "my campaign id"),
    "external_id": ("external id", "external ref", "external reference"),
    "do_not_call": ("do not call", "dnc", "opted out", "opt out", "no calls"),
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
        "date called",
        "call date time",
        "when called",
        "date contacted",
    ),
    "call_time": ("time", "time of call", "time called", "call time", "contact time"),
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
    "status": ("status", "service status", "open or closed"),
}

CALL_AND_MEMBER_FIELDS = {**CALL_FIELDS, **MEMBER_FIELDS}

KINDS: dict[str, dict[str, tuple[str, ...]]] = {
    "members": MEMBER_FIELDS,
    "calls": CALL_AND_MEMBER_FIELDS,
    "services": SERVICE_FIELDS,
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "members": ("membership_number",),
    # Who the call was to is checked separately: a membership number, another id, or phone + first name.
    "calls": ("called_at", "outcome"),
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


ALIASES = ("nationbuilder_id", "van_id", "external_id")  # other ids a member may be known by

# A header that scores at least ACCEPT against one of a field's names is taken for it; one that
# scores at least WEAK is only mentioned (a warning, or the hint when a required column is missing).
ACCEPT, WEAK = 88.0, 70.0
# Two headers closer than this for one field, neither an exact name: ask, rather than guess.
TIE = 2.0
# Fields whose values tell two competing columns apart, and the vocabulary they must hold.
VALUE_KINDS = {"needs_support": "yes_no", "keen_to_volunteer": "yes_no", "need_categories": "category"}


@dataclass(frozen=True)
class HeaderMatch:
    """Which file column feeds which field, how well it matched, and which columns were not used."""

    columns: dict[str, str]  # field -> the file's own header
    extra: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)  # field -> 0..100 (100: an exact name)
    weak: list[str] = field(default_factory=list)  # notes on near misses, for warnings


def words(header: str) -> str:
    """A header as lower-case words: camelCase, brackets and punctuation split.

    Examples:
        >>> words("contact[firstName]"), words("Contact Sucessful ")
        ('contact first name', 'contact sucessful')
    """
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(header))
    return " ".join(re.findall(r"[0-9a-z]+", text.lower()))


def score(header: str, name: str) -> float:
    """How well a header matches one of a field's names, 0 to 100, by meaning rather than spelling.

    Equal normalised forms score 100. Otherwise rapidfuzz's token-sort ratio, which ignores word
    order and forgives a typo ("Contact Sucessful"); a header that holds the whole of a name of two
    or more words ("contact[firstName]" holds "first name") scores at least 92.
    """
    if normalise(header) == normalise(name):
        return 100.0
    text, wanted = words(header), words(name)
    ratio = fuzz.token_sort_ratio(text, wanted)
    tokens, wanted_tokens = set(text.split()), set(wanted.split())
    if len(wanted_tokens) >= 2 and wanted_tokens <= tokens:
        ratio = max(ratio, 92.0)
    return float(ratio)


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
    unknown = sorted(set(data) - {"columns", "outcomes", "answers", "categories"})
    if unknown:
        raise InputError(
            f"{path.name}: unknown section [{unknown[0]}]; a mapping file has [columns] "
            '(field = "your header") and optionally [outcomes] ("your label" = "outcome") '
            'and [answers.FIELD] ("their answer" = "value").'
        )
    return data


def match(
    kind: str,
    headers: list[str],
    mapping: dict | None = None,
    file_name: str = "the file",
    *,
    names: dict[str, tuple[str, ...]] | None = None,
    fit: Callable[[str, str], float] | None = None,
    optional: tuple[str, ...] = (),
) -> HeaderMatch:
    """Map the file's headers onto `kind`'s fields by meaning; check the required ones are there.

    Every (field, header) pair is scored (see `score`); the best pairs are taken first. A field
    whose values can tell columns apart (yes/no, need categories) weighs each candidate by how
    well its values fit, so "Needs Support?" holding Y/N and "Support Needed" holding
    "Food; Medicine" go to needs_support and need_categories respectively.

    Args:
        kind: members | calls | services.
        headers: the file's column headers, in order.
        mapping: a loaded mapping (see `load_mapping`); its [columns] win over everything.
        file_name: used in error messages.
        names: a format profile's own header names per field, tried before the synonyms.
        fit: fit(header, vocabulary) -> share (0..1) of the column's values in that vocabulary.
        optional: required fields the file may lack this time (the date, when --date gives it).

    Returns:
        A HeaderMatch with field -> header, scores, near misses and the headers nothing used.

    Raises:
        InputError: a required column is missing (naming expected, found and the closest
        candidates), two columns match one field equally well, or the mapping names a field or
        header that does not exist.
    """
    fields = KINDS[kind]
    chosen = _mapped(kind, headers, (mapping or {}).get("columns", {}), file_name)
    chosen.update(_profile_named({k: v for k, v in (names or {}).items() if k in fields}, headers, chosen))
    scores = dict.fromkeys(chosen, 100.0)
    pairs = _scored_pairs(fields, headers, names or {}, fit)
    taken = set(chosen.values())
    for adjusted, _order, name, header, raw in pairs:
        if adjusted < ACCEPT or name in chosen or header in taken:
            continue
        _refuse_tie(name, header, raw, adjusted, pairs, taken, file_name)
        chosen[name], scores[name] = header, raw
        taken.add(header)
    _check_required(kind, headers, chosen, file_name, optional)
    weak = [
        f'"{header}" looks a little like {_label(name)} (score {adjusted:.0f}) but was not used; '
        f'if it is, map it with --mapping ([columns] {name} = "{header}")'
        for adjusted, _o, name, header, _r in pairs
        if WEAK <= adjusted < ACCEPT and name not in chosen and header not in taken
    ]
    return HeaderMatch(chosen, [h for h in headers if h not in taken], scores, _first_per_header(weak))


def _profile_named(profile_names: dict, headers: list[str], chosen: dict[str, str]) -> dict[str, str]:
    """Fields whose header is, exactly, the one the format profile names for them. These win over a
    synonym's equal score: NationBuilder's contact log names the person by "person_id", which is also
    a synonym of the membership number, and its calls all went to new, empty members."""
    found: dict[str, str] = {}
    taken = set(chosen.values())
    for name, candidates in profile_names.items():
        if name in chosen:
            continue
        wanted = {normalise(c) for c in candidates}
        header = next((h for h in headers if normalise(h) in wanted and h not in taken), None)
        if header is not None:
            found[name] = header
            taken.add(header)
    return found


def _scored_pairs(fields, headers, profile_names, fit) -> list[tuple[float, int, str, str, float]]:
    # (adjusted score, field order, field, header, raw score), best first. Per column, not per row.
    pairs = []
    for order, (name, synonyms) in enumerate(fields.items()):
        candidates = (*profile_names.get(name, ()), name, *synonyms)
        for header in headers:
            raw = max(score(header, c) for c in candidates)
            if raw < WEAK:
                continue
            pairs.append((_weighed(raw, name, header, fit), order, name, header, raw))
    pairs.sort(key=lambda p: (-p[0], p[1], headers.index(p[3])))
    return pairs


def _weighed(raw: float, name: str, header: str, fit) -> float:
    # Only a column whose values clearly are one of the value kinds (yes/no, need categories) is
    # weighed; then a field of another kind drops below ACCEPT. A column that fits neither (a typo'd
    # Y/N, say) keeps its header's score, so its bad cells become row problems, not a dropped column.
    if fit is None or name not in VALUE_KINDS:
        return raw
    fits = {kind: fit(header, kind) for kind in set(VALUE_KINDS.values())}
    if max(fits.values()) < 0.5:
        return raw
    return raw * (0.5 + 0.5 * fits[VALUE_KINDS[name]])


def _refuse_tie(name, header, raw, adjusted, pairs, taken, file_name) -> None:
    if raw >= 100.0:
        return
    rivals = [(h, a) for a, _o, n, h, _r in pairs if n == name and h != header and h not in taken
              and a >= ACCEPT and adjusted - a < TIE]
    if rivals:
        raise InputError(
            f'{file_name}: both "{header}" and "{rivals[0][0]}" could be {_label(name)} (scores '
            f"{adjusted:.0f} and {rivals[0][1]:.0f}); the workbench will not guess. Say which with --mapping "
            f'([columns] {name} = "{header}").'
        )


def _first_per_header(notes: list[str]) -> list[str]:
    seen, kept = set(), []
    for note in notes:
        header = note.split('"')[1]
        if header not in seen:
            seen.add(header)
            kept.append(note)
    return kept


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
                f"Columns found: {shown_headers(headers)}."
            )
        chosen[name] = found[0]
    return chosen


def _check_required(
    kind: str, headers: list[str], chosen: dict[str, str], file_name: str, optional: tuple[str, ...] = ()
) -> None:
    missing = [name for name in REQUIRED[kind] if name not in chosen and name not in optional]
    if not missing:
        return
    expected = ", ".join(_label(n) for n in REQUIRED[kind])
    if looks_like_data(headers):
        raise InputError(f"{file_name}: {HEADERLESS} Expected at least: {expected}.")
    name = missing[0]
    names = (name, *KINDS[kind][name])
    close = sorted(
        ((max(score(h, n) for n in names), h) for h in headers if h not in chosen.values()), reverse=True
    )
    close = [(s, h) for s, h in close[:3] if s >= 50]
    hint = (
        " Closest: " + ", ".join(f'"{h}" ({s:.0f})' for s, h in close)
        + f'. If one of those is it, map it with --mapping ([columns] {name} = "{close[0][1]}").'
        if close
        else f' Add the column, or map yours with --mapping ([columns] {name} = "Your Header").'
    )
    if name == "called_at":  # a texting tool's export (Spoke's) may carry no date at all
        hint += " If the file has no date at all, give the day the calls were made with --date dd/mm/yyyy."
    guess = guess_kind(headers)
    also = (
        f" This looks like a {guess} file: try `workbench import {guess} {file_name}`."
        if guess and guess != kind
        else ""
    )
    raise InputError(
        f"{file_name}: no column for {_label(name)} (required). Expected: {expected}. "
        f"Found: {shown_headers(headers)}.{hint}{also}"
    )


def closest_field(header: str) -> tuple[float, str]:
    """The field of any kind a header comes closest to naming, with its `score`.

    Examples:
        >>> closest_field("Membership No.")
        (100.0, 'membership_number')
    """
    return max(((max(score(header, n) for n in (name, *names)), name)
                for fields in KINDS.values() for name, names in fields.items()), default=(0.0, ""))


def _known_like(header: str) -> bool:
    return closest_field(header)[0] >= WEAK


def shown_headers(headers: list[str]) -> str:
    """The header cells a message may repeat: those named like a column the workbench knows.

    Any other cell may be a person's details: a notes tab or a title read as the header row holds
    sentences such as a name and a need. Those are counted, never repeated; and when none of the
    cells is a column name, the message says where the names may be instead.

    Examples:
        >>> shown_headers(["Phone", "Mrs Leach needs her prescription collected"])
        'Phone (and 1 cell more, not repeated: not named like a column the workbench knows)'
    """
    if not headers:
        return "(no columns)"
    known = [str(h) for h in headers if _known_like(h)]
    hidden = len(headers) - len(known)
    cells = f"{hidden} cell{'s' if hidden != 1 else ''}"
    if not known:
        return (f"{cells}, none named like a column the workbench knows, so not repeated (the column "
                "names may be lower down: delete the rows above them; or on another sheet: choose it "
                "with --sheet NAME)")
    more = f" (and {cells} more, not repeated: not named like a column the workbench knows)" if hidden else ""
    return ", ".join(known) + more


# A first row holding what only data holds: a run of digits (a phone, a membership or id number, a
# date), an email address or a postcode. Such a "header" is a person's row, and must not be repeated.
DATA_LIKE = re.compile(r"\d{4}|\d[\s/.-]\d|@|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
HEADERLESS = ("the first row looks like a person's details, not column names (it holds numbers, dates, "
              "postcodes or email addresses), so it is not repeated here. Add a header row naming each "
              "column, or check the right file was chosen. Nothing was imported.")


def looks_like_data(headers: list[str]) -> bool:
    """True when the 'headers' are a row of data: a file saved without its header row."""
    return any(DATA_LIKE.search(str(h)) for h in headers)


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
