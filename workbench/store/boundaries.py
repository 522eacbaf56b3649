"""Ward boundaries: the plain table of ward shapes that maps are drawn from.

Boundaries are public geography, not personal data. They are written by `workbench import
boundaries` (real ONS files) and by the synthetic organisation, and read by the maps. Shapes are
simplified once, when written, so every map draws from small polygons.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from workbench.store.state import transaction

# Simplify by a share of the typical ward's size. A branch (the usual map) is a few wards across,
# about three ward diameters in ~600 pixels, so one pixel is ~1/200 of a ward: detail below that
# cannot be seen, only paid for in drawing. One tolerance for the whole layer, so neighbours match.
SIMPLIFY_SHARE = 1 / 250
# Coordinates kept to ~1 m (metres) or ~1e-5 degrees, which is also below a pixel.
DIGITS = {True: 5, False: 0}


def ward_key(text: object) -> str:
    """A ward name or code for matching: case, accents, punctuation and spaces ignored, & as "and".

    Examples:
        >>> ward_key("St. Mary's & Holy Cross") == ward_key("st marys and holy cross")
        True
    """
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", folded.casefold().replace("&", "and"))


def is_geographic(bounds: tuple[float, float, float, float]) -> bool:
    """True when (minx, miny, maxx, maxy) can only be longitude/latitude, not metres."""
    minx, miny, maxx, maxy = bounds
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def simplify(shapes: list[BaseGeometry]) -> list[BaseGeometry]:
    """Shapes simplified for display with one tolerance for the whole layer (so neighbours still meet).

    Returns:
        Valid polygons or multipolygons, in the same order; coordinates rounded to a pixel's worth.
    """
    sizes = [max(b[2] - b[0], b[3] - b[1]) for b in shapely.bounds(shapes)]
    tolerance = float(np.median(sizes)) * SIMPLIFY_SHARE
    digits = DIGITS[is_geographic(tuple(shapely.total_bounds(shapes)))]
    out = []
    for shape in shapes:
        simple = shapely.make_valid(shape.simplify(tolerance, preserve_topology=True))
        out.append(shapely.set_precision(simple, 10**-digits) if digits else shapely.set_precision(simple, 1))
    return out


def to_geojson(shape: BaseGeometry) -> str:
    """A (multi)polygon as compact GeoJSON text; other parts (stray lines, points) are dropped."""
    polygons = [g for g in getattr(shape, "geoms", [shape]) if g.geom_type in ("Polygon", "MultiPolygon")]
    parts = [p for g in polygons for p in getattr(g, "geoms", [g])]
    return json.dumps(shapely.geometry.mapping(shapely.MultiPolygon(parts)), separators=(",", ":"))


DELETE_QUERY = "DELETE FROM ward_boundaries WHERE ward = ?"
INSERT_QUERY = "INSERT INTO ward_boundaries VALUES (?, ?, ?, ?, ?, ?, ?)"


def write(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, source: str) -> int:
    """Store matched ward shapes, replacing any earlier shape of the same wards; all or nothing.

    Args:
        frame: ward (the store's spelling), code, name, geometry (GeoJSON text), geographic.
        source: the file's base name, or "synthetic".

    Returns:
        The number of wards written.
    """
    now = datetime.now()
    rows = [
        [r.ward, r.code, r.name, r.geometry, bool(r.geographic), source, now]
        for r in frame.itertuples(index=False)
    ]
    with transaction(con):
        con.executemany(DELETE_QUERY, [[row[0]] for row in rows])
        con.executemany(INSERT_QUERY, rows)
    return len(rows)


READ_QUERY = "SELECT ward, code, name, geometry, geographic, source FROM ward_boundaries ORDER BY ward"


def read(con: duckdb.DuckDBPyConnection, wards: list[str] | None = None) -> pd.DataFrame:
    """The stored ward shapes: ward, code, name, geometry (GeoJSON text), geographic, source.

    Args:
        wards: keep only these wards (the store's spelling); None for all.
    """
    frame = con.execute(READ_QUERY).df()
    if wards is not None:
        frame = frame[frame["ward"].isin(list(wards))].reset_index(drop=True)
    return frame


__all__ = ["is_geographic", "read", "simplify", "to_geojson", "ward_key", "write"]
