"""Northvale's community services directory: who helps with what, and where.

Some services cover the whole constituency, some one branch's wards, some a single ward. Housing
and digital help have no constituency-wide service, so some ward x need combinations are left
uncovered on purpose: signposting-gap reports need real gaps to find.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from workbench.synthetic.geo import CONSTITUENCY, Geography
from workbench.synthetic.phones import humanise, service_pool_indices

# (category, name, aliases). "{c}" is the constituency name.
_WIDE = (
    ("food", "{c} Food Bank", ("{c} Foodbank", "NV Food Bank")),
    ("medicine", "{c} Pharmacy Delivery Volunteers", ("Pharmacy delivery volunteers",)),
    ("isolation", "{c} Befriending Line", ("Befriending Line", "{c} Befrienders")),
    ("mental_health", "{c} Mind Matters", ("Mind Matters",)),
    ("financial", "{c} Advice Centre", ("{c} Advice Center", "Advice Centre")),
    ("other", "{c} Council Community Hub", ("Community Hub", "Council hub")),
)
# Per branch ("{t}" is the branch's town); each branch runs a seeded subset of these.
_BRANCH = (
    ("food", "{t} Community Pantry", ("{t} Pantry",)),
    ("medicine", "{t} Prescription Runners", ("{t} Prescription Service",)),
    ("isolation", "{t} Good Neighbours", ("{t} Good Neighbors",)),
    ("digital", "{t} Library Digital Help", ("{t} Library",)),
    ("housing", "{t} Housing Advice Surgery", ("{t} Housing Advice",)),
    ("financial", "{t} Credit Union", ("{t} CU",)),
)
# Per ward ("{w}" is the ward), for a seeded handful of wards.
_WARD = (
    ("food", "{w} Mutual Aid", ("{w} Mutual Aid Group", "{w} COVID Mutual Aid")),
    ("housing", "{w} Tenants' Association", ("{w} Tenants Association",)),
    ("digital", "{w} Tech Buddies", ("Tech Buddies {w}",)),
    ("isolation", "{w} Walking Group", ("{w} Walkers",)),
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _rows(rng: np.random.Generator, geo: Geography) -> list[tuple[str, str, list[str], tuple[str, ...]]]:
    rows = [
        (cat, name.format(c=CONSTITUENCY), [], tuple(a.format(c=CONSTITUENCY) for a in aliases))
        for cat, name, aliases in _WIDE
    ]
    for b, town in enumerate(geo.branches):
        areas = [str(w) for w in geo.wards[geo.ward_branch == b]]
        for i in np.sort(rng.choice(len(_BRANCH), size=int(rng.integers(2, 5)), replace=False)):
            cat, name, aliases = _BRANCH[i]
            rows.append((cat, name.format(t=town), areas, tuple(a.format(t=town) for a in aliases)))
    for w in np.sort(rng.choice(len(geo.wards), size=max(2, len(geo.wards) // 2), replace=False)):
        cat, name, aliases = _WARD[int(rng.integers(len(_WARD)))]
        ward = str(geo.wards[w])
        rows.append((cat, name.format(w=ward), [ward], tuple(a.format(w=ward) for a in aliases)))
    return rows


def build(rng: np.random.Generator, geo: Geography) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the directory and its coverage.

    Args:
        rng: seeded generator.
        geo: the geography the services serve.

    Returns:
        (services, coverage): services has service_id, name, category, areas (list of ward names,
        [] = whole constituency), contact, aliases (list); coverage has one row per
        (ward number, category, service row) a service actually serves.
    """
    rows = _rows(rng, geo)
    phones = humanise(rng.choice(service_pool_indices(), size=len(rows), replace=False), rng)
    by_email = rng.random(len(rows)) < 0.6
    services = pd.DataFrame(
        {
            "service_id": [f"S{i + 1:03d}" for i in range(len(rows))],
            "name": [r[1] for r in rows],
            "category": [r[0] for r in rows],
            "areas": [r[2] for r in rows],
            "contact": [
                f"{_slug(r[1])}@example.org" if e else p
                for r, e, p in zip(rows, by_email, phones, strict=True)
            ],
            "aliases": [list(r[3]) for r in rows],
        }
    )
    ward_index = {str(w): i for i, w in enumerate(geo.wards)}
    coverage = [(ward_index[w], r[0], s) for s, r in enumerate(rows) for w in (r[2] or ward_index)]
    return services, pd.DataFrame(coverage, columns=["ward", "category", "service"])
