"""The fictional constituency of Northvale: branches, wards, postcode sectors and postcodes.

The postcode area "NV" does not exist in the UK, so no synthetic address can be mistaken for a
real one, yet every postcode is in valid UK format ("NV3 7QT"). The hierarchy is strict:
a postcode lies in one sector, a sector in one ward, a ward in one branch. Ward sizes vary a lot
(a few are tiny) so disclosure control meets both large and small cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

CONSTITUENCY = "Northvale"
AREA = "NV"

# Invented town names for branches; none is a UK parliamentary constituency.
BRANCH_NAMES = (
    "Northvale Town",
    "Ashcombe",
    "Millbridge",
    "Kestrel Moor",
    "Elderfield",
    "Harrowdene",
    "Brackenhurst",
    "Wyvern Cross",
)
# Tails for further invented branch names, when an organisation has more than eight branches; none is
# a ward tail, so a branch never shares a ward's name.
_BRANCH_TAILS = ("combe", "bridge", " Moor", "hurst", "dene", " Cross")
_WARD_STEMS = (
    "Ash",
    "Beck",
    "Birch",
    "Brook",
    "Cinder",
    "Cold",
    "Elm",
    "Fern",
    "Gorse",
    "Hazel",
    "Heath",
    "Holly",
    "Kings",
    "Lark",
    "Lime",
    "Marsh",
    "Mill",
    "Oak",
    "Rook",
    "Rush",
    "Salt",
    "Stone",
    "Thorn",
    "Wil",
    "Wren",
    "Yew",
)
_WARD_TAILS = (
    "field",
    "ley",
    "ton",
    "bury",
    "wood",
    "gate",
    " Green",
    " Park",
    " Hill",
    " Vale",
    "well",
    "ford",
    " Common",
)
# Letters allowed in the last two characters of a UK postcode (no C, I, K, M, O, V).
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_UNITS_TOTAL = 5000  # postcodes in the whole constituency (a real one has ~3,000-6,000)
_TINY_WARDS = 3  # wards shrunk to a few per cent of normal, for small cells
# Each branch fills at most two postcode districts (at most 5 wards of at most 4 sectors), and a UK
# district number has at most two digits: NV1 to NV99.
MAX_BRANCHES = 45


@dataclass(frozen=True)
class Geography:
    """The generated geography, as a public frame plus the arrays the generator samples from.

    Attributes:
        frame: constituency, branch, ward, sector, postcode; one row per postcode.
        wards: ward names, indexed by ward number.
        ward_branch: branch number of each ward.
        ward_weight: share of members living in each ward (sums to 1).
        branches: branch names.
        postcode_ward: ward number of each postcode (row of `frame`).
        postcode_street: street name of each postcode.
    """

    frame: pd.DataFrame
    wards: np.ndarray
    ward_branch: np.ndarray
    ward_weight: np.ndarray
    branches: np.ndarray
    postcode_ward: np.ndarray
    postcode_street: np.ndarray


def _ward_names(rng: np.random.Generator, count: int) -> list[str]:
    combos = [s + t for s in _WARD_STEMS for t in _WARD_TAILS]
    return [combos[i] for i in rng.choice(len(combos), size=count, replace=False)]


def _branch_names(rng: np.random.Generator, count: int) -> list[str]:
    """The eight fixed names first, then invented ones: a demo always has the same branches."""
    if count <= len(BRANCH_NAMES):
        return list(BRANCH_NAMES[:count])
    combos = [s + t for s in _WARD_STEMS for t in _BRANCH_TAILS if s + t not in BRANCH_NAMES]
    extra = rng.choice(len(combos), size=count - len(BRANCH_NAMES), replace=False)
    return list(BRANCH_NAMES) + [combos[i] for i in extra]


def _ward_weights(rng: np.random.Generator, count: int) -> np.ndarray:
    # Lognormal sizes give a long tail like real wards; then a few are made tiny on purpose.
    weight = rng.lognormal(0.0, 0.7, size=count)
    weight[rng.choice(count, size=min(_TINY_WARDS, count - 1), replace=False)] *= 0.03
    return weight / weight.sum()


def _sectors(rng: np.random.Generator, ward_branch: np.ndarray, weight: np.ndarray) -> list[tuple[int, str]]:
    """(ward, sector) pairs; each branch fills postcode districts NV1, NV2, ... ten sectors at a time."""
    per_ward = np.clip(np.rint(weight / weight.mean() * 1.5), 1, 4).astype(int)
    out, district = [], 0
    for branch in np.unique(ward_branch):
        wards = np.flatnonzero(ward_branch == branch)
        needed = int(per_ward[wards].sum())
        digits = []
        for _ in range(-(-needed // 10)):
            district += 1
            digits += [f"{AREA}{district} {d}" for d in rng.permutation(10)]
        owners = np.repeat(wards, per_ward[wards])
        out += list(zip(owners.tolist(), digits[:needed], strict=True))
    return out


def _postcodes(
    rng: np.random.Generator,
    sectors: list[tuple[int, str]],
    weight: np.ndarray,
) -> tuple[list[str], list[str], list[int]]:
    letters = [a + b for a in _UNIT_LETTERS for b in _UNIT_LETTERS]
    sectors_in_ward = np.bincount([w for w, _ in sectors], minlength=len(weight))
    postcodes, sector_of, ward_of = [], [], []
    for ward, sector in sectors:
        units = int(np.clip(round(weight[ward] / sectors_in_ward[ward] * _UNITS_TOTAL), 6, len(letters)))
        for i in np.sort(rng.choice(len(letters), size=units, replace=False)):
            postcodes.append(f"{sector}{letters[i]}")
            sector_of.append(sector)
            ward_of.append(ward)
    return postcodes, sector_of, ward_of


def build(rng: np.random.Generator, faker: Faker, branches: int | None = None) -> Geography:
    """Generate Northvale's geography.

    Args:
        rng: seeded generator (consumed in a fixed order, so the result depends only on the seed).
        faker: seeded en_GB Faker, used once for a pool of street names.
        branches: how many branches (1 to MAX_BRANCHES); None for the seed's choice of 5-8.

    Returns:
        A Geography with about 5,000 postcodes in its branches, each of 3-5 wards.
    """
    n_branches = int(rng.integers(5, 9))  # drawn even when given, so later draws keep their order
    if branches is not None:
        n_branches = branches
    wards_per_branch = rng.integers(3, 6, size=n_branches)
    ward_branch = np.repeat(np.arange(n_branches), wards_per_branch)
    wards = np.array(_ward_names(rng, len(ward_branch)), dtype=object)
    weight = _ward_weights(rng, len(wards))
    sectors = _sectors(rng, ward_branch, weight)
    postcodes, sector_of, ward_of = _postcodes(rng, sectors, weight)
    ward_of_arr = np.array(ward_of)
    names = np.array(_branch_names(rng, n_branches), dtype=object)
    streets = np.array(sorted({faker.street_name() for _ in range(300)}), dtype=object)
    frame = pd.DataFrame(
        {
            "constituency": CONSTITUENCY,
            "branch": names[ward_branch[ward_of_arr]],
            "ward": wards[ward_of_arr],
            "sector": sector_of,
            "postcode": postcodes,
        }
    )
    return Geography(
        frame,
        wards,
        ward_branch,
        weight,
        names,
        ward_of_arr,
        streets[rng.integers(0, len(streets), size=len(postcodes))],
    )
