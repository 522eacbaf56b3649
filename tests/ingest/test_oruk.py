"""Open Referral UK directories (workbench/ingest/oruk.py): real folders of CSV tables in tmp_path.

Each directory here is shaped like a council's export: UUID ids, the standard's column names, and
the table names of ORUK 1.0 (services, taxonomy, services_taxonomy, ...) or 3.0 (attribute,
taxonomy_terms, service_at_location, address).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from workbench import ingest
from workbench.errors import InputError
from workbench.ingest import oruk

FOOD, FRIENDS, MONEY = (f"5a1e0c44-2222-4b7b-8b22-00000000000{i}" for i in (1, 2, 3))
SERVICES = [
    {"id": FOOD, "name": "Northvale Food Bank", "url": "https://food.example.org", "email": "",
     "status": "active"},
    {"id": FRIENDS, "name": "Northvale Befriending", "url": "https://friends.example.org", "email": "",
     "status": "active"},
    {"id": MONEY, "name": "Money Advice Northvale", "url": "https://money.example.org", "email": "",
     "status": "active"},
]
TERMS = {"t-food": "Food banks", "t-friends": "Befriending", "t-money": "Debt advice"}
LINKS = {FOOD: ["t-food"], FRIENDS: ["t-friends"], MONEY: ["t-money"]}


def write(folder: Path, name: str, rows: list[dict], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def directory(folder: Path, *, services=SERVICES, terms=TERMS, links=LINKS, areas=None, names=None) -> Path:
    """An ORUK 1.0 folder; `names` renames tables (say {"services": "service"})."""
    names = {"services": "services", "taxonomy": "taxonomy", "services_taxonomy": "services_taxonomy",
             "service_areas": "service_areas", **(names or {})}
    write(folder, f"{names['services']}.csv", services)
    write(folder, f"{names['taxonomy']}.csv",
          [{"id": i, "name": n, "parent_id": "", "vocabulary": "esdServiceTypes"} for i, n in terms.items()])
    write(folder, f"{names['services_taxonomy']}.csv",
          [{"id": f"st{n}", "service_id": s, "taxonomy_id": t}
           for n, (s, t) in enumerate((s, t) for s, ts in links.items() for t in ts)])
    areas = areas if areas is not None else {FOOD: ["Salt Hill"], FRIENDS: ["Kingsford", "Salt Hill"]}
    write(folder, f"{names['service_areas']}.csv",
          [{"id": f"a{n}", "service_id": s, "service_area": a, "extent": "", "uri": ""}
           for n, (s, a) in enumerate((s, a) for s, names_ in areas.items() for a in names_)])
    return folder


def held(con) -> dict[str, tuple]:
    rows = con.execute("SELECT service_id, category, areas, contact, status FROM services").fetchall()
    return {r[0]: (r[1], sorted(r[2]), r[3], r[4]) for r in rows}


# -- 1. no term maps to a category ---------------------------------------------------------------


def test_a_directory_of_services_alone_imports_them_under_other_and_says_why(con, tmp_path):
    write(tmp_path / "only", "services.csv", SERVICES)
    result = ingest.import_services(con, tmp_path / "only")
    assert result.loaded == 3
    assert {c for c, *_ in held(con).values()} == {"other"}
    assert any(w.startswith("No taxonomy tables beside services.csv") for w in result.warnings)


def test_terms_that_all_match_nothing_import_under_other_with_the_unmapped_warning(con, tmp_path):
    folder = directory(tmp_path / "d", terms={"t-food": "Older people", "t-friends": "Carers",
                                             "t-money": "Young adults"})
    result = ingest.import_services(con, folder)
    assert result.loaded == 3 and {c for c, *_ in held(con).values()} == {"other"}
    warning = next(w for w in result.warnings if "matched no need category" in w)
    assert '"Carers"' in warning and '"Older people"' in warning


# -- 2. singular and plural names, any case; no table from elsewhere -------------------------------


def test_a_datapackage_with_the_standards_singular_resource_names_is_read(con, tmp_path):
    folder = directory(tmp_path / "dp")
    write(folder, "services_at_location.csv", [{"id": "sl1", "service_id": MONEY, "location_id": "l1"}])
    write(folder, "physical_addresses.csv", [{"id": "p1", "location_id": "l1", "address_1": "1 High St",
                                              "postal_code": "NV1 1AA"}])
    resources = {"service": "services", "taxonomy": "taxonomy", "service_taxonomy": "services_taxonomy",
                 "service_area": "service_areas", "service_at_location": "services_at_location",
                 "physical_address": "physical_addresses"}
    package = {"name": "northvale", "resources": [
        {"name": n, "path": f"{p}.csv", "format": "csv", "mediatype": "text/csv"}
        for n, p in resources.items()
    ]}
    (folder / "datapackage.json").write_text(json.dumps(package))
    ingest.import_services(con, folder / "datapackage.json")
    services = held(con)
    assert services[FOOD][:2] == ("food", ["Salt Hill"])
    assert services[FRIENDS][:2] == ("isolation", ["Kingsford", "Salt Hill"])
    assert services[MONEY] == ("financial", [], "https://money.example.org", "active")


def test_a_folder_with_singular_or_capitalised_file_names_is_read(con, tmp_path):
    folder = directory(tmp_path / "d", names={"services": "Service", "services_taxonomy": "service_taxonomy",
                                              "service_areas": "SERVICE_AREA"})
    (folder / "Service.csv").rename(folder / "Service.CSV")
    result = ingest.import_services(con, folder)
    assert result.loaded == 3
    assert held(con)[FRIENDS][:2] == ("isolation", ["Kingsford", "Salt Hill"])


def test_a_folder_table_linked_to_a_file_outside_the_folder_is_refused(con, tmp_path):
    secret = write(tmp_path / "elsewhere", "people.csv", [{"id": "1", "name": "Not a service", "status": ""}])
    folder = directory(tmp_path / "d")
    (folder / "services.csv").unlink()
    (folder / "services.csv").symlink_to(secret)
    with pytest.raises(InputError, match="services.csv is a link to a file outside the folder"):
        ingest.import_services(con, folder)


# -- 3. ORUK 3.0: attribute and taxonomy_terms -------------------------------------------------------


def test_an_oruk_3_directory_links_services_to_terms_through_attribute(con, tmp_path):
    folder = tmp_path / "v3"
    org = "0b0f5a8e-1111-4a7a-9a11-000000000001"
    write(folder, "organizations.csv", [{"id": org, "name": "Northvale Trust", "description": "", "email": "",
                                         "website": "", "logo": "", "uri": "", "parent_organization_id": ""}])
    write(folder, "services.csv", [{"id": s["id"], "organization_id": org, "name": s["name"],
                                    "description": "", "url": s["url"], "email": "", "status": "active"}
                                   for s in SERVICES])
    write(folder, "taxonomies.csv", [{"id": "7a00", "name": "esdServiceTypes", "description": "", "uri": "",
                                      "version": ""}])
    write(folder, "taxonomy_terms.csv", [
        {"id": i, "name": n, "description": n, "parent_id": "", "taxonomy": "esdServiceTypes",
         "taxonomy_id": "7a00", "term_uri": "", "term": n} for i, n in TERMS.items()])
    links = [(FOOD, "t-food", "service"), (FRIENDS, "t-friends", "service"), (MONEY, "t-money", "service"),
             (org, "t-food", "organization")]  # about the organisation, not a service: not counted
    write(folder, "attribute.csv", [{"id": f"at{n}", "link_id": s, "taxonomy_term_id": t, "link_type": k}
                                    for n, (s, t, k) in enumerate(links)])
    write(folder, "service_areas.csv", [{"id": "sa1", "service_id": FOOD, "name": "Salt Hill", "extent": "",
                                         "extent_type": "", "uri": "", "service_area": "Salt Hill"}])
    write(folder, "service_at_location.csv", [{"id": "sl1", "service_id": MONEY, "location_id": "l1"}])
    write(folder, "address.csv", [{"id": "ad1", "location_id": "l1", "attention": "",
                                   "address_1": "1 High St", "city": "Northvale", "region": "",
                                   "state_province": "", "postal_code": "NV1 1AA", "country": "GB",
                                   "address_type": "physical"}])
    result = ingest.import_services(con, folder)
    services = held(con)
    categories = {s: c for s, (c, *_) in services.items()}
    assert categories == {FOOD: "food", FRIENDS: "isolation", MONEY: "financial"}
    assert services[FOOD][1] == ["Salt Hill"]
    assert not any("not in services.csv" in w for w in result.warnings)


# -- 4. ids compared without case or spaces; unknown ids counted -----------------------------------


def test_upper_case_ids_in_link_tables_still_link_and_unknown_ids_are_counted(con, tmp_path):
    stray = "9f9f9f9f-0000-4000-8000-000000000099"
    links = {FOOD.upper(): ["T-FOOD"], f" {FRIENDS} ": ["t-friends"], MONEY: ["t-money"], stray: ["t-food"]}
    areas = {FOOD.upper(): ["Salt Hill"], stray: ["Kingsford"]}
    folder = directory(tmp_path / "d", links=links, areas=areas)
    result = ingest.import_services(con, folder)
    services = held(con)
    assert services[FOOD][:2] == ("food", ["Salt Hill"])
    assert services[FRIENDS][0] == "isolation"
    unknown = [w for w in result.warnings if "not in services.csv" in w]
    assert any(w.startswith("1 row of services_taxonomy.csv") for w in unknown)
    assert any(w.startswith("1 row of service_areas.csv") for w in unknown)
    assert not any(stray in w for w in result.warnings)  # counted, never quoted


# -- 5. keywords, mapped "other", the unmapped list ----------------------------------------------


@pytest.mark.parametrize(
    ("term", "category"),
    [
        ("Mental health care", "mental_health"),
        ("Mental health and wellbeing support", "mental_health"),
        ("Debt counselling", "financial"),
        ("Financial wellbeing", "financial"),
        ("Health care at home", "medicine"),
        ("Prescription collection and delivery", "medicine"),
        ("Food banks and community meals", "food"),
        ("Food safety and hygiene", None),
        ("Assistive devices and equipment", None),
        ("Digital inclusion", "digital"),
        ("Device lending", "digital"),
        ("Befriending", "isolation"),
    ],
)
def test_a_term_takes_the_category_it_names(term, category):
    assert oruk.category_for(term) == category


def test_a_term_mapped_to_other_does_not_hide_a_real_match_and_only_unmatched_terms_are_listed(
    con, tmp_path
):
    terms = {"t-old": "Older people", "t-friends": "Befriending", "t-carers": "Carers",
             "t-hubs": "Community hubs"}
    links = {FRIENDS: ["t-old", "t-friends"], FOOD: ["t-old", "t-carers"], MONEY: ["t-hubs"]}
    folder = directory(tmp_path / "d", terms=terms, links=links)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[categories]\n"Older people" = "other"\n')
    result = ingest.import_services(con, folder, mapping=mapping)
    assert {s: c for s, (c, *_) in held(con).items()} == {FRIENDS: "isolation", FOOD: "other", MONEY: "other"}
    warning = next(w for w in result.warnings if "matched no need category" in w)
    assert warning.startswith("2 taxonomy terms") and '"Carers"' in warning and '"Community hubs"' in warning
    assert "Older people" not in warning  # mapped, so it matched


# -- 6. problems name services.csv's own lines and columns; the first of a duplicate stays ------


def test_problems_give_the_line_and_column_of_services_csv_and_keep_the_first_duplicate(con, tmp_path):
    services = [*SERVICES[::-1], {**SERVICES[1], "name": "Northvale Befriending (copy)"},
                {**SERVICES[0], "id": "0" + FOOD[1:], "name": ""}]
    folder = directory(tmp_path / "d", services=services)
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_services(con, folder)
    problems = rejected.value.result.problems
    assert list(zip(problems["row"], problems["column"], strict=True)) == [(5, "id"), (6, "name")]
    assert "row 3" in problems["problem"][0]  # the same service as line 3, its first listing
    assert set(problems["file"]) == {"services.csv"}
    assert "shorten" not in problems["fix"][0] and "remove the later row" in problems["fix"][0]

    ingest.import_services(con, folder, skip_invalid=True, rejects=tmp_path / "rejects.csv")
    names = dict(con.execute("SELECT service_id, name FROM services").fetchall())
    assert names[FRIENDS] == "Northvale Befriending"


# -- 7, 8, 9: NUL bytes, no status column, reader warnings ----------------------------------------


def test_nul_bytes_in_a_directory_are_stripped_as_in_any_file(con, tmp_path):
    folder = directory(tmp_path / "d", services=[{**SERVICES[0], "name": "Northvale\x00 Food Bank"}])
    ingest.import_services(con, folder)
    assert con.execute("SELECT name FROM services").fetchone()[0] == "Northvale Food Bank"


def test_a_services_table_without_status_lists_active_services(con, tmp_path):
    services = [{k: v for k, v in s.items() if k != "status"} for s in SERVICES]
    folder = directory(tmp_path / "d", services=services)
    assert ingest.import_services(con, folder).loaded == 3
    assert {s for *_, s in held(con).values()} == {"active"}


def test_a_table_read_in_another_encoding_says_so(con, tmp_path):
    folder = directory(tmp_path / "d")
    write(folder, "services.csv", [{**SERVICES[0], "name": "Café Northvale – food"}], encoding="cp1252")
    result = ingest.import_services(con, folder)
    assert any(w.startswith("services.csv is not UTF-8") for w in result.warnings)
    assert con.execute("SELECT name FROM services").fetchone()[0] == "Café Northvale – food"


# -- 10. the mapping is part of what was imported --------------------------------------------------


def test_the_same_folder_with_another_mapping_is_imported_again(con, tmp_path):
    folder = directory(tmp_path / "d", terms={**TERMS, "t-money": "Community hubs"})
    assert not ingest.import_services(con, folder).already_imported
    assert ingest.import_services(con, folder).already_imported
    mapping = tmp_path / "map.toml"
    mapping.write_text('[categories]\n"Community hubs" = "financial"\n')
    again = ingest.import_services(con, folder, mapping=mapping)
    assert not again.already_imported and again.updated == 1
    assert held(con)[MONEY][0] == "financial"
    assert ingest.import_services(con, folder, mapping=mapping).already_imported
    assert oruk.sha256(folder, {}) == oruk.sha256(folder, {"categories": {}})
