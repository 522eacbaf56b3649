"""Synthetic members: households, names, ages, join dates, emails, addresses and drama-range phones.

Everything is vectorised. Faker is called a few thousand times to fill name pools, then members
draw pool indices with numpy; per-row Faker calls would be ~100x slower at national scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

from workbench.synthetic.geo import CONSTITUENCY, Geography
from workbench.synthetic.phones import member_pool_indices, pool

MEMBERSHIP_PREFIX = "SYN"  # membership numbers are "SYN" + 7 digits, issued in joining order
EMAIL_DOMAINS = np.array(["example.com", "example.org", "example.net"], dtype=object)
# Party memberships skew old: UK party-member surveys put the median member in their mid-50s.
AGE_BANDS = (
    (18, 24, 0.05),
    (25, 34, 0.09),
    (35, 44, 0.11),
    (45, 54, 0.15),
    (55, 64, 0.21),
    (65, 74, 0.23),
    (75, 84, 0.13),
    (85, 98, 0.03),
)
HOUSEHOLD_SIZES = (np.array([1, 2, 3]), np.array([0.68, 0.27, 0.05]))
P_NO_PHONE, P_NO_EMAIL, P_SHARED_LANDLINE = 0.08, 0.22, 0.55
# When the pool is too small for everyone, at most this many numbers are set aside for members who
# will ever refuse or ask not to be called; the rest of the pool is shared by everyone else.
RESERVED_MAX = 13_500
_STR = np.array([str(i) for i in range(10_000)], dtype=object)
_CUTOFF = np.datetime64("2020-03-01")


@dataclass(frozen=True)
class NamePools:
    """Faker en_GB's own name tables, with email-safe spellings worked out once per name."""

    first: np.ndarray
    last: np.ndarray
    last_p: np.ndarray  # Faker's surname frequencies, so Smiths are commoner than Savages
    first_email: np.ndarray
    last_email: np.ndarray


def name_pools(faker: Faker) -> NamePools:
    """Read the pinned Faker's en_GB name tables once; members then draw indices with numpy.

    Calling faker.first_name() per member would be ~50x slower and give the same distribution.
    """
    person = next(p for p in faker.get_providers() if type(p).__module__.endswith("person.en_GB"))
    first = np.array(sorted(set(person.first_names_male) | set(person.first_names_female)), dtype=object)
    last = np.array(list(person.last_names), dtype=object)
    weights = np.array(list(person.last_names.values()), dtype=float)
    return NamePools(first, last, weights / weights.sum(), _ascii_lower(first), _ascii_lower(last))


def _ascii_lower(names: np.ndarray) -> np.ndarray:
    return np.array([re.sub(r"[^a-z]", "", n.lower()) for n in names], dtype=object)


def _households(rng: np.random.Generator, n: int) -> np.ndarray:
    sizes = rng.choice(HOUSEHOLD_SIZES[0], size=n, p=HOUSEHOLD_SIZES[1])
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    return np.repeat(np.arange(len(sizes)), sizes)[:n]


def _ages(rng: np.random.Generator, household: np.ndarray) -> np.ndarray:
    lo, hi, p = (np.array(x) for x in zip(*AGE_BANDS, strict=True))
    band = rng.choice(len(p), size=household[-1] + 1, p=p / p.sum())
    head = lo[band] + (rng.random(len(band)) * (hi[band] - lo[band] + 1)).astype(int)
    age = head[household]
    first = np.r_[True, household[1:] != household[:-1]]
    # Others in a household are mostly partners of a similar age, sometimes grown-up children.
    partner = age + np.rint(rng.normal(0, 4, len(age))).astype(int)
    child = age - rng.integers(22, 34, len(age))
    other = np.where(rng.random(len(age)) < 0.8, partner, child)
    return np.clip(np.where(first, age, other), 18, 99)


def _joined(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    # Half joined in the 2015-2020 surges, the rest any time since turning 18 (and after 1970).
    earliest = np.maximum(
        _CUTOFF - ((age - 18) * 365.25).astype("timedelta64[D]"), np.datetime64("1970-01-01")
    )
    recent = np.datetime64("2015-01-01")
    span = (_CUTOFF - earliest).astype(int)
    any_time = earliest + (rng.random(len(age)) * span).astype("timedelta64[D]")
    surge = recent + (rng.random(len(age)) * (_CUTOFF - recent).astype(int)).astype("timedelta64[D]")
    return np.where(rng.random(len(age)) < 0.5, np.maximum(surge, earliest), any_time)


def _addresses(rng: np.random.Generator, geo: Geography, n_households: int) -> tuple[np.ndarray, np.ndarray]:
    """(postcode row, address) per household; postcodes sampled so wards get their weights."""
    per_postcode = geo.ward_weight[geo.postcode_ward] / np.bincount(geo.postcode_ward)[geo.postcode_ward]
    postcode = rng.choice(len(per_postcode), size=n_households, p=per_postcode / per_postcode.sum())
    # House numbers are unique within a postcode (odd or even side), so an address is a household.
    order = np.argsort(postcode, kind="stable")
    sorted_pc = postcode[order]
    rank = np.arange(n_households) - np.searchsorted(sorted_pc, sorted_pc)
    start = rng.integers(1, 60, len(per_postcode))
    number = np.empty(n_households, dtype=object)
    number[order] = _STR[start[sorted_pc] + 2 * rank]
    # Street and locality are joined per postcode (thousands), not per household (up to 370,000).
    street_end = geo.postcode_street + ", " + geo.wards[geo.postcode_ward] + ", " + CONSTITUENCY
    address = number + " " + street_end[postcode]
    flat = np.flatnonzero(rng.random(n_households) < 0.12)
    address[flat] = "Flat " + _STR[rng.integers(1, 30, len(flat))] + ", " + address[flat]
    return postcode, address


def _emails(
    rng: np.random.Generator, pools: NamePools, first: np.ndarray, last: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Emails on example domains from pool indices; about one member in five has none."""
    f, last_, n = pools.first_email[first], pools.last_email[last], len(first)
    initial = np.array([x[:1] for x in pools.first_email], dtype=object)[first]
    style = rng.integers(0, 4, n)
    local = np.empty(n, dtype=object)
    for k, build_local in enumerate(
        (
            lambda i: f[i] + "." + last_[i],
            lambda i: initial[i] + last_[i],
            lambda i: f[i] + last_[i] + _STR[(2020 - age[i]) % 100],
            lambda i: last_[i] + "." + f[i],
        )
    ):
        rows = style == k
        local[rows] = build_local(rows)
    email = local + "@" + EMAIL_DOMAINS[rng.choice(3, size=n, p=[0.5, 0.25, 0.25])]
    # Real addresses are unique per person: number any repeats.
    dup = pd.Series(email).duplicated().to_numpy()
    where = np.flatnonzero(dup)
    email[dup] = local[dup] + np.array([str(i) for i in where], dtype=object) + "@" + EMAIL_DOMAINS[where % 3]
    return np.where(rng.random(n) < P_NO_EMAIL, None, email)


def _place_pairs(geo: Geography) -> set[str]:
    """Each pair of adjacent words in a ward's or branch's name, lower case: "holly green"."""
    pairs = set()
    for name in [*geo.wards, *geo.branches]:
        words = str(name).lower().split()
        pairs.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return pairs


def _not_a_place(pools: NamePools, geo: Geography, first_idx: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Surnames moved on to the pool's next where a member would be named like a place ("Holly" of
    "Holly Green" ward). The release scan refuses any report holding a member's full name, so a
    synthetic union of 1.5 million, with its hundred-odd wards, could publish nothing. No random
    draw is taken, so an organisation with no such member is exactly as it was."""
    places = _place_pairs(geo)
    firsts = {pair.split()[0] for pair in places}
    # Only members whose first name starts a place's name can clash: a few in a thousand.
    maybe = np.flatnonzero([name.lower() in firsts for name in pools.first])
    last = last.copy()
    for row in np.flatnonzero(np.isin(first_idx, maybe)):
        first = pools.first[first_idx[row]].lower()
        for _ in range(len(pools.last)):
            if f"{first} {pools.last[last[row]].lower()}" not in places:
                break
            last[row] = (last[row] + 1) % len(pools.last)
    return last


def build(
    rng: np.random.Generator,
    pools: NamePools,
    geo: Geography,
    n: int,
) -> pd.DataFrame:
    """Members without phones, in membership-number order.

    Args:
        rng: seeded generator.
        pools: from name_pools.
        geo: the geography members live in.
        n: number of members.

    Returns:
        The public member columns (phone still missing) plus internal ones: household, ward_idx,
        pc (postcode row) and first_idx (first-name pool index, reused for third parties in notes).
    """
    household = _households(rng, n)
    n_households = int(household[-1]) + 1
    postcode, address = _addresses(rng, geo, n_households)
    family = rng.choice(len(pools.last), size=n_households, p=pools.last_p)[household]
    # Most households share a surname; some members keep their own.
    own = rng.choice(len(pools.last), size=n, p=pools.last_p)
    last = np.where(rng.random(n) < 0.8, family, own)
    first_idx = rng.integers(0, len(pools.first), n)
    last = _not_a_place(pools, geo, first_idx, last)
    age = _ages(rng, household)
    joined = _joined(rng, age)
    # Membership numbers are issued in joining order, so rows are put in that order first (as
    # integer arrays: cheaper than sorting a frame of strings afterwards).
    order = np.argsort(joined, kind="stable")
    household, last, first_idx, age, joined = (x[order] for x in (household, last, first_idx, age, joined))
    emails = _emails(rng, pools, first_idx, last, age)
    numbers = 1_000_000 + np.cumsum(rng.integers(1, 6, n))  # gaps: lapsed and test records
    pc = postcode[household]
    ward = geo.postcode_ward[pc]
    return pd.DataFrame(
        {
            "membership_number": MEMBERSHIP_PREFIX + numbers.astype("U7").astype(object),
            "first_name": pools.first[first_idx],
            "last_name": pools.last[last],
            "email": emails,
            "address": address[household],
            "postcode": geo.frame["postcode"].to_numpy()[pc],
            "ward": geo.wards[ward],
            "branch": geo.branches[geo.ward_branch[ward]],
            "age": age.astype("int64"),
            "joined_on": joined.astype("datetime64[D]").astype(object),  # datetime.date objects
            "household": household,
            "ward_idx": ward,
            "pc": pc,
            "first_idx": first_idx,
        }
    )


def choose_objectors(rng: np.random.Generator, n: int, n_dnc: int, n_refused: int) -> np.ndarray:
    """Who will ever say "do not call" (1) or refuse (2); 0 for everyone else. Decided up front so
    their phone numbers can be kept unique (see assign_phones)."""
    kind = np.zeros(n, dtype=np.int8)
    chosen = rng.choice(n, size=min(n, n_dnc + n_refused), replace=False)
    kind[chosen[:n_dnc]] = 1
    kind[chosen[n_dnc:]] = 2
    return kind


def assign_phones(rng: np.random.Generator, household: np.ndarray, objector: np.ndarray) -> np.ndarray:
    """A pool index per member (-1 for no phone).

    Households that share a landline get one number between them. Each objector has a number of
    their own. If there are more numbers needed than the pool holds, objectors' numbers are
    reserved (unique), and everyone else shares what is left, so an opt-out matched by phone can
    only ever suppress the objector (or, below the pool size, their own household).

    Args:
        rng: seeded generator.
        household: household id per member.
        objector: 0 = never objects, 1/2 = will say do-not-call / refuse (from choose_objectors).

    Returns:
        int array of indices into synthetic_phones.pool(), -1 where the member has no phone.
    """
    n, n_households = len(household), int(household.max()) + 1
    has_phone = (rng.random(n) >= P_NO_PHONE) | (objector > 0)
    sizes = np.bincount(household)
    shared = (sizes[household] > 1) & (rng.random(n_households) < P_SHARED_LANDLINE)[household]
    shared &= objector == 0
    # One "line" per shared household, one per member otherwise.
    line_key = np.where(shared, household, n_households + np.arange(n))
    _, line = np.unique(line_key, return_inverse=True)
    numbers = rng.permutation(member_pool_indices())
    n_lines = int(line.max()) + 1
    if n_lines <= len(numbers):
        phone = numbers[line]
    else:
        phone = _reuse(rng, numbers, line, objector)
    return np.where(has_phone, phone, -1)


def _reuse(
    rng: np.random.Generator, numbers: np.ndarray, line: np.ndarray, objector: np.ndarray
) -> np.ndarray:
    obj_lines = np.unique(line[objector > 0])
    if len(obj_lines) > min(RESERVED_MAX, len(numbers) - 1):
        raise ValueError(
            f"{len(obj_lines)} objectors need unique numbers; at most {RESERVED_MAX} can be reserved"
        )
    per_line = numbers[len(obj_lines) + rng.integers(0, len(numbers) - len(obj_lines), int(line.max()) + 1)]
    per_line[obj_lines] = numbers[: len(obj_lines)]
    return per_line[line]


def e164(phone: np.ndarray) -> np.ndarray:
    """E.164 strings for pool indices; None where the index is -1."""
    return np.where(phone >= 0, pool()["e164"][np.maximum(phone, 0)], None)
