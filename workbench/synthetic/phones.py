"""Ofcom's drama phone numbers: the only numbers synthetic data may ever use.

Ofcom reserves 20 ranges of 1,000 numbers each for TV and radio drama, so no real person can be
rung from a demo. Every synthetic phone number (members, notes, service contacts) is drawn from
`pool()`, and `is_drama_number` is how tests and later code check that.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np


class DramaRange(NamedTuple):
    """One Ofcom drama range: national prefix + three final digits 000-999.

    Attributes:
        kind: what the range is for (mobile, a city, freephone, ...).
        prefix: the national digits before the last three, e.g. "07700900" for 07700 900xxx.
        groups: digit-group lengths of the full national number as people write it, e.g. (5, 6).
    """

    kind: str
    prefix: str
    groups: tuple[int, ...]


# Ofcom's table (DESIGN.md, "Reference facts"). Every range holds exactly 1,000 numbers.
DRAMA_RANGES: tuple[DramaRange, ...] = (
    DramaRange("mobile", "07700900", (5, 6)),
    DramaRange("London", "02079460", (3, 4, 4)),
    DramaRange("Leeds", "01134960", (4, 3, 4)),
    DramaRange("Sheffield", "01144960", (4, 3, 4)),
    DramaRange("Nottingham", "01154960", (4, 3, 4)),
    DramaRange("Leicester", "01164960", (4, 3, 4)),
    DramaRange("Bristol", "01174960", (4, 3, 4)),
    DramaRange("Reading", "01184960", (4, 3, 4)),
    DramaRange("Birmingham", "01214960", (4, 3, 4)),
    DramaRange("Edinburgh", "01314960", (4, 3, 4)),
    DramaRange("Glasgow", "01414960", (4, 3, 4)),
    DramaRange("Liverpool", "01514960", (4, 3, 4)),
    DramaRange("Manchester", "01614960", (4, 3, 4)),
    DramaRange("Tyneside", "01914980", (4, 3, 4)),
    DramaRange("Northern Ireland", "02896496", (3, 4, 4)),
    DramaRange("Cardiff", "02920180", (3, 4, 4)),
    DramaRange("no area", "01632960", (5, 6)),
    DramaRange("freephone", "08081570", (4, 3, 4)),
    DramaRange("premium rate", "09098790", (4, 3, 4)),
    DramaRange("UK-wide", "03069990", (4, 3, 4)),
)

# Members do not have freephone or premium-rate numbers, so those two ranges are kept for the
# services directory's helplines; members draw from the other 18 ranges (18,000 numbers).
SERVICE_KINDS = frozenset({"freephone", "premium rate"})

# E.164 is "+44" + the national number without its leading 0: 10 digits for every drama range.
_E164 = re.compile(r"\+44\d{10}")
_PREFIXES = frozenset(r.prefix[1:] for r in DRAMA_RANGES)

# Ways people write a UK number in a spreadsheet, and how often each turns up.
STYLES = ("national", "international", "brackets", "compact")
STYLE_WEIGHTS = np.array([0.5, 0.15, 0.15, 0.2])


def is_drama_number(e164: object) -> bool:
    """True when `e164` is an E.164 string inside one of Ofcom's drama ranges.

    Examples:
        >>> is_drama_number("+447700900123"), is_drama_number("+447700123456"), is_drama_number(None)
        (True, False, False)
    """
    return isinstance(e164, str) and bool(_E164.fullmatch(e164)) and e164[3:10] in _PREFIXES


def _human(national: str, groups: tuple[int, ...], style: str) -> str:
    parts, at = [], 0
    for size in groups:
        parts.append(national[at : at + size])
        at += size
    if style == "international":
        return "+44 " + " ".join([parts[0][1:], *parts[1:]])
    if style == "brackets" and not national.startswith("07"):
        return f"({parts[0]}) " + " ".join(parts[1:])
    if style == "compact":
        return national
    return " ".join(parts)


@lru_cache(maxsize=1)
def pool() -> dict[str, np.ndarray]:
    """All 20,000 drama numbers, in range order, with their human spellings.

    Returns:
        A dict of equal-length arrays: "e164" (str), "kind" (str), and one array of strings per
        entry in STYLES ("07700 900123", "+44 7700 900123", "(0113) 496 0123", "01134960123").
    """
    e164, kind, human = [], [], {s: [] for s in STYLES}
    for r in DRAMA_RANGES:
        for last in range(1000):
            national = f"{r.prefix}{last:03d}"
            e164.append("+44" + national[1:])
            kind.append(r.kind)
            for style in STYLES:
                human[style].append(_human(national, r.groups, style))
    out = {"e164": np.array(e164, dtype=object), "kind": np.array(kind, dtype=object)}
    out.update({s: np.array(v, dtype=object) for s, v in human.items()})
    return out


def member_pool_indices() -> np.ndarray:
    """Indices into `pool()` that members may be given (every range but freephone and premium)."""
    kinds = pool()["kind"]
    return np.flatnonzero([k not in SERVICE_KINDS for k in kinds])


def service_pool_indices() -> np.ndarray:
    """Indices into `pool()` kept for the services directory's helplines."""
    return np.flatnonzero([k in SERVICE_KINDS for k in pool()["kind"]])


def humanise(indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Human spellings of pool numbers, each in a randomly chosen style.

    Args:
        indices: positions in `pool()`; negative means no number (gives None).
        rng: the caller's seeded generator.

    Returns:
        An object array of strings (None where indices < 0).
    """
    numbers = pool()
    styles = rng.choice(len(STYLES), size=len(indices), p=STYLE_WEIGHTS)
    out = np.full(len(indices), None, dtype=object)
    for i, style in enumerate(STYLES):
        hit = (styles == i) & (indices >= 0)
        out[hit] = numbers[style][indices[hit]]
    return out
