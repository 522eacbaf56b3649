"""The labels real exports use, mapped onto the workbench's fixed vocabularies.

Labels compare in the same normalised form as headers (lower case, letters and digits only), so
"Do Not Call", "do-not-call" and "DNC" all land on `do_not_call`. A mapping file's [outcomes]
section adds an organisation's own labels.
"""

from __future__ import annotations

import re

import pandas as pd
from rapidfuzz import fuzz

from workbench.errors import InputError
from workbench.ingest.headers import normalise

# Re-exported for modules that still import the vocabularies from here; new code imports vocabulary.
from workbench.vocabulary import DP_QUERIES as DP_QUERIES
from workbench.vocabulary import NEED_CATEGORIES as NEED_CATEGORIES
from workbench.vocabulary import OUTCOMES as OUTCOMES
from workbench.vocabulary import URGENCIES as URGENCIES

_OUTCOME_LABELS = {
    "answered": (
        "Answered",
        "Answer",
        "Spoke",
        "Spoke to member",
        "Contacted",
        "Connected",
        "Completed",
        "Yes",
    ),
    "no_answer": ("No Answer", "No reply", "Not answered", "Unanswered", "NA", "No response", "Rang out"),
    "voicemail": (
        "Voicemail",
        "Answerphone",
        "Answer phone",
        "Answering machine",
        "VM",
        "Left message",
        "Left voicemail",
    ),
    "busy": ("Busy", "Engaged", "Line busy"),
    "wrong_number": (
        "Wrong Number",
        "Wrong No",
        "Wrong",
        "Number not recognised",
        "Not in service",
        "Disconnected",
        "Dead line",
        "Invalid number",
    ),
    "call_back_later": (
        "Call Back Later",
        "Call Back",
        "Callback",
        "Call later",
        "Ring back",
        "Busy now",
        "Not a good time",
    ),
    "refused": ("Refused", "Declined", "Not interested", "Hung up"),
    "do_not_call": (
        "Do Not Call",
        "DNC",
        "Do not contact",
        "No more calls",
        "Opt out",
        "Opted out",
        "Remove",
        "Don't call",
        "Dont call",
        "Never call",
    ),
    "deceased_moved": (
        "Deceased/Moved",
        "Deceased",
        "Moved",
        "Moved away",
        "Died",
        "Passed away",
        "Gone away",
        "Deceased or moved",
    ),
}
_CATEGORY_LABELS = {
    "food": ("Food", "Groceries", "Food parcel", "Food bank"),
    "medicine": ("Medicine", "Medicines", "Medication", "Prescriptions", "Prescription", "Medical"),
    "isolation": ("Isolation", "Loneliness", "Lonely", "Social isolation", "Company"),
    "mental_health": ("Mental Health", "Mental wellbeing", "Anxiety", "Wellbeing"),
    "financial": ("Financial", "Finance", "Money", "Benefits", "Debt"),
    "housing": ("Housing", "Rent", "Accommodation"),
    "digital": ("Digital", "Internet", "Technology", "Tech", "Online", "Digital access"),
    "other": ("Other",),
}
_URGENCY_LABELS = {
    "low": ("Low", "L", "Not urgent", "1"),
    "medium": ("Medium", "Med", "M", "Moderate", "2"),
    "high": ("High", "H", "Urgent", "Very urgent", "3"),
}
_DP_LABELS = {
    "how_got_number": (
        "How did you get my number",
        "How got number",
        "How did you get my number?",
        "Where did you get my number",
        "Source of number",
        "Number",
    ),
    "complaint": ("Complaint", "How do I complain", "Complain", "Wants to complain"),
    "other": ("Other", "Other query", "Yes"),
}
_YES_NO = {"true": ("Y", "Yes", "TRUE", "1", "T", "x"), "false": ("N", "No", "FALSE", "0", "F")}

VOCABULARIES = {
    "outcome": _OUTCOME_LABELS,
    "category": _CATEGORY_LABELS,
    "urgency": _URGENCY_LABELS,
    "dp_query": _DP_LABELS,
    "yes_no": _YES_NO,
}


def accepted(vocabulary: str, limit: int = 40) -> str:
    """The labels a vocabulary accepts, for an error message."""
    labels = [label for labels in VOCABULARIES[vocabulary].values() for label in labels[:3]]
    return ", ".join(labels[:limit])


def lookup(extra_outcomes: dict | None = None) -> pd.DataFrame:
    """Every (vocabulary, normalised label, code) row, to join in SQL; codes map to themselves.

    Args:
        extra_outcomes: a mapping file's [outcomes]: {"their label": "outcome"}.

    Raises:
        InputError: an extra label maps to something that is not an outcome.
    """
    rows = []
    for vocabulary, codes in VOCABULARIES.items():
        for code, labels in codes.items():
            rows += [(vocabulary, normalise(label), code) for label in (code, *labels)]
    for label, code in (extra_outcomes or {}).items():
        if code not in OUTCOMES:
            raise InputError(
                f'Mapping [outcomes]: "{label}" maps to "{code}", which is not an outcome. '
                f"Outcomes: {', '.join(OUTCOMES)}."
            )
        rows.append(("outcome", normalise(label), code))
    frame = pd.DataFrame(rows, columns=["vocabulary", "label", "code"])
    # A mapping file's label wins over a built-in one.
    return frame.drop_duplicates(["vocabulary", "label"], keep="last").reset_index(drop=True)


# An outcome label matched by meaning must score at least this against a known label, and clearly
# better than the best label of any other outcome; otherwise it stays unmatched (a row problem).
MEANING_ACCEPT, MEANING_MARGIN = 85.0, 5.0


def by_meaning(labels: list[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """Outcome codes for labels no vocabulary or mapping names, matched by meaning, per label.

    "Line engaged" is busy, "Voicemail left" is voicemail and "Do not call again" is do not call:
    rapidfuzz's token-set ratio lets a label carry extra words, and word order does not matter. It
    must not drop words, though: the token-set ratio of "Contact" and "Do not contact" is 100 too.
    So a known label counts only when each of its words is in the label (or one spelled a letter or
    two apart), and the label says "not", "no" or "never" only where the known label does: "Away" is
    not "Moved away", "Interested" is not "Not interested", "Not contacted" is not "Contacted". A
    label close to two outcomes is left alone.

    Args:
        labels: the distinct labels in a file's outcome column (not per row).
        known: labels already mapped (a profile's or a mapping file's), which are skipped.

    Returns:
        {label: outcome} for the labels matched.
    """
    lookup(known)  # checks a mapping's labels name real outcomes
    pairs = [(label, code) for code, names in _OUTCOME_LABELS.items() for label in (code, *names)]
    pairs += list((known or {}).items())
    normalised = {normalise(label) for label, _ in pairs}
    readable = [(" ".join(_words(label)), code) for label, code in pairs if len(normalise(label)) > 2]
    found = {}
    for label in labels:
        if label is None or not normalise(label) or normalise(label) in normalised:
            continue
        words = _words(label)
        text = " ".join(words)
        best: dict[str, float] = {}
        for known_text, code in readable:
            if _covers(words, known_text.split()):
                best[code] = max(best.get(code, 0.0), fuzz.token_set_ratio(text, known_text))
        ranked = sorted(best.items(), key=lambda item: -item[1])
        if ranked and ranked[0][1] >= MEANING_ACCEPT and (
            len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= MEANING_MARGIN
        ):
            found[label] = ranked[0][0]
    return found


def _words(label: str) -> list[str]:
    return [w for w in normalise_words(label) if w]


# Words that turn a label's meaning around ("don't" splits into "don" and "t").
NEGATIONS = frozenset({"no", "not", "non", "never", "don", "dont", "cannot", "cant", "won", "wont", "unable"})


def _covers(words: list[str], known: list[str]) -> bool:
    """Each known word is among `words` (a word of more than four letters may be misspelled by a
    letter or two), and `words` negate only what the known label negates."""
    def present(word: str) -> bool:
        if len(word) <= 4:
            return word in words
        return any(fuzz.ratio(word, w) >= MEANING_ACCEPT for w in words)

    return all(present(w) for w in known) and NEGATIONS.intersection(words) <= NEGATIONS.intersection(known)


def normalise_words(text: str) -> list[str]:
    """Lower-case words of a label, camelCase and underscores split."""
    return re.findall(r"[0-9a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text)).lower())
