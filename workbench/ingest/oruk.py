"""Open Referral UK (HSDS) directories: a council's folder of tables, or its datapackage.json.

The tables read are services, taxonomy, services_taxonomy, service_areas (and, when present,
locations, physical_addresses and services_at_location, for a postcode to contact a service at).
They are joined in DuckDB into one row per service, shaped like a plain services file
(service_id = the ORUK id, so a re-import updates rather than duplicates), and then checked and
written like any other services import.

Taxonomy terms become need categories through KEYWORDS, a documented table of words: a term
holding one of a category's words takes that category ("Food banks and community meals" -> food,
"Befriending" -> isolation). A mapping file's [categories] table ("Term name" = "category") wins
over the keywords. A service whose terms match nothing is filed under "other", and the import
says which terms those were.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from workbench.errors import InputError
from workbench.ingest import files
from workbench.ingest.files import ROW, SourceFile
from workbench.ingest.headers import normalise
from workbench.vocabulary import NEED_CATEGORIES

TABLES = ("services", "taxonomy", "services_taxonomy", "service_areas")
OPTIONAL = ("locations", "physical_addresses", "services_at_location")
STATUSES = ("active", "inactive", "defunct", "temporarily closed")

# Need category -> words a taxonomy term may hold. Checked in this order, so a term naming two
# (say "Food and money advice") takes the first. Words compare in lower case, as whole words or
# word starts ("befriend" finds "Befriending").
KEYWORDS: dict[str, tuple[str, ...]] = {
    "food": ("food", "meal", "grocer", "pantry", "lunch club", "nutrition"),
    "medicine": ("medicine", "prescription", "pharmac", "medical", "health care", "healthcare"),
    "mental_health": ("mental", "wellbeing", "anxiety", "depression", "counselling", "bereavement"),
    "isolation": ("befriend", "loneliness", "lonely", "isolation", "social group", "companionship"),
    "financial": ("financ", "money", "debt", "benefit", "welfare rights", "grant"),
    "housing": ("housing", "homeless", "accommodation", "tenancy", "rent"),
    "digital": ("digital", "internet", "online", "computer", "device", "broadband"),
}


@dataclass
class Directory:
    """An ORUK directory staged as a services file, and what its taxonomy taught us."""

    staged: SourceFile
    sha256: str
    unmapped_terms: list[str] = field(default_factory=list)


def is_directory(path: Path) -> bool:
    """True when `path` is an ORUK folder or its datapackage.json."""
    if path.is_dir():
        return True
    return path.name.lower() == "datapackage.json" and path.is_file()


def _tables(path: Path) -> dict[str, Path]:
    if path.is_file():  # datapackage.json: its resources name each table's file
        try:
            package = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as error:
            raise InputError(f"{path.name} cannot be read as a datapackage.json ({error}).") from None
        tables = {
            str(r.get("name", "")).lower(): path.parent / str(r["path"])
            for r in package.get("resources", [])
            if isinstance(r, dict) and isinstance(r.get("path"), str)
        }
        # A package names files beside it; never one elsewhere on the machine.
        folder = path.parent.resolve()
        outside = [t for t in tables.values() if not t.resolve().is_relative_to(folder)]
        if outside:
            raise InputError(
                f"{path.name} names a table outside its folder ({outside[0].name}); an Open Referral UK "
                "package keeps its tables beside datapackage.json."
            )
        return tables
    return {p.stem.lower(): p for p in path.glob("*.csv")}


def _checked(path: Path) -> dict[str, Path]:
    tables = _tables(path)
    missing = [t for t in TABLES if t not in tables or not tables[t].is_file()]
    if "services" in missing:
        raise InputError(
            f"{path.name}: no services table, so this is not an Open Referral UK directory. Expected "
            f"one CSV per table: {', '.join(TABLES + OPTIONAL)} (or a datapackage.json naming them)."
        )
    return tables


def sha256(path: Path) -> str:
    """One digest over every table file (in name order), so the same directory twice is recognised."""
    digest = hashlib.sha256()
    for name, table in sorted(_checked(path).items()):
        digest.update(name.encode() + b"\0")
        with open(table, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def category_for(term: str, mapping: dict[str, str] | None = None) -> str | None:
    """The need category a taxonomy term names, or None.

    Examples:
        >>> category_for("Food banks and community meals"), category_for("Befriending")
        ('food', 'isolation')
    """
    for label, category in (mapping or {}).items():
        if normalise(label) == normalise(term):
            return category
    words = " " + " ".join(str(term).lower().replace("-", " ").replace("/", " ").split()) + " "
    for category, keywords in KEYWORDS.items():
        if any(f" {k}" in words for k in keywords):
            return category
    return None



# One row per service: its terms (for the category), its areas, a contact and its status.
SERVICES = """
CREATE OR REPLACE TEMP TABLE ingest_oruk AS
SELECT row_number() OVER (ORDER BY s.id) + 1 AS ROW_COLUMN,
       s.id AS service_id, s.name, c.category, a.areas, coalesce(s.email, s.url{postcode}) AS contact,
       NULL AS aliases, lower(trim(s.status)) AS status
FROM temp.oruk_services s
LEFT JOIN (
    SELECT st.service_id, arg_min(m.category, m.priority) AS category
    FROM temp.oruk_services_taxonomy st JOIN temp.oruk_terms m ON m.taxonomy_id = st.taxonomy_id
    GROUP BY 1
) c ON c.service_id = s.id
LEFT JOIN (
    SELECT service_id, string_agg(DISTINCT trim(service_area), '; ' ORDER BY trim(service_area)) AS areas
    FROM temp.oruk_service_areas WHERE nullif(trim(service_area), '') IS NOT NULL GROUP BY 1
) a ON a.service_id = s.id
{locations}
""".replace("ROW_COLUMN", ROW)

LOCATION = """
LEFT JOIN (
    SELECT sl.service_id, min(pa.postal_code) AS postal_code
    FROM temp.oruk_services_at_location sl JOIN temp.oruk_physical_addresses pa USING (location_id)
    GROUP BY 1
) l ON l.service_id = s.id
"""

TERMS = "SELECT DISTINCT id, name FROM temp.oruk_taxonomy WHERE name IS NOT NULL"
UNMAPPED = """
SELECT DISTINCT t.name FROM temp.oruk_services_taxonomy st JOIN temp.oruk_taxonomy t ON t.id = st.taxonomy_id
WHERE st.service_id IN (SELECT service_id FROM temp.ingest_oruk WHERE category = 'other') ORDER BY 1
"""


def stage(con: duckdb.DuckDBPyConnection, path: Path, mapping: dict) -> Directory:
    """Read the directory's tables and stage one row per service as temp.ingest_oruk (all text).

    Args:
        path: the folder, or its datapackage.json.
        mapping: the loaded mapping file; its [categories] maps taxonomy term names to categories.

    Raises:
        InputError: no services table, a table that cannot be read, or a [categories] entry naming
        something that is not a need category.
    """
    tables = _checked(path)
    extra = mapping.get("categories", {})
    bad = {k: v for k, v in extra.items() if v not in NEED_CATEGORIES}
    if bad:
        label, value = next(iter(bad.items()))
        raise InputError(
            f'Mapping [categories]: "{label}" maps to "{value}", which is not a need category. '
            f"Categories: {', '.join(NEED_CATEGORIES)}."
        )
    for name in TABLES + OPTIONAL:
        if name in tables and tables[name].is_file():
            _read(con, name, tables[name])
        elif name in TABLES[1:]:
            con.execute(f"CREATE OR REPLACE TEMP TABLE oruk_{name} AS {EMPTY[name]}")
    _terms(con, extra)
    has_locations = all(t in tables for t in ("services_at_location", "physical_addresses"))
    con.execute(
        SERVICES.format(
            postcode=", l.postal_code" if has_locations else "",
            locations=LOCATION if has_locations else "",
        )
    )
    con.execute("UPDATE temp.ingest_oruk SET category = 'other' WHERE category IS NULL")
    unmapped = [r[0] for r in con.execute(UNMAPPED).fetchall()]
    headers = ["service_id", "name", "category", "areas", "contact", "aliases", "status"]
    rows = con.execute("SELECT count(*) FROM temp.ingest_oruk").fetchone()[0]
    return Directory(SourceFile("ingest_oruk", headers, rows, "oruk", nul_free=True), sha256(path), unmapped)


EMPTY = {
    "taxonomy": "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS name WHERE FALSE",
    "services_taxonomy": "SELECT NULL::VARCHAR AS service_id, NULL::VARCHAR AS taxonomy_id WHERE FALSE",
    "service_areas": "SELECT NULL::VARCHAR AS service_id, NULL::VARCHAR AS service_area WHERE FALSE",
}


def _read(con: duckdb.DuckDBPyConnection, name: str, table: Path) -> None:
    # Through the one guarded reader: the same size, column and field limits, encodings and
    # ragged-row handling as any export, so a hostile table is refused as any file would be.
    columns = set(files.stage(con, table, table=f"oruk_{name}").headers)
    wanted = {
        "services": {"id", "name", "status"},
        "taxonomy": {"id", "name"},
        "services_taxonomy": {"service_id", "taxonomy_id"},
        "service_areas": {"service_id", "service_area"},
        "services_at_location": {"service_id", "location_id"},
        "physical_addresses": {"location_id"},
    }
    missing = sorted(wanted.get(name, set()) - columns)
    if missing:
        raise InputError(
            f"{table.name}: no column {missing[0]}; an Open Referral UK {name} table has "
            f"{', '.join(sorted(wanted[name]))}. Found: {', '.join(sorted(columns))}."
        )
    for optional in ("email", "url", "postal_code"):
        if name in ("services", "physical_addresses") and optional not in columns:
            con.execute(f"ALTER TABLE temp.oruk_{name} ADD COLUMN {optional} VARCHAR")


def _terms(con: duckdb.DuckDBPyConnection, extra: dict[str, str]) -> None:
    # Per distinct term, not per service: a directory has a few hundred terms at most.
    terms = con.execute(TERMS).fetchall()
    order = {c: i for i, c in enumerate(KEYWORDS)}
    rows = [(i, category_for(n, extra)) for i, n in terms]
    frame = pd.DataFrame(
        [(i, c, order.get(c, -1)) for i, c in rows if c], columns=["taxonomy_id", "category", "priority"]
    ).astype({"taxonomy_id": object, "category": object, "priority": "int64"})
    con.register("oruk_frame", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE oruk_terms AS SELECT * FROM oruk_frame")
    finally:
        con.unregister("oruk_frame")


__all__ = ["Directory", "KEYWORDS", "STATUSES", "category_for", "is_directory", "sha256", "stage"]
