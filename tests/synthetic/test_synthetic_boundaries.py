"""Synthetic ward shapes: plausible, deterministic for a seed, and one for every ward."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import shapely

from workbench import synthetic
from workbench.store import boundaries, db
from workbench.synthetic.boundaries import ward_shapes


def _shapes(frame: pd.DataFrame) -> list:
    return [shapely.geometry.shape(json.loads(text)) for text in frame["geometry"]]


def test_same_seed_same_shapes_other_seed_other_shapes(tiny_org):
    first = ward_shapes(tiny_org.geography, tiny_org.seed)
    pd.testing.assert_frame_equal(first, ward_shapes(tiny_org.geography, tiny_org.seed))
    assert not first["geometry"].equals(ward_shapes(tiny_org.geography, tiny_org.seed + 1)["geometry"])


def test_every_ward_has_one_valid_shape_and_they_tile_without_overlap():
    org = synthetic.generate("demo", seed=2020)
    frame = ward_shapes(org.geography, org.seed)
    assert (
        sorted(frame["ward"])
        == sorted(org.members["ward"].unique())
        == sorted(org.geography["ward"].unique())
    )
    assert frame["code"].is_unique and frame["code"].str.fullmatch(r"NV\d{7}").all()
    shapes = _shapes(frame)
    assert all(s.is_valid and not s.is_empty for s in shapes)
    union = shapely.union_all(shapes)
    assert sum(s.area for s in shapes) == pytest.approx(union.area, rel=1e-3)  # no overlaps
    assert union.geom_type == "Polygon" and not union.interiors  # one district, no holes
    # Plausible sizes: no ward is a sliver, none swallows the district.
    shares = [s.area / union.area for s in shapes]
    assert min(shares) > 0.002 and max(shares) < 0.35


def test_the_synthetic_store_holds_a_shape_for_every_ward(synthetic_con, tiny_org):
    stored = boundaries.read(synthetic_con)
    members_wards = {w for (w,) in synthetic_con.execute("SELECT DISTINCT ward FROM members").fetchall()}
    # Every ward of the constituency, including those too small to hold a member of a tiny store.
    assert set(stored["ward"]) == set(tiny_org.geography["ward"]) >= members_wards
    assert (stored["source"] == "synthetic").all() and not stored["geographic"].any()
    assert db.store_info(synthetic_con).row_counts["ward_boundaries"] == tiny_org.geography["ward"].nunique()
