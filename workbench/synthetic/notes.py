"""Callers' free-text notes, from varied templates, filled in bulk.

Real notes mention third parties ("daughter Sarah on 0113 496 0412") and that is exactly what
makes them sensitive, so some templates do too. Every phone number in a note is a drama number
and every email is on example.net.
"""

from __future__ import annotations

import re
import string

import numpy as np

from workbench.synthetic.calls import ANSWERED
from workbench.synthetic.phones import humanise, member_pool_indices
from workbench.vocabulary import OUTCOMES

_RELATIONS = np.array(
    ["daughter", "son", "neighbour", "carer", "friend", "partner", "niece", "grandson"], dtype=object
)
_NEED_WORDS = np.array(
    [
        "food shopping",
        "prescriptions",
        "loneliness",
        "feeling low",
        "money worries",
        "housing",
        "getting online",
        "odd jobs",
    ],
    dtype=object,
)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "ok": (
        "Doing fine, {rel} {name} is helping with shopping.",
        "All good, thanked us for calling.",
        "Chatted for ten minutes, in good spirits.",
        "Fine but fed up with lockdown.",
        "Well. Neighbour {name} checks in most days.",
        "No needs at present, happy to hear from us.",
        "Busy home-schooling but coping.",
        "Doing OK. Misses the grandchildren.",
    ),
    "need": (
        "Needs help with {need}. {rel} {name} lives too far away to help.",
        "Struggling with {need}; asked for a call back on {phone}.",
        "Worried about {need}. Gave details of local support.",
        "Lives alone, needs {need} support. If no answer try {rel} {name} on {phone}.",
        "Asked for help with {need}. Prefers email: {email}",
        "Sounded low. Main worry is {need}.",
        "Needs {need} help this week, {rel} is shielding.",
    ),
    "keen": (
        "Keen to help others, free weekday mornings.",
        "Happy to volunteer; can drive.",
        "Offered to help, contact via {rel} {name} on {phone}.",
        "Would like to volunteer, email {email}",
    ),
    "dp": (
        "Asked how we got their number; explained membership records and gave DP contact.",
        "Unhappy we called; wants to complain. Passed on data protection contact.",
        "Asked what data we hold. Gave dataprotection@example.org.",
    ),
    "voicemail": ("Left voicemail.", "Left message with {rel} {name}.", "Voicemail full."),
    "no_answer": ("Rang out.", "No answer, try evening."),
    "busy": ("Engaged tone.",),
    "call_back_later": (
        "Asked us to call back after 6pm.",
        "{rel} {name} answered, call back tomorrow.",
        "In the middle of dinner, call back later.",
        "Call back on mobile {phone}.",
    ),
    "wrong_number": (
        "Number belongs to {name}, not the member.",
        "Wrong number.",
        "Number not recognised by the person who answered.",
    ),
    "refused": ("Did not want to talk.", "Declined politely.", "Said they were too busy to talk."),
    "do_not_call": (
        "Asked not to be called again.",
        "Angry about the call; remove from list.",
        "Asked how we got the number and to be taken off the list.",
    ),
    "deceased_moved": (
        "Moved to live with {rel} in another town.",
        "{rel} {name} said the member has died.",
        "Has moved into a care home.",
    ),
}
# Chance that a call of each kind has a note at all.
_NOTE_P = {
    "ok": 0.35,
    "need": 0.85,
    "keen": 0.6,
    "dp": 0.9,
    "voicemail": 0.25,
    "no_answer": 0.1,
    "busy": 0.05,
    "call_back_later": 0.7,
    "wrong_number": 0.7,
    "refused": 0.4,
    "do_not_call": 0.7,
    "deceased_moved": 0.85,
}


def _groups(outcome: np.ndarray, need: np.ndarray, keen: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """Template group name per call (answered calls split by what was said)."""
    group = np.array(OUTCOMES, dtype=object)[outcome]
    answered = outcome == ANSWERED
    group[answered] = "ok"
    group[answered & (keen == 1)] = "keen"
    group[answered & (need == 1)] = "need"
    group[answered & (dp >= 0)] = "dp"
    return group


def _field(
    rng: np.random.Generator, field: str, rows: np.ndarray, need_of: np.ndarray, first_names: np.ndarray
) -> np.ndarray:
    """Values for one template field, for each of `rows`, from seeded pools."""
    k = len(rows)
    if field == "name":
        return first_names[rng.integers(0, len(first_names), k)]
    if field == "rel":
        return _RELATIONS[rng.integers(0, len(_RELATIONS), k)]
    if field == "phone":
        return humanise(rng.choice(member_pool_indices(), size=k), rng)
    if field == "email":
        names = first_names[rng.integers(0, len(first_names), k)]
        local = np.array([re.sub(r"[^a-z]", "", n.lower()) for n in names], dtype=object)
        return local + "." + _RELATIONS[rng.integers(0, len(_RELATIONS), k)] + "@example.net"
    return _NEED_WORDS[np.maximum(need_of[rows], 0)]


def _fill(
    rng: np.random.Generator, template: str, rows: np.ndarray, need_of: np.ndarray, first_names: np.ndarray
) -> np.ndarray:
    """The template for each of `rows`, with its fields filled in."""
    out = np.full(len(rows), "", dtype=object)
    for position, (literal, field, _, _) in enumerate(string.Formatter().parse(template)):
        out = out + literal
        if field:
            value = _field(rng, field, rows, need_of, first_names)
            if position == 0 and not literal:
                # The sentence starts with this field ("{rel} {name} said ..."): capitalise it.
                value = np.array([v[:1].upper() + v[1:] for v in value], dtype=object)
            out = out + value
    return out


def build(
    rng: np.random.Generator,
    outcome: np.ndarray,
    need: np.ndarray,
    keen: np.ndarray,
    dp: np.ndarray,
    need_of: np.ndarray,
    first_names: np.ndarray,
) -> np.ndarray:
    """A note (or None) per call.

    Args:
        rng: seeded generator.
        outcome: outcome code per call; need, keen, dp: coded answers (-1 = not recorded).
        need_of: the call's first need category code, -1 if none.
        first_names: pool to draw third parties' names from.

    Returns:
        Object array of strings, None where the caller wrote nothing.
    """
    group = _groups(outcome, need, keen, dp)
    notes = np.full(len(outcome), None, dtype=object)
    for name, templates in TEMPLATES.items():
        rows = np.flatnonzero(group == name)
        rows = rows[rng.random(len(rows)) < _NOTE_P[name]]
        pick = rng.integers(0, len(templates), len(rows))
        for t, template in enumerate(templates):
            chosen = rows[pick == t]
            if len(chosen):
                notes[chosen] = _fill(rng, template, chosen, need_of, first_names)
    return notes
