"""Write a staged services directory (the community map), in SQL.

A service without an id gets one from its name ("Northvale Food Bank" -> "S-northvalefoodbank"),
so re-importing the same directory updates rather than duplicates. After an import, call references
that named a service not then in the directory are linked to it if they now match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from workbench.ingest import problems
from workbench.ingest.calls import SERVICE_KEYS
from workbench.ingest.fields import norm_sql


def service_id_sql(alias: str = "") -> str:
    """SQL: the service's own id, or one made from its name."""
    prefix = f"{alias}." if alias else ""
    return f"coalesce({prefix}service_id, 'S-' || {norm_sql(prefix + 'name')})"


SERVICE_ID = service_id_sql()

DUPLICATE_IDS = f"""
SELECT {SERVICE_ID} AS id, min(row) AS first_row FROM temp.{{stage}} WHERE name IS NOT NULL
GROUP BY 1 HAVING count(*) > 1
"""

MARK_DUPLICATES = f"""
UPDATE temp.{{stage}}_rows s
SET p__service_id = 'is the same service as row ' || d.first_row || '; list each service once'
FROM temp.ingest_duplicates d
WHERE {service_id_sql("s")} = d.id
  AND s.row > d.first_row AND s.p__service_id IS NULL
"""


def mark_duplicate_ids(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    """A service listed twice in one file is a problem on its later rows."""
    problems.mark_duplicates(con, stage, DUPLICATE_IDS, MARK_DUPLICATES)


@dataclass(frozen=True)
class ServiceCounts:
    """What writing services did, and what the organiser should know about the directory now.

    `same_name`: names of new services that an active service under another id already has (from
    an earlier file, say): both are offered from now on. `not_listed`: active services in the store
    that this file does not list (removed upstream, or from another file): still offered.
    `nowhere`: active services of the file whose areas name no ward the members live in, so they are
    offered in no ward; `unknown_areas`: those area names.
    """

    created: int
    updated: int
    uncategorised: int
    relinked: int
    same_name: list[str] = field(default_factory=list)
    not_listed: int = 0
    nowhere: int = 0
    unknown_areas: list[str] = field(default_factory=list)


SERVICES = f"""
CREATE OR REPLACE TEMP TABLE ingest_services AS
SELECT {SERVICE_ID} AS service_id, name, coalesce(category, 'other') AS category,
       coalesce(areas, []) AS areas, contact, coalesce(aliases, []) AS aliases,
       coalesce(status, 'active') AS status, category IS NULL AS uncategorised
FROM temp.{{stage}} WHERE {{valid}}
"""

STATE = """
SELECT count(*) FILTER (WHERE x.service_id IS NULL),
       count(*) FILTER (WHERE x.service_id IS NOT NULL
                        AND (x.name, x.category, x.areas, x.contact, x.aliases, x.status)
                        IS DISTINCT FROM
                        (n.name, n.category, n.areas, coalesce(n.contact, x.contact), n.aliases, n.status)),
       count(*) FILTER (WHERE n.uncategorised)
FROM temp.ingest_services n LEFT JOIN services x USING (service_id)
"""

UPDATE = """
UPDATE services x SET name = n.name, category = n.category, areas = n.areas,
       contact = coalesce(n.contact, x.contact), aliases = n.aliases, status = n.status
FROM temp.ingest_services n WHERE x.service_id = n.service_id
"""

INSERT = """
INSERT INTO services (service_id, name, category, areas, contact, aliases, status)
SELECT service_id, name, category, areas, contact, aliases, status FROM temp.ingest_services
WHERE service_id NOT IN (SELECT service_id FROM services)
"""

RELINK = f"""
UPDATE call_services c SET service_id = k.service_id
FROM temp.ingest_service_keys k
WHERE c.service_id IS NULL AND k.key = {norm_sql("c.raw_name")}
"""


# New services named as an active service already held under another id: "Northvale Food Bank" from
# a council's directory (a UUID) beside the same bank from an earlier spreadsheet (S001).
SAME_NAME = f"""
SELECT DISTINCT n.name FROM temp.ingest_services n
JOIN services x ON {norm_sql("x.name")} = {norm_sql("n.name")} AND x.service_id <> n.service_id
WHERE coalesce(x.status, 'active') = 'active' AND n.service_id NOT IN (SELECT service_id FROM services)
  AND x.service_id NOT IN (SELECT service_id FROM temp.ingest_services)
ORDER BY 1
"""

# Active services the file does not list (no status recorded counts as active, as everywhere): a
# directory's own services removed upstream stay active.
NOT_LISTED = """
SELECT count(*) FROM services
WHERE coalesce(status, 'active') = 'active'
  AND service_id NOT IN (SELECT service_id FROM temp.ingest_services)
"""


# Active services of the file whose areas name none of the members' wards (compared without case or
# surrounding space, as the briefing and the gaps compare them): they serve no ward. Only asked once
# members with wards are held: a directory imported first cannot be checked.
NOWHERE = """
WITH wards AS (SELECT DISTINCT lower(trim(ward)) AS ward FROM members WHERE ward IS NOT NULL),
named AS (
    SELECT n.service_id, trim(a.area) AS area, lower(trim(a.area)) IN (SELECT ward FROM wards) AS known
    FROM temp.ingest_services n, unnest(n.areas) AS a(area)
    WHERE n.status = 'active' AND len(n.areas) > 0
), nowhere AS (SELECT service_id FROM named GROUP BY 1 HAVING NOT bool_or(known))
SELECT (SELECT count(*) FROM nowhere),
       (SELECT list(DISTINCT area ORDER BY area) FROM named SEMI JOIN nowhere USING (service_id))
WHERE EXISTS (SELECT 1 FROM wards)
"""


def write(con: duckdb.DuckDBPyConnection, stage: str, valid: str) -> ServiceCounts:
    """Create new services, update changed ones, and link earlier unlisted references."""
    con.execute(SERVICES.format(stage=stage, valid=valid))
    created, updated, uncategorised = con.execute(STATE).fetchone()
    same_name = [row[0] for row in con.execute(SAME_NAME).fetchall()]
    not_listed = con.execute(NOT_LISTED).fetchone()[0]
    nowhere, unknown_areas = con.execute(NOWHERE).fetchone() or (0, [])
    con.execute(UPDATE)
    con.execute(INSERT)
    con.execute(SERVICE_KEYS)
    relinked = con.execute(RELINK).fetchone()[0]
    return ServiceCounts(created, updated, uncategorised, relinked, same_name, not_listed, nowhere,
                         unknown_areas or [])
