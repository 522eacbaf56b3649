"""A seeded fake organisation: geography, members, calling rounds and a services directory.

Trainers demo the workbench on this, and every later feature is exercised against it, so it is
realistic where that matters (old-skewed ages, households sharing a landline, evolving needs,
signposting gaps, sensitive notes) and can never reach a real person: phones come only from
Ofcom's drama ranges, emails only from RFC 2606 domains, postcodes from the non-existent "NV" area.

The same seed and version give the same organisation; all randomness is a local
`numpy.random.default_rng(seed)` and a `Faker.seed_instance(seed)`. The work is vectorised so the
national preset (500,000 members, ~2,000,000 calls) takes seconds, not hours.

Examples:
    >>> org = generate("tiny", seed=1)
    >>> len(org.members), bool(org.calls["outcome"].isin(OUTCOMES).all())
    (200, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker
from tqdm.auto import tqdm

from workbench.errors import InputError
from workbench.synthetic import calls as calls_
from workbench.synthetic import geo as synthetic_geo
from workbench.synthetic import members as synthetic_members
from workbench.synthetic import notes as synthetic_notes
from workbench.synthetic import services as synthetic_services
from workbench.synthetic.io import write_exports
from workbench.synthetic.members import MEMBERSHIP_PREFIX
from workbench.synthetic.phones import DRAMA_RANGES, is_drama_number
from workbench.synthetic.store import build_store
from workbench.vocabulary import DP_QUERIES, NEED_CATEGORIES, OUTCOMES, SKILLS, URGENCIES

__all__ = [
    "DRAMA_RANGES",
    "MEMBERSHIP_PREFIX",
    "NEED_CATEGORIES",
    "OUTCOMES",
    "PRESETS",
    "SKILLS",
    "Organisation",
    "build_store",
    "generate",
    "is_drama_number",
    "write_exports",
]

# name -> (members, approximate calls). Four calls a member is what three rounds of up to three
# attempts, with partial later rounds, come to.
PRESETS: dict[str, tuple[int, int]] = {
    "tiny": (200, 800),
    "demo": (2_000, 8_000),
    "branch": (10_000, 40_000),
    "national": (500_000, 2_000_000),
}
CALLS_PER_MEMBER = 4
# Share of calls ending in "do not call" / "refused" (slightly over-drawn: some objectors are never
# reached). Where the phone pool is too small this is capped; see synthetic_data/README.md.
DNC_RATE, REFUSED_RATE, UNREACHED = 0.02, 0.012, 1.15


@dataclass(frozen=True)
class Organisation:
    """A whole synthetic organisation as canonical frames, columns named as in schema.sql.

    Attributes:
        members: membership_number, first_name, last_name, phone (E.164 or None), email (or None),
            address, postcode, ward, branch, age, joined_on.
        calls: call_id, membership_number, round, caller, called_at, outcome, wellbeing,
            needs_support, urgency, keen_to_volunteer, dp_query, notes (one row per attempt).
        call_needs: call_id, category.
        call_skills: call_id, skill.
        call_services: call_id, service_id.
        services: service_id, name, category, areas (list of wards; [] = whole constituency),
            contact, aliases (list).
        geography: constituency, branch, ward, sector, postcode; every postcode that exists.
        preset: the preset name, or "custom" for --members/--calls.
        seed: the seed it was generated from.
    """

    members: pd.DataFrame
    calls: pd.DataFrame
    call_needs: pd.DataFrame
    call_skills: pd.DataFrame
    call_services: pd.DataFrame
    services: pd.DataFrame
    geography: pd.DataFrame
    preset: str = "custom"
    seed: int = 2020


def _sizes(preset: str | None, members: int | None, calls: int | None) -> tuple[str, int, int]:
    if members is None:
        if preset not in PRESETS:
            raise InputError(
                f'Unknown preset "{preset}". Choose one of: {", ".join(PRESETS)}, or give members=N.'
            )
        return preset, *PRESETS[preset]
    if members < 1 or (calls is not None and calls < 0):
        raise InputError(f"members must be at least 1 and calls at least 0 (got {members}, {calls}).")
    return "custom", members, CALLS_PER_MEMBER * members if calls is None else calls


def _objector_counts(n_members: int, n_calls: int) -> tuple[int, int]:
    """How many members will ever say do-not-call / refuse, within what the pool can reserve."""
    dnc, refused = round(n_calls * DNC_RATE * UNREACHED), round(n_calls * REFUSED_RATE * UNREACHED)
    cap = n_members // 2
    if n_members > len(synthetic_members.member_pool_indices()):
        cap = min(cap, synthetic_members.RESERVED_MAX)
    scale = min(1.0, cap / max(1, dnc + refused))
    return int(dnc * scale), int(refused * scale)


def generate(
    preset: str | None = "demo",
    *,
    members: int | None = None,
    calls: int | None = None,
    seed: int = 2020,
    branches: int | None = None,
    progress: bool = False,
) -> Organisation:
    """Generate a synthetic organisation.

    Args:
        preset: tiny, demo, branch or national (see PRESETS); ignored when `members` is given.
        members: exact number of members instead of a preset.
        calls: approximate number of call attempts (default 4 per member); 0 for none.
        seed: same seed and version, same organisation, byte for byte.
        branches: how many branches (1 to 45); by default the seed chooses 5-8. A large organisation
            needs more, or its branches grow with it.
        progress: show a tqdm progress bar.

    Returns:
        An Organisation.

    Raises:
        InputError: unknown preset, a size below 1, or a branch count out of range.
    """
    label, n_members, n_calls = _sizes(preset, members, calls)
    if branches is not None and not 1 <= branches <= synthetic_geo.MAX_BRANCHES:
        raise InputError(f"branches={branches} is out of range: give 1 to {synthetic_geo.MAX_BRANCHES}.")
    rng = np.random.default_rng(seed)
    faker = Faker("en_GB")
    faker.seed_instance(seed)
    with tqdm(total=8, desc="synthetic organisation", unit="step", disable=not progress) as bar:
        geo = synthetic_geo.build(rng, faker, branches)
        services, coverage = synthetic_services.build(rng, geo)
        pools = synthetic_members.name_pools(faker)
        people = synthetic_members.build(rng, pools, geo, n_members)
        bar.update(1)
        objector = synthetic_members.choose_objectors(rng, n_members, *_objector_counts(n_members, n_calls))
        phone = synthetic_members.assign_phones(rng, people["household"].to_numpy(), objector)
        people["phone"] = synthetic_members.e164(phone)
        bar.update(1)
        rounds = calls_.simulate(
            rng,
            people["age"].to_numpy(),
            _codes(people["branch"], geo.branches),
            phone >= 0,
            objector,
            n_calls,
            _n_callers(n_members),
            progress=bar,
        )
        frames = _call_frames(rng, rounds, people, services, coverage, pools.first)
        bar.update(bar.total - bar.n)
    public = people[
        [
            "membership_number",
            "first_name",
            "last_name",
            "phone",
            "email",
            "address",
            "postcode",
            "ward",
            "branch",
            "age",
            "joined_on",
        ]
    ]
    return Organisation(public, *frames, services, geo.frame, label, seed)


def _codes(values: pd.Series, categories: np.ndarray) -> np.ndarray:
    return pd.Categorical(values, categories=categories).codes.astype(np.int64)


def _n_callers(n_members: int) -> int:
    """Roughly 40 volunteers for a small branch, up to 300 nationally."""
    return int(np.clip(np.sqrt(n_members) * 1.2, 40, 300))


def _call_frames(
    rng: np.random.Generator,
    rounds: calls_.Rounds,
    people: pd.DataFrame,
    services: pd.DataFrame,
    coverage: pd.DataFrame,
    first_names: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Put attempts in time order, give them ids, and attach needs, skills, services and notes."""
    a = rounds.attempts
    order = np.lexsort((a["member"].to_numpy(), a["called_at"].to_numpy()))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    a = a.iloc[order].reset_index(drop=True)
    call_id = np.array([f"CL{i:08d}" for i in range(1, len(a) + 1)], dtype=object)
    needs = rounds.needs.assign(row=position[rounds.needs["row"].to_numpy()]).sort_values(["row", "category"])
    skills = rounds.skills.assign(row=position[rounds.skills["row"].to_numpy()]).sort_values(["row", "skill"])
    need_of = np.full(len(a), -1)
    first = needs.drop_duplicates("row")
    need_of[first["row"].to_numpy()] = first["category"].to_numpy()
    calls = _calls_frame(a, call_id, people)
    calls["notes"] = synthetic_notes.build(
        rng,
        a["outcome"].to_numpy(),
        a["needs_support"].to_numpy(),
        a["keen"].to_numpy(),
        a["dp_query"].to_numpy(),
        need_of,
        first_names,
    )
    ward = people["ward_idx"].to_numpy()[a["member"].to_numpy()]
    call_needs = pd.DataFrame(
        {
            "call_id": call_id[needs["row"].to_numpy()],
            "category": np.array(NEED_CATEGORIES, dtype=object)[needs["category"].to_numpy()],
        }
    )
    call_skills = pd.DataFrame(
        {
            "call_id": call_id[skills["row"].to_numpy()],
            "skill": np.array(SKILLS, dtype=object)[skills["skill"].to_numpy()],
        }
    )
    referenced = _referenced(rng, needs, ward, coverage)
    call_services = pd.DataFrame(
        {
            "call_id": call_id[referenced["row"].to_numpy()],
            "service_id": services["service_id"].to_numpy()[referenced["service"].to_numpy()],
        }
    )
    return calls, call_needs, call_skills, call_services


def _nullable(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=list(labels))


def _masked(values: np.ndarray, dtype: str, known: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A nullable pandas array: NA where the caller recorded nothing."""
    out = pd.array(values, dtype=dtype)
    out[~known] = pd.NA
    return out


def _calls_frame(a: pd.DataFrame, call_id: np.ndarray, people: pd.DataFrame) -> pd.DataFrame:
    n_rounds = int(a["round"].max()) + 1 if len(a) else 0
    n_callers = int(a["caller"].max()) + 1 if len(a) else 0
    wellbeing, need, keen = (a[c].to_numpy() for c in ("wellbeing", "needs_support", "keen"))
    return pd.DataFrame(
        {
            "call_id": call_id,
            "membership_number": people["membership_number"].to_numpy()[a["member"].to_numpy()],
            "round": _nullable(a["round"].to_numpy(), tuple(f"R{r + 1}" for r in range(n_rounds))),
            "caller": _nullable(a["caller"].to_numpy(), tuple(f"C{c + 1:04d}" for c in range(n_callers))),
            "called_at": a["called_at"].to_numpy().astype("datetime64[ns]"),
            "outcome": _nullable(a["outcome"].to_numpy(), OUTCOMES),
            "wellbeing": _masked(wellbeing.astype("int64"), "Int64", wellbeing > 0),
            "needs_support": _masked(need == 1, "boolean", need >= 0),
            "urgency": _nullable(a["urgency"].to_numpy(), URGENCIES),
            "keen_to_volunteer": _masked(keen == 1, "boolean", keen >= 0),
            "dp_query": _nullable(a["dp_query"].to_numpy(), DP_QUERIES),
        }
    )


def _referenced(
    rng: np.random.Generator, needs: pd.DataFrame, ward: np.ndarray, coverage: pd.DataFrame
) -> pd.DataFrame:
    """One service per (call, need) from those covering the member's ward, 70% of the time.

    Where no service covers that ward and need, nothing can be referenced: a signposting gap.
    """
    want = needs.assign(
        ward=ward[needs["row"].to_numpy()],
        category=np.array(NEED_CATEGORIES, dtype=object)[needs["category"].to_numpy()],
    )
    candidates = want.merge(coverage, on=["ward", "category"], how="inner", sort=False)
    candidates = candidates.assign(key=rng.random(len(candidates))).sort_values(["row", "category", "key"])
    chosen = candidates.drop_duplicates(["row", "category"])
    chosen = chosen[rng.random(len(chosen)) < 0.7]
    return chosen[["row", "service"]].drop_duplicates().sort_values(["row", "service"], ignore_index=True)
