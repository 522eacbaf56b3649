"""Ward boundaries in: ONS-shaped GeoJSON and zipped shapefiles, matched to the store's wards."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import shapefile
import shapely

from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest.boundaries import import_boundaries, read_features
from workbench.store import boundaries, db

DATA = Path(__file__).parent / "data"
ONS = DATA / "wards_december_2020.geojson"  # fields WD20CD, WD20NM, LAD20CD... as ONS publishes them
# The store's spellings: a name with other punctuation, a code where a name would be, a name two
# districts share in the file, and a ward the file does not hold.
STORE_WARDS = ("st marys and holy cross", "E05999902", "Abbey", "Moorland")


def _members(con, wards=STORE_WARDS) -> None:
    for i, ward in enumerate(wards):
        con.execute(
            "INSERT INTO members (member_key, branch, ward, created_at, updated_at) "
            "VALUES (?, 'B', ?, now(), now())",
            [f"k{i}", ward],
        )


def test_ons_geojson_matches_by_name_or_code_and_reports_both_sides(con):
    _members(con)
    result = import_boundaries(con, ONS, actor="test")
    assert result.features == 5
    assert result.matched == {
        "st marys and holy cross": "St. Mary's & Holy Cross (E05999901)",
        "E05999902": "Northgate (E05999902)",
    }
    assert result.store_unmatched == ["Moorland"]
    assert result.ambiguous == ["Abbey"]  # two file wards called Abbey: not guessed
    assert result.file_unmatched == ["Abbey (E05999903)", "Abbey (E05999904)", "Riverside (E05999905)"]
    assert result.written == 2
    summary = result.summary()
    assert "1 store wards with no boundary: Moorland" in summary
    assert "Riverside (E05999905)" in summary and "--code-field" in summary
    stored = boundaries.read(con)
    assert list(stored["ward"]) == ["E05999902", "st marys and holy cross"]
    assert list(stored["code"]) == ["E05999902", "E05999901"] and stored["geographic"].all()
    assert set(stored["source"]) == {ONS.name}


def test_shapes_are_simplified_and_stay_valid(con):
    _members(con)
    import_boundaries(con, ONS, actor="test")
    original = {f.code: f.shape for f in read_features(ONS)}
    for code, text in zip(*boundaries.read(con)[["code", "geometry"]].T.values, strict=True):
        shape = shapely.geometry.shape(json.loads(text))
        assert shape.is_valid and shape.geom_type == "MultiPolygon"
        assert shapely.get_num_coordinates(shape) < shapely.get_num_coordinates(original[code]) / 2
        # Simplified for display, not distorted: nearly all of the ward is still covered.
        assert shape.intersection(original[code]).area / original[code].area > 0.97


def test_dry_run_writes_nothing_and_import_is_audited(con):
    _members(con)
    assert import_boundaries(con, ONS, dry_run=True).written == 0
    assert boundaries.read(con).empty
    import_boundaries(con, ONS, actor="ana")
    action, actor = con.execute("SELECT action, actor FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert (action, actor) == ("import.boundaries", "ana")


def test_reimport_replaces_a_wards_shape(con):
    _members(con)
    import_boundaries(con, ONS, actor="test")
    import_boundaries(con, ONS, actor="test")
    assert len(boundaries.read(con)) == 2


def _zipped_shapefile(tmp_path: Path, fields=("WD20CD", "WD20NM")) -> Path:
    base = tmp_path / "Wards_December_2020_UK_BFC"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON) as writer:
        for name in fields:
            writer.field(name, "C", size=60)
        # British National Grid metres, as ONS shapefiles come.
        writer.poly(
            [[(430000, 380000), (430000, 381500), (431800, 381500), (431800, 380000), (430000, 380000)]]
        )
        writer.record("E05999901", "St Mary's and Holy Cross")
        writer.poly(
            [[(431800, 380000), (431800, 381500), (433000, 381500), (433000, 380000), (431800, 380000)]]
        )
        writer.record("E05999910", "Moorland")
    archive = tmp_path / "wards.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for suffix in (".shp", ".shx", ".dbf"):
            zipped.write(base.with_suffix(suffix), base.with_suffix(suffix).name)
    return archive


def test_zipped_shapefile_in_metres(con, tmp_path):
    _members(con)
    result = import_boundaries(con, _zipped_shapefile(tmp_path), actor="test")
    assert set(result.matched) == {"st marys and holy cross", "Moorland"}
    stored = boundaries.read(con)
    assert not stored["geographic"].any()
    saint = stored.set_index("ward").loc["st marys and holy cross", "geometry"]
    assert shapely.geometry.shape(json.loads(saint)).area == pytest.approx(1800 * 1500, rel=0.01)


def test_named_fields_are_used_and_a_missing_one_lists_the_fields(con, tmp_path):
    _members(con, ["Lark Hill"])
    archive = _zipped_shapefile(tmp_path, fields=("WARD_ID", "LABEL"))
    with pytest.raises(InputError, match=r'no field "NAME" \(--name-field\). Its fields are: WARD_ID, LABEL'):
        import_boundaries(con, archive, name_field="NAME")
    result = import_boundaries(con, archive, name_field="LABEL", code_field="WARD_ID", dry_run=True)
    assert result.file_unmatched == ["Moorland (E05999910)", "St Mary's and Holy Cross (E05999901)"]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("wards.csv", "a,b\n", r"unsupported file extension '\.csv'. Supported formats: \.geojson"),
        ("wards.geojson", '{"type": "FeatureCollection", "features": [', r"not valid GeoJSON at line 1"),
        ("wards.json", '{"type": "Topology"}', r"not a GeoJSON FeatureCollection"),
        (
            "wards.geojson",
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"WD20CD": "E05999901", "WD20NM": "X"},
                            "geometry": {"type": "Point", "coordinates": [0, 51]},
                        }
                    ],
                }
            ),
            r"wards.geojson ward 1: its shape is Point, not a polygon",
        ),
        ("wards.zip", "not a zip", r"could not be read as a zipped shapefile"),
    ],
)
def test_bad_files_are_explained_and_change_nothing(con, tmp_path, name, content, message):
    _members(con)
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        import_boundaries(con, path)
    assert boundaries.read(con).empty


def test_cli_imports_and_reports(store_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "correct horse battery staple")
    with db.session(store_path, "correct horse battery staple") as con:
        _members(con)
    rc = main(["import", "boundaries", str(ONS), "--db", str(store_path), "--by", "test"])
    out = capsys.readouterr().out
    assert rc == 0 and "5 wards read; 2 matched the store's wards; 2 written." in out
    assert main(["import", "boundaries", str(ONS) + ".missing", "--db", str(store_path)]) != 0
    assert "no such file" in capsys.readouterr().err


def test_an_older_store_is_upgraded_to_hold_boundaries(store_path):
    with db.session(store_path, "correct horse battery staple") as con:
        con.execute("DROP TABLE ward_boundaries")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with db.session(store_path, "correct horse battery staple") as con:
        assert db.store_info(con).schema_version == db.SCHEMA_VERSION
        assert boundaries.read(con).empty
