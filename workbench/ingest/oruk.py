"""Open Referral UK (HSDS) directories: a council's folder of tables, or its datapackage.json.

What is read, by table (a folder's CSV files are matched by name in any case, singular or
plural; a datapackage.json's resources by their name or their file's name, either way):

- service (services.csv): id, name, and status, url and email when present (no status = active);
- the terms each service is filed under: in the original ORUK profile (1.0) service_taxonomy
  (services_taxonomy.csv: service_id, taxonomy_id) with taxonomy (taxonomy.csv: id, name); in ORUK 3.0
  attribute (attribute.csv: link_id, taxonomy_term_id) with taxonomy_term (taxonomy_terms.csv: id, name);
- service_area (service_areas.csv): service_id, service_area;
- when present, service_at_location with physical_address (1.0) or address (3.0), for a postcode
  to contact a service at.

Every other table (organizations, locations, contacts, ...) is left alone. Ids are compared in
lower case without surrounding spaces, since exports from SQL Server write GUIDs in upper case.
The tables are joined in DuckDB into one row per service, shaped like a plain services file (id =
the ORUK id, so a re-import updates rather than duplicates) and carrying services.csv's own row
numbers, then checked and written like any other services import.

Taxonomy terms become need categories through KEYWORDS, a documented table of words: a term
holding one of a category's words takes that category ("Food banks and community meals" -> food,
"Befriending" -> isolation); general words such as "wellbeing" or "health care" decide only when
no other word did. A mapping file's [categories] table ("Term name" = "category") wins over the
keywords. A service takes the first category (in KEYWORDS order) of its terms; one whose terms
match nothing, or are mapped to "other", is filed under "other", and the import lists the terms
that matched nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.errors import InputError
from workbench.ingest import files
from workbench.ingest.files import ROW, SourceFile
from workbench.ingest.headers import normalise
from workbench.vocabulary import NEED_CATEGORIES

# Each table read -> the names a directory may give it: the standard's resource name (singular),
# then its file's name (mostly plural). The first name found wins.
NAMES: dict[str, tuple[str, ...]] = {
    "services": ("service", "services"),
    "taxonomy": ("taxonomy",),
    "services_taxonomy": ("service_taxonomy", "services_taxonomy", "service_taxonomies"),
    "taxonomy_term": ("taxonomy_term", "taxonomy_terms"),
    "attribute": ("attribute", "attributes"),
    "service_areas": ("service_area", "service_areas"),
    "services_at_location": ("service_at_location", "services_at_location", "service_at_locations"),
    "physical_addresses": ("physical_address", "physical_addresses"),
    "address": ("address", "addresses"),
}
# The columns each must have. Others used when present: status, url, email (services),
# postal_code (addresses), link_entity and link_type (attribute).
COLUMNS: dict[str, tuple[str, ...]] = {
    "services": ("id", "name"),
    "taxonomy": ("id", "name"),
    "services_taxonomy": ("service_id", "taxonomy_id"),
    "taxonomy_term": ("id", "name"),
    "attribute": ("link_id", "taxonomy_term_id"),
    "service_areas": ("service_id", "service_area"),
    "services_at_location": ("service_id", "location_id"),
    "physical_addresses": ("location_id",),
    "address": ("location_id",),
}
OPTIONAL_COLUMNS = {
    "services": ("status", "url", "email"),
    "physical_addresses": ("postal_code",),
    "address": ("postal_code",),
    "attribute": ("link_entity", "link_type"),
}
# A table linking services to terms, and the table naming those terms: ORUK 1.0, then 3.0. A term
# table is read only beside its link table (3.0's "taxonomy" resource lists taxonomies, not terms).
TERM_TABLES = (("services_taxonomy", "taxonomy"), ("attribute", "taxonomy_term"))
STATUSES = ("active", "inactive", "defunct", "temporarily closed")

# Need category -> words a taxonomy term may hold. Checked in this order, so a term naming two
# (say "Food and money advice") takes the first. Words compare in lower case, as whole words or
# word starts ("befriend" finds "Befriending").
KEYWORDS: dict[str, tuple[str, ...]] = {
    "food": ("food", "meal", "grocer", "pantry", "lunch club", "nutrition"),
    "mental_health": ("mental", "anxiety", "depression", "bereavement"),
    "medicine": ("medicine", "prescription", "pharmac", "medical"),
    "isolation": ("befriend", "loneliness", "lonely", "isolation", "social group", "companionship"),
    "financial": ("financ", "money", "debt", "benefit", "welfare rights", "grant"),
    "housing": ("housing", "homeless", "accommodation", "tenancy", "rent"),
    "digital": ("digital", "internet", "online", "computer", "device", "laptop", "broadband", "wifi"),
}
# Words that say what kind of help, not what it is for ("Debt counselling" is money advice,
# "Mental health care" is not medicine): they decide only when no word above matched.
GENERAL: dict[str, tuple[str, ...]] = {
    "mental_health": ("wellbeing", "counselling"),
    "medicine": ("health care", "healthcare"),
}
# Terms that name none of the categories, whatever else they hold: a council's regulation of food
# businesses ("Food safety and hygiene"), and equipment for disabled people ("Assistive devices").
NOT_A_NEED = ("food safety", "food hygiene", "assistive")


@dataclass
class Directory:
    """An ORUK directory staged as a services file, and what its taxonomy taught us."""

    staged: SourceFile
    sha256: str
    unmapped_terms: list[str] = field(default_factory=list)
    services_file: str = "services.csv"  # the file row problems are about


def is_directory(path: Path) -> bool:
    """True when `path` is an ORUK folder or its datapackage.json."""
    if path.is_dir():
        return True
    return path.name.lower() == "datapackage.json" and path.is_file()


def _listing(path: Path) -> list[tuple[str, Path]]:
    """(name, file) for every table: a package's resources by name, or a folder's CSV files by stem."""
    if path.is_file():  # datapackage.json: its resources name each table's file
        try:
            package = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as error:
            raise InputError(f"{path.name} cannot be read as a datapackage.json ({error}).") from None
        resources = package.get("resources", []) if isinstance(package, dict) else []
        listing = [
            (str(r.get("name", "")).lower(), path.parent / r["path"])
            for r in resources
            if isinstance(r, dict) and isinstance(r.get("path"), str)
        ]
    else:
        listing = sorted((p.stem.lower(), p) for p in path.iterdir() if p.suffix.lower() == ".csv")
    # A directory's tables sit beside each other; never a file elsewhere on the machine, whether
    # named by the package or reached through a symbolic link in the folder.
    folder = (path.parent if path.is_file() else path).resolve()
    for _, table in listing:
        if not table.resolve().is_relative_to(folder):
            where = (
                f"{path.name} names a table outside its folder ({table.name})" if path.is_file()
                else f"{path.name}: {table.name} is a link to a file outside the folder"
            )
            raise InputError(
                f"{where}; an Open Referral UK directory keeps its tables in one folder. Copy the "
                "table into the folder and import again."
            )
    return [(name, table) for name, table in listing if table.is_file()]


def _tables(path: Path) -> dict[str, Path]:
    """Each table read (a key of NAMES) -> its file, for the tables the directory has."""
    listing = _listing(path)
    # A resource is found by its name or its file's name (a package's "service" is services.csv).
    found = listing + [(table.stem.lower(), table) for _, table in listing]
    tables = {}
    for name, aliases in NAMES.items():
        for alias in aliases:
            files_ = {t.resolve(): t for key, t in found if key == alias and t.is_file()}
            if len(files_) > 1:
                shown = " and ".join(sorted(t.name for t in files_.values()))
                raise InputError(
                    f"{path.name} holds {shown}: two files for the {name} table. Keep one and import again."
                )
            if files_:
                tables[name] = next(iter(files_.values()))
                break
    if "services" not in tables:
        raise InputError(
            f"{path.name}: no services table, so this is not an Open Referral UK directory. Expected "
            "a folder of CSV files, one per table: services.csv (or service.csv), with "
            "services_taxonomy.csv and taxonomy.csv (or, in ORUK 3.0, attribute.csv and "
            "taxonomy_terms.csv) and service_areas.csv; or a datapackage.json naming them."
        )
    return tables


def sha256(path: Path, mapping: dict | None = None) -> str:
    """One digest over every table file (in name order) and the mapping's [categories], so the same
    directory imported twice is recognised, but not the same directory filed differently."""
    _tables(path)  # refuse what is not a directory before reading anything
    digest = hashlib.sha256()
    for name, table in sorted(_listing(path)):
        digest.update(name.encode() + b"\0")
        with open(table, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    categories = _categories(mapping or {})
    if categories:  # only then, so a directory imported without a mapping keeps its digest
        labels = sorted((normalise(k), v) for k, v in categories.items())
        digest.update(b"[categories]\0" + json.dumps(labels).encode())
    return digest.hexdigest()


def _categories(mapping: dict) -> dict[str, str]:
    """The mapping file's [categories], checked: term name -> need category."""
    extra = mapping.get("categories", {})
    if not isinstance(extra, dict):
        raise InputError('Mapping [categories] must be a table of "Term name" = "category" lines.')
    bad = {k: v for k, v in extra.items() if v not in NEED_CATEGORIES}
    if bad:
        label, value = next(iter(bad.items()))
        raise InputError(
            f'Mapping [categories]: "{label}" maps to "{value}", which is not a need category. '
            f"Categories: {', '.join(NEED_CATEGORIES)}."
        )
    return extra


def category_for(term: str, mapping: dict[str, str] | None = None) -> str | None:
    """The need category a taxonomy term names, or None.

    Examples:
        >>> category_for("Food banks and community meals"), category_for("Befriending")
        ('food', 'isolation')
        >>> category_for("Mental health care"), category_for("Food safety and hygiene")
        ('mental_health', None)
    """
    for label, category in (mapping or {}).items():
        if normalise(label) == normalise(term):
            return category
    words = " " + " ".join(str(term).lower().replace("-", " ").replace("/", " ").split()) + " "
    if any(f" {k}" in words for k in NOT_A_NEED):
        return None
    for table in (KEYWORDS, GENERAL):
        for category, keywords in table.items():
            if any(f" {k}" in words for k in keywords):
                return category
    return None


def _key(column: str) -> str:
    """SQL: an id as compared, in lower case without surrounding spaces."""
    return f"lower(trim({column}))"


# One row per service, in services.csv's order and with its row numbers: its terms' category
# (by KEYWORDS order; "other" last), its areas, a contact and its status.
SERVICES = f"""
CREATE OR REPLACE TEMP TABLE ingest_oruk AS
SELECT s.{ROW} AS {ROW}, s.id, s.name, coalesce(c.category, 'other') AS category, a.areas,
       coalesce(s.email, s.url{{postcode}}) AS contact, NULL::VARCHAR AS aliases,
       lower(trim(s.status)) AS status
FROM temp.oruk_services s
LEFT JOIN (
    SELECT l.service_key, arg_min(t.category, t.priority) AS category
    FROM temp.oruk_links l JOIN temp.oruk_terms t USING (term_key)
    WHERE t.category IS NOT NULL GROUP BY 1
) c ON c.service_key = {_key("s.id")}
LEFT JOIN (
    SELECT {_key("service_id")} AS service_key,
           string_agg(DISTINCT trim(service_area), '; ' ORDER BY trim(service_area)) AS areas
    FROM temp.oruk_service_areas WHERE nullif(trim(service_area), '') IS NOT NULL GROUP BY 1
) a ON a.service_key = {_key("s.id")}
{{locations}}
ORDER BY s.{ROW}
"""

LOCATION = f"""
LEFT JOIN (
    SELECT {_key("sl.service_id")} AS service_key, min(nullif(trim(pa.postal_code), '')) AS postal_code
    FROM temp.oruk_services_at_location sl
    JOIN temp.oruk_{{addresses}} pa ON {_key("pa.location_id")} = {_key("sl.location_id")}
    GROUP BY 1
) l ON l.service_key = {_key("s.id")}
"""

# Every (service, term) link, from whichever link tables the directory has. An attribute row is
# a service's when its link_id is a service's id (link_type is an open list: "service", or what
# the term describes, such as eligibility).
LINKS = f"""
CREATE OR REPLACE TEMP TABLE oruk_links AS
SELECT {_key("service_id")} AS service_key, {_key("taxonomy_id")} AS term_key FROM temp.oruk_services_taxonomy
UNION ALL
SELECT {_key("link_id")}, {_key("taxonomy_term_id")} FROM temp.oruk_attribute
"""

TERMS = f"""
SELECT DISTINCT {_key("id")}, replace(trim(name), chr(0), '') FROM temp.oruk_taxonomy
WHERE name IS NOT NULL
UNION
SELECT DISTINCT {_key("id")}, replace(trim(name), chr(0), '') FROM temp.oruk_taxonomy_term
WHERE name IS NOT NULL
"""

TERM_CATEGORIES = """
CREATE OR REPLACE TEMP TABLE oruk_terms AS
SELECT unnest(?::VARCHAR[]) AS term_key, unnest(?::VARCHAR[]) AS name, unnest(?::VARCHAR[]) AS category,
       unnest(?::INTEGER[]) AS priority
"""

# Terms that matched nothing, of services filed under "other" for want of any match.
UNMAPPED = f"""
SELECT DISTINCT t.name FROM temp.oruk_links l JOIN temp.oruk_terms t USING (term_key)
WHERE t.category IS NULL
  AND l.service_key IN (SELECT {_key("id")} FROM temp.ingest_oruk WHERE category = 'other')
ORDER BY 1
"""

# Rows of a table about services whose service id is in no row of services.csv.
UNKNOWN_SERVICE = f"""
SELECT count(*) FROM temp.oruk_{{table}}
WHERE nullif(trim({{column}}), '') IS NOT NULL AND {{about_services}}
  AND {_key("{column}")} NOT IN (SELECT {_key("id")} FROM temp.oruk_services WHERE id IS NOT NULL)
"""
LINKED_BY = {
    "services_taxonomy": ("service_id", "TRUE"),
    "service_areas": ("service_id", "TRUE"),
    "services_at_location": ("service_id", "TRUE"),
    # Only rows that say they are about a service: others describe organisations, locations, ...
    "attribute": ("link_id", "lower(trim(coalesce(nullif(trim(link_entity), ''), link_type))) = 'service'"),
}

EMPTY = {
    "taxonomy": "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS name WHERE FALSE",
    "taxonomy_term": "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS name WHERE FALSE",
    "services_taxonomy": "SELECT NULL::VARCHAR AS service_id, NULL::VARCHAR AS taxonomy_id WHERE FALSE",
    "attribute": "SELECT NULL::VARCHAR AS link_id, NULL::VARCHAR AS taxonomy_term_id WHERE FALSE",
    "service_areas": "SELECT NULL::VARCHAR AS service_id, NULL::VARCHAR AS service_area WHERE FALSE",
}


def stage(con: duckdb.DuckDBPyConnection, path: Path, mapping: dict) -> Directory:
    """Read the directory's tables and stage one row per service as temp.ingest_oruk (all text).

    Args:
        path: the folder, or its datapackage.json.
        mapping: the loaded mapping file; its [categories] maps taxonomy term names to categories.

    Raises:
        InputError: no services table, a table that cannot be read or lacks a column, or a
        [categories] entry naming something that is not a need category.
    """
    tables = _tables(path)
    extra = _categories(mapping)
    wanted = _wanted(tables)
    read = [_read(con, name, tables[name]) for name in wanted]
    for name in EMPTY.keys() - wanted:
        con.execute(f"CREATE OR REPLACE TEMP TABLE oruk_{name} AS {EMPTY[name]}")
    con.execute(LINKS)
    _terms(con, extra)
    addresses = next((t for t in ("physical_addresses", "address") if t in wanted), None)
    located = "services_at_location" in wanted and addresses
    con.execute(
        SERVICES.format(
            postcode=", l.postal_code" if located else "",
            locations=LOCATION.format(addresses=addresses) if located else "",
        )
    )
    unmapped = [r[0] for r in con.execute(UNMAPPED).fetchall()]
    headers = ["id", "name", "category", "areas", "contact", "aliases", "status"]
    rows = con.execute("SELECT count(*) FROM temp.ingest_oruk").fetchone()[0]
    warnings = [w for staged in read for w in staged.warnings]
    warnings += _term_warnings(tables) + _unknown_services(con, tables)
    # As a plain file: NUL bytes are stripped from the cells unless no table read holds one.
    nul_free = all(staged.nul_free for staged in read)
    staged = SourceFile("ingest_oruk", headers, rows, "oruk", warnings=warnings, nul_free=nul_free)
    return Directory(staged, sha256(path, mapping), unmapped, tables["services"].name)


def _wanted(tables: dict[str, Path]) -> list[str]:
    """The tables to read: all found, but a term table only beside its link table."""
    unread = {terms for links, terms in TERM_TABLES if links not in tables}
    return [name for name in tables if name not in unread]


def _read(con: duckdb.DuckDBPyConnection, name: str, table: Path) -> SourceFile:
    # Through the one guarded reader: the same size, column and field limits, encodings and
    # ragged-row handling as any export, so a hostile table is refused as any file would be.
    staged = files.stage(con, table, table=f"oruk_{name}")
    # Headers as the file writes them ("ID"), preferring one already in lower case ("id").
    columns = {h.lower(): h for h in reversed(staged.headers)} | {h: h for h in staged.headers if h.islower()}
    missing = [c for c in COLUMNS[name] if c not in columns]
    if missing:
        raise InputError(
            f"{table.name}: no column {missing[0]}; an Open Referral UK {name} table has "
            f"{', '.join(COLUMNS[name])}. Found: {', '.join(sorted(columns))}. Name the column in "
            "the file's first row and import again."
        )
    for column, header in columns.items():  # the SQL above names columns in lower case
        if header != column and column in COLUMNS[name] + OPTIONAL_COLUMNS.get(name, ()):
            con.execute(f"ALTER TABLE temp.oruk_{name} RENAME COLUMN {files.quote(header)} TO {column}")
    for optional in OPTIONAL_COLUMNS.get(name, ()):
        if optional not in columns:  # ORUK 1.0 made status optional: none means active
            con.execute(f"ALTER TABLE temp.oruk_{name} ADD COLUMN {optional} VARCHAR")
    return staged


def _terms(con: duckdb.DuckDBPyConnection, extra: dict[str, str]) -> None:
    # Per distinct term, not per service: a directory has a few hundred terms at most. A term
    # mapped to "other" ranks last, so it never hides another term's real category.
    terms = con.execute(TERMS).fetchall()
    order = {c: i for i, c in enumerate(KEYWORDS)}
    categories = [category_for(n, extra) for _, n in terms]
    priority = [order.get(c, len(order)) for c in categories]
    con.execute(TERM_CATEGORIES, [[k for k, _ in terms], [n for _, n in terms], categories, priority])


def _term_warnings(tables: dict[str, Path]) -> list[str]:
    """Why every service was filed under other, when the directory says nothing of their terms."""
    pairs = [(links, terms) for links, terms in TERM_TABLES if links in tables]
    if not pairs:
        return [
            f"No taxonomy tables beside {tables['services'].name}, so every service was filed "
            "under other. Add services_taxonomy.csv and taxonomy.csv (ORUK 1.0) or attribute.csv and "
            "taxonomy_terms.csv (ORUK 3.0) from the same export, and import again."
        ]
    return [
        f"{tables[links].name} links services to taxonomy terms, but there is no {terms} table naming "
        f"them, so their services were filed under other. Add {terms}.csv from the same export."
        for links, terms in pairs
        if terms not in tables
    ]


def _unknown_services(con: duckdb.DuckDBPyConnection, tables: dict[str, Path]) -> list[str]:
    """A count, never the ids, of rows linking a service that services.csv does not list."""
    warnings = []
    for name, (column, about_services) in LINKED_BY.items():
        if name not in tables:
            continue
        sql = UNKNOWN_SERVICE.format(table=name, column=column, about_services=about_services)
        count = con.execute(sql).fetchone()[0]
        if count:
            warnings.append(
                f"{count:,} row{' of' if count == 1 else 's of'} {tables[name].name} "
                f"name{'s' if count == 1 else ''} a service id that is not in {tables['services'].name}, "
                "so they were left out. Check both files come from the same export."
            )
    return warnings


__all__ = ["Directory", "KEYWORDS", "STATUSES", "category_for", "is_directory", "sha256", "stage"]
