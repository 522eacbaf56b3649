"""Ward boundaries in: GeoJSON or a zipped shapefile, as ONS Open Geography publishes them.

ONS files name their fields after the geography and year: WD20CD (code) and WD20NM (name) for
Wards (December 2020). We find such fields ourselves, or take --code-field / --name-field. Each
file ward is matched to a store ward by code, or by name ignoring case and punctuation; wards left
over on either side are reported, so an organiser can see which wards will have no shape.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import shapefile  # pyshp
import shapely
from shapely.geometry.base import BaseGeometry

from workbench.errors import InputError
from workbench.store import boundaries
from workbench.store.audit import audit
from workbench.store.state import transaction

SUFFIXES = (".geojson", ".json", ".zip")
# ONS field names: two to four letters, two digits of the year, then CD (code) or NM (name).
CODE_FIELD = re.compile(r"^[A-Z]{2,5}\d{2}CD$", re.IGNORECASE)
NAME_FIELD = re.compile(r"^[A-Z]{2,5}\d{2}NM$", re.IGNORECASE)
FALLBACK_CODES = ("code", "ward_code", "wardcode", "id")
FALLBACK_NAMES = ("name", "ward_name", "wardname", "ward")
SHOWN = 30  # unmatched wards named in a summary before "... and N more"


@dataclass(frozen=True)
class Feature:
    """One ward read from the file: its code, its name and its shape."""

    code: str | None
    name: str | None
    shape: BaseGeometry


@dataclass
class BoundaryImport:
    """What an import of boundaries found and did.

    Attributes:
        file: the file's base name.
        features: wards in the file.
        matched: store ward -> the file ward matched to it.
        store_unmatched: store wards that no file ward matched (they will have no shape).
        file_unmatched: file wards that match no store ward (not stored).
        ambiguous: store wards that several file wards matched by name (not stored; use codes).
        written: wards written to the store (0 on a dry run).
    """

    file: str
    features: int
    matched: dict[str, str] = field(default_factory=dict)
    store_unmatched: list[str] = field(default_factory=list)
    file_unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    written: int = 0

    def summary(self) -> str:
        """A few lines for the terminal or a notebook."""
        lines = [
            f"{self.file}: {self.features:,} wards read; {len(self.matched):,} matched the store's wards; "
            f"{self.written:,} written."
        ]
        for label, names in (
            ("store wards with no boundary", self.store_unmatched),
            ("file wards matching no store ward", self.file_unmatched),
            (
                "store wards matched by several file wards of the same name (give --code-field)",
                self.ambiguous,
            ),
        ):
            if names:
                more = f" ... and {len(names) - SHOWN:,} more" if len(names) > SHOWN else ""
                lines.append(f"{len(names):,} {label}: {', '.join(names[:SHOWN])}{more}")
        return "\n".join(lines)


def read_features(
    path: Path, *, code_field: str | None = None, name_field: str | None = None
) -> list[Feature]:
    """Every ward in a GeoJSON file or a zipped shapefile.

    Raises:
        InputError: the file is missing, of another kind, unreadable, lacks the fields, or a ward has
            no polygon. The message names the file, the ward's position and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Give the path of a .geojson file or a zipped shapefile.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{path.name}: unsupported file extension '{suffix}'. Supported formats: .geojson, .json "
            "(GeoJSON) and .zip (a zipped shapefile)."
        )
    records = _shapefile_records(path) if suffix == ".zip" else _geojson_records(path)
    if not records:
        raise InputError(f"{path.name} holds no wards. Download the boundaries file again.")
    fields = list(records[0][0])
    code_field = _field(path, fields, code_field, CODE_FIELD, FALLBACK_CODES, "--code-field", required=False)
    name_field = _field(
        path, fields, name_field, NAME_FIELD, FALLBACK_NAMES, "--name-field", required=code_field is None
    )
    return [
        Feature(_text(props.get(code_field)), _text(props.get(name_field)), _polygon(path, i, shape))
        for i, (props, shape) in enumerate(records, start=1)
    ]


def _geojson_records(path: Path) -> list[tuple[dict, dict | None]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        where = (
            f" at line {error.lineno}, column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        raise InputError(f"{path.name} is not valid GeoJSON{where}. Download it again as GeoJSON.") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InputError(
            f"{path.name} is JSON but not a GeoJSON FeatureCollection. Download the "
            "boundaries as GeoJSON (a FeatureCollection of wards)."
        )
    return [(f.get("properties") or {}, f.get("geometry")) for f in data.get("features") or []]


def _shapefile_records(path: Path) -> list[tuple[dict, dict | None]]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).suffix.lower(): n for n in archive.namelist() if not n.startswith("__MACOSX")}
            if ".shp" not in names or ".dbf" not in names:
                raise InputError(
                    f"{path.name} holds no shapefile (.shp with its .dbf). Zip the .shp, .shx, "
                    ".dbf and .prj files together, or give a GeoJSON file."
                )
            parts = {k: io.BytesIO(archive.read(names[k])) for k in (".shp", ".shx", ".dbf") if k in names}
        reader = shapefile.Reader(shp=parts[".shp"], shx=parts.get(".shx"), dbf=parts[".dbf"])
        return [(dict(r.record.as_dict()), r.shape.__geo_interface__) for r in reader.iterShapeRecords()]
    except (zipfile.BadZipFile, shapefile.ShapefileException, OSError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(
            f"{path.name} could not be read as a zipped shapefile ({type(error).__name__}). "
            "Download it again, or give the GeoJSON version."
        ) from None


def _field(
    path: Path,
    fields: list[str],
    given: str | None,
    pattern: re.Pattern,
    fallbacks: tuple[str, ...],
    option: str,
    *,
    required: bool,
) -> str | None:
    if given:
        if given not in fields:
            raise InputError(
                f'{path.name} has no field "{given}" ({option}). Its fields are: {", ".join(fields)}.'
            )
        return given
    found = [f for f in fields if pattern.match(f)] or [f for f in fields if f.lower() in fallbacks]
    # Prefer ward fields (WD..) over others an ONS file may carry, such as the district's LAD20CD.
    found.sort(key=lambda f: (not f.upper().startswith("WD"), fields.index(f)))
    if found:
        return found[0]
    if required:
        raise InputError(
            f"{path.name}: no ward code or name field found. Its fields are: {', '.join(fields)}. "
            "Name them with --code-field and --name-field."
        )
    return None


def _text(value: object) -> str | None:
    # Control characters dropped: names reach terminals and pages.
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", str(value)).strip() if value is not None else ""
    return text or None


def _polygon(path: Path, position: int, geometry: dict | None) -> BaseGeometry:
    try:
        shape = shapely.geometry.shape(geometry) if geometry else None
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
        shape = None
    if shape is None or shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        kind = (geometry or {}).get("type", "no geometry") if isinstance(geometry, dict) else "no geometry"
        raise InputError(
            f"{path.name} ward {position}: its shape is {kind}, not a polygon. Boundary files "
            "hold one Polygon or MultiPolygon per ward; download the boundaries (not centroids)."
        )
    return shapely.make_valid(shape)


STORE_WARDS_QUERY = "SELECT DISTINCT ward FROM members WHERE ward IS NOT NULL AND ward <> '' ORDER BY ward"


def match(store_wards: list[str], features: list[Feature]) -> tuple[dict[str, int], BoundaryImport]:
    """Pair store wards with file wards: by code first, then by name (case and punctuation ignored).

    Returns:
        {store ward: index into features}, and a BoundaryImport holding the unmatched and ambiguous.
    """
    by_code, by_name = {}, {}
    for i, f in enumerate(features):
        if f.code:
            by_code.setdefault(boundaries.ward_key(f.code), []).append(i)
        if f.name:
            by_name.setdefault(boundaries.ward_key(f.name), []).append(i)
    pairs, ambiguous = {}, []
    for ward in store_wards:
        key = boundaries.ward_key(ward)
        found = by_code.get(key) or by_name.get(key) or []
        if len(found) == 1:
            pairs[ward] = found[0]
        elif found:
            ambiguous.append(ward)
    used = set(pairs.values())
    result = BoundaryImport(
        file="",
        features=len(features),
        matched={w: _label(features[i]) for w, i in pairs.items()},
        store_unmatched=[w for w in store_wards if w not in pairs and w not in ambiguous],
        file_unmatched=sorted(_label(f) for i, f in enumerate(features) if i not in used),
        ambiguous=ambiguous,
    )
    return pairs, result


def _label(feature: Feature) -> str:
    return " ".join(p for p in (feature.name, f"({feature.code})" if feature.code else None) if p)


def import_boundaries(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    dry_run: bool = False,
    actor: str = "workbench",
) -> BoundaryImport:
    """Read ward boundaries, match them to the store's wards, simplify them and store the matched ones.

    Args:
        path: a GeoJSON file or a zipped shapefile (ONS Open Geography style).
        code_field, name_field: the file's ward code and name fields (default: found, e.g. WD20CD, WD20NM).
        dry_run: match and report, write nothing.
        actor: who is importing, for the audit log.

    Returns:
        A BoundaryImport: what matched, what did not on either side, and how many were written.

    Raises:
        InputError: the file cannot be read as ward boundaries (see `read_features`).

    Examples:
        >>> import_boundaries(con, "Wards_December_2020.geojson").summary()  # doctest: +SKIP
    """
    path = Path(path)
    features = read_features(path, code_field=code_field, name_field=name_field)
    store_wards = [row[0] for row in con.execute(STORE_WARDS_QUERY).fetchall()]
    pairs, result = match(store_wards, features)
    result.file = path.name
    if dry_run or not pairs:
        return result
    wards = list(pairs)
    shapes = boundaries.simplify([features[pairs[w]].shape for w in wards])
    geographic = boundaries.is_geographic(shapely.total_bounds(shapes))
    frame = pd.DataFrame(
        {
            "ward": wards,
            "code": [features[pairs[w]].code for w in wards],
            "name": [features[pairs[w]].name for w in wards],
            "geometry": [boundaries.to_geojson(s) for s in shapes],
            "geographic": geographic,
        }
    )
    with transaction(con):
        result.written = boundaries.write(con, frame, path.name)
        audit(
            con,
            "import.boundaries",
            actor=actor,
            object_id=path.name,
            counts={
                "read": len(features),
                "written": result.written,
                "store_unmatched": len(result.store_unmatched),
                "file_unmatched": len(result.file_unmatched),
            },
        )
    return result


__all__ = ["BoundaryImport", "Feature", "import_boundaries", "match", "read_features"]
