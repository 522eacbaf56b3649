"""Plausible ward shapes for the synthetic organisation, so trainers and tests have maps.

Each postcode sector gets a synthetic centroid: branches sit around the constituency, a branch's
wards cluster around it, a ward's sectors around the ward. The wards are then the Voronoi cells of
their sectors' mean centroids, clipped to a district outline drawn round them all, so neighbouring
wards share edges and the whole covers the constituency without gaps. Coordinates are metres on a
plain grid (like British National Grid, but nowhere real).

Randomness comes from its own generator seeded from the organisation's seed, so adding maps did
not change a single member, call or service of an existing seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from workbench.store import boundaries

# Arbitrary origin and size: a constituency ~24 km across.
ORIGIN = np.array([500_000.0, 500_000.0])
RADIUS = 12_000.0
STREAM = 17  # this module's own random stream, beside the organisation's seed


def sector_centroids(geography: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One synthetic centroid per postcode sector.

    Args:
        geography: the organisation's geography frame (branch, ward, sector, postcode, ...).
        seed: the organisation's seed.

    Returns:
        branch, ward, sector, x, y (metres), in sector order.
    """
    rng = np.random.default_rng([seed, STREAM])
    sectors = geography[["branch", "ward", "sector"]].drop_duplicates("sector").reset_index(drop=True)
    branches = list(dict.fromkeys(sectors["branch"]))
    turn = rng.uniform(0, 2 * np.pi)
    branch_at = {
        b: ORIGIN
        + (0 if i == 0 else 0.62 * RADIUS)
        * np.array(
            [
                np.cos(turn + 2 * np.pi * i / max(1, len(branches) - 1)),
                np.sin(turn + 2 * np.pi * i / max(1, len(branches) - 1)),
            ]
        )
        for i, b in enumerate(branches)
    }
    ward_at = {}
    for ward, branch in sectors[["ward", "branch"]].drop_duplicates("ward").itertuples(index=False):
        angle, reach = rng.uniform(0, 2 * np.pi), rng.uniform(0.08, 0.26) * RADIUS
        ward_at[ward] = branch_at[branch] + reach * np.array([np.cos(angle), np.sin(angle)])
    jitter = rng.normal(0, 0.02 * RADIUS, size=(len(sectors), 2))
    points = np.array([ward_at[w] for w in sectors["ward"]]) + jitter
    return sectors.assign(x=points[:, 0], y=points[:, 1])


def ward_shapes(geography: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every synthetic ward's shape, ready for `store.boundaries.write`.

    Returns:
        ward, code (NV and a number: no real ONS code), name, geometry (GeoJSON), geographic (False).
    """
    centroids = sector_centroids(geography, seed)
    wards = centroids.groupby("ward", sort=True)[["x", "y"]].mean()
    points = shapely.points(wards[["x", "y"]].to_numpy())
    outline = _outline(points, np.random.default_rng([seed, STREAM + 1]))
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=outline, ordered=True)
    shapes = [shapely.intersection(cell, outline) for cell in shapely.get_parts(cells)]
    shapes = boundaries.simplify(shapes)
    return pd.DataFrame(
        {
            "ward": wards.index,
            "code": [f"NV{n:07d}" for n in range(1, len(wards) + 1)],
            "name": wards.index,
            "geometry": [boundaries.to_geojson(s) for s in shapes],
            "geographic": False,
        }
    )


def _outline(points, rng: np.random.Generator):
    """A district outline round the wards: their hull, widened, with an uneven coast-like edge."""
    hull = shapely.convex_hull(shapely.multipoints(points)).buffer(0.22 * RADIUS, quad_segs=16)
    ring = np.asarray(hull.exterior.coords)[:-1]
    centre = np.asarray(hull.centroid.coords[0])
    wobble = 1 + 0.06 * np.sin(np.linspace(0, 2 * np.pi * rng.integers(3, 7), len(ring)) + rng.uniform(0, 6))
    return shapely.Polygon(centre + (ring - centre) * wobble[:, None])


__all__ = ["sector_centroids", "ward_shapes"]
