"""Importing a services directory over one already held: what an organiser is told.

A council's Open Referral UK directory lists all its services, so one it no longer lists was removed
upstream; and a directory often repeats services an earlier spreadsheet listed under other ids.
Neither is changed silently: both stay offered, and the import says so, with the way to retire one.
"""

from __future__ import annotations

import csv

from workbench import ingest
from workbench.synthetic import tool_exports


def _without_first_service(folder):
    table = folder / "services.csv"
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with table.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], *rows[2:]])
    return rows[1][rows[0].index("id")]


def test_a_service_removed_from_the_directory_is_named_as_still_offered(con, tiny_org, tmp_path):
    folder = tool_exports.oruk_directory(tiny_org, tmp_path / "oruk")
    first = ingest.import_services(con, folder)
    assert first.loaded > 1 and not any("not in this directory" in w for w in first.warnings)
    removed = _without_first_service(folder)
    again = ingest.import_services(con, folder)
    assert any(w.startswith("1 active service in the store is not in this directory") and "inactive" in w
               for w in again.warnings), again.warnings
    status = con.execute("SELECT status FROM services WHERE service_id = ?", [removed]).fetchone()
    assert status == ("active",)


def test_a_plain_services_file_says_nothing_of_services_it_does_not_list(con, tmp_path):
    # A spreadsheet of a few services is not meant to list them all.
    files = {"a.csv": "S1,Northvale Food Bank,food", "b.csv": "S2,Northvale Befriending,isolation"}
    for name, row in files.items():
        (tmp_path / name).write_text(f"Service ID,Name,Category\n{row}\n")
        result = ingest.import_services(con, tmp_path / name)
    assert not any("not in this directory" in w for w in result.warnings)


def test_a_new_service_named_as_one_held_under_another_id_is_pointed_out(con, tiny_org, tmp_path):
    (tmp_path / "sheet.csv").write_text("Service ID,Name,Category\nS001,Northvale  food bank,food\n"
                                        "S002,Somewhere Else,other\n")
    ingest.import_services(con, tmp_path / "sheet.csv")
    (tmp_path / "new.csv").write_text("Service ID,Name,Category\nU-1,Northvale Food Bank,food\n"
                                      "U-2,Another Service,other\n")
    result = ingest.import_services(con, tmp_path / "new.csv")
    named = [w for w in result.warnings if "already held under another id" in w]
    assert len(named) == 1 and named[0].startswith("1 new service has the name")
    assert '"Northvale Food Bank"' in named[0]
    assert result.loaded == 2  # both kept: the warning says how to retire the older one
    # Updating the same ids again is not "new": no warning.
    (tmp_path / "new2.csv").write_text("Service ID,Name,Category\nU-1,Northvale Food Bank,food\n")
    assert not any("another id" in w for w in ingest.import_services(con, tmp_path / "new2.csv").warnings)


def test_a_service_whose_areas_name_no_ward_is_pointed_out(synthetic_con, tmp_path):
    # Areas compare with the members' wards without case or surrounding space; a service naming only
    # places that are no ward ("NV1", the town) would be offered in no ward, so the import says so.
    (tmp_path / "areas.csv").write_text(
        "Service ID,Name,Category,Areas\nA1,Town Larder,food,Northvale; NV1\n"
        "A2,Ward Larder,food, salt green \nA3,Everywhere Larder,food,\nA4,Far Larder,food,Nowhere\n")
    result = ingest.import_services(synthetic_con, tmp_path / "areas.csv")
    nowhere = [w for w in result.warnings if "no ward of the members" in w]
    assert len(nowhere) == 1 and nowhere[0].startswith("2 active services name only areas"), result.warnings
    assert '"NV1", "Northvale", "Nowhere"' in nowhere[0]


def test_areas_are_not_judged_before_any_member_has_a_ward(con, tmp_path):
    (tmp_path / "areas.csv").write_text("Service ID,Name,Category,Areas\nA1,Town Larder,food,Northvale\n")
    result = ingest.import_services(con, tmp_path / "areas.csv")
    assert not any("no ward of the members" in w for w in result.warnings)
