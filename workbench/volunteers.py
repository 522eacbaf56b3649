"""Members keen to support others, counted by ward, and suggested matches to needs nearby.

A member is **keen** when their most recent answered call recorded them as keen to volunteer; their
skills are the ones recorded on that call. Matches pair a need from the triage queue with a keen
member whose skill suits the need category (`CATEGORY_SKILLS`), in the same ward or a neighbouring
one. Both sides are member keys only and both pass `optouts.suppress`: identities appear only on
follow-up lists.

**Neighbouring wards** are derived from the members' own postcodes: two wards are neighbours when
members of both live in the same postcode district (the outward code, e.g. "NV3"). Districts
straddle ward boundaries, so this links wards that touch, using no data beyond the store.
"""

from __future__ import annotations

import uuid

import duckdb
import pandas as pd
import pyarrow as pa

from workbench import needs, optouts, snapshot
from workbench.errors import InputError

# Which volunteer skills suit which need category. Skills not listed here never match.
CATEGORY_SKILLS: dict[str, tuple[str, ...]] = {
    "food": ("shopping", "cooking"),
    "medicine": ("prescriptions", "lifts"),
    "isolation": ("befriending", "phone_calls", "dog_walking"),
    "mental_health": ("befriending", "phone_calls"),
    "financial": ("benefits_advice", "admin"),
    "housing": ("diy", "admin"),
    "digital": ("digital_help",),
    "other": ("other", "lifts", "shopping"),
}
MATCHES_PER_NEED = 3

# Keen members from the snapshot's `keen` table (latest answered call keen, skills sorted), in the
# order of `korder` (branch, ward, member_key).
KEEN_MEMBERS_QUERY = """
SELECT c.member_key, c.branch, c.ward, c.skills, c.mid FROM keen c WHERE {where} ORDER BY c.korder
"""


def keen(
    con: duckdb.DuckDBPyConnection, *, branch: str | None = None, ward: str | None = None
) -> pd.DataFrame:
    """Keen members with their skills: member_key, branch, ward, skills (list); opt-outs removed.

    Raises:
        InputError: an unknown branch or ward.
    """
    table, excluded = keen_table(con, needs.check_filters(con, branch=branch, ward=ward))
    result = needs._with_lists(table.drop_columns(["mid"]), "skills")
    result.attrs["excluded"] = excluded
    return result


def keen_table(con: duckdb.DuckDBPyConnection, filters: dict) -> tuple[pa.Table, dict]:
    """Keen members as an Arrow table (with the snapshot's `mid`), opt-outs removed, and the counts.

    Only the keys go through `optouts.suppress`, so no skills list is converted to Python twice.
    """
    body, params = snapshot.where(filters, ("branch", "ward"))
    with snapshot.get(con).cursor() as cursor:
        table = cursor.execute(KEEN_MEMBERS_QUERY.format(where=body), params).fetch_arrow_table()
    return optouts.suppress_table(con, table)


KEEN_KEYS_QUERY = "SELECT member_key, mid FROM keen"


def keen_keys(con: duckdb.DuckDBPyConnection, snap, flagged) -> tuple[pa.Table, dict]:
    """Every keen member's member_key and mid, opt-outs removed: `keen_table` without the skills."""
    with snap.cursor() as cursor:
        table = cursor.execute(KEEN_KEYS_QUERY).fetch_arrow_table()
    return optouts.suppress_table(con, table, flagged_now=flagged)


def by_ward(keen_frame: pd.DataFrame) -> pd.DataFrame:
    """Keen members counted by ward, with one column per skill (members offering it).

    Returns:
        branch, ward, keen, then a count per skill in alphabetical order.
    """
    base = keen_frame.groupby(["branch", "ward"], dropna=False).size().rename("keen").reset_index()
    skills = keen_frame.explode("skills").dropna(subset=["skills"])
    if skills.empty:
        return base
    wide = pd.crosstab([skills["branch"], skills["ward"]], skills["skills"]).reset_index()
    wide.columns.name = None
    return (
        base.merge(wide, on=["branch", "ward"], how="left")
        .fillna(0)
        .astype({c: int for c in wide.columns if c not in ("branch", "ward")})
    )


NEIGHBOURS_QUERY = snapshot.NEIGHBOURS_QUERY  # the snapshot keeps the resulting pairs for `matches`


def neighbours(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pairs of neighbouring wards (both directions): ward, neighbour. See the module docstring."""
    return con.execute(NEIGHBOURS_QUERY).df()


# Round robin within each (ward, category) pool, so one volunteer is not suggested for everyone:
# the i-th need takes pool places i*k .. i*k+k-1 (mod the pool size). The pool is the same-ward
# volunteers when there are at least k, else those plus the neighbouring wards' volunteers, in the
# order of md5(member_key) (the snapshot's `vorder`). Runs on the snapshot (`offers`, `pools`,
# `neighbours`) with the suppressed queue and volunteers registered; `mid` orders as member_key would, and
# `category_order` as the category name would.
MATCHES_QUERY = """
WITH vols AS (
    SELECT o.pool, o.mid, o.ward, o.skill, o.vorder FROM offers o SEMI JOIN {volunteers} v ON v.mid = o.mid
),
asks_base AS (
    SELECT p.pool, p.ward, p.category, p.category_order, n.mid, n.score
    FROM (SELECT mid, ward, score,
                 unnest(CASE WHEN ? IS NULL THEN categories ELSE [?] END) AS category FROM {queue}) n
    JOIN pools p ON p.ward = n.ward AND p.category = n.category
), wanted AS (
    SELECT DISTINCT pool, ward, category FROM asks_base
), same AS (
    SELECT pool, count(*) AS n FROM vols GROUP BY pool
), pool_rows AS (
    SELECT w.pool AS need_pool, o.mid, o.ward, o.skill, TRUE AS same_ward, o.vorder
    FROM wanted w JOIN vols o ON o.pool = w.pool
    UNION ALL
    SELECT w.pool, o.mid, o.ward, o.skill, FALSE, o.vorder
    FROM wanted w
    LEFT JOIN same s ON s.pool = w.pool
    JOIN neighbours nb ON nb.ward = w.ward
    JOIN pools np ON np.ward = nb.neighbour AND np.category = w.category
    JOIN vols o ON o.pool = np.pool
    WHERE coalesce(s.n, 0) < ?
), numbered AS (
    SELECT *,
           row_number() OVER (PARTITION BY need_pool ORDER BY same_ward DESC, vorder) - 1 AS place,
           count(*) OVER (PARTITION BY need_pool) AS size
    FROM pool_rows
), asks AS (
    SELECT *, row_number() OVER (PARTITION BY pool ORDER BY score DESC, mid) - 1 AS i, unnest(range(?)) AS j
    FROM asks_base
)
SELECT a.mid AS need_mid, a.ward AS need_ward, a.category,
       p.mid AS volunteer_mid, p.ward AS volunteer_ward, p.skill, p.same_ward, a.score
FROM asks a
JOIN (SELECT need_pool, any_value(size) AS size FROM numbered GROUP BY need_pool) z ON z.need_pool = a.pool
JOIN numbered p ON p.need_pool = a.pool AND p.place = (a.i * ? + a.j) % z.size
WHERE a.j < z.size AND p.mid <> a.mid
ORDER BY a.score DESC, a.mid, a.category_order, p.same_ward DESC, p.mid
"""


def matches(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    category: str | None = None,
    per_need: int = MATCHES_PER_NEED,
    as_of=None,
) -> pd.DataFrame:
    """Suggested volunteers for each need in the triage queue, same ward first, then neighbouring wards.

    Args:
        branch, ward, category: filter the needs (volunteers may come from a neighbouring ward).
        per_need: up to this many suggestions per need category (default 3).

    Returns:
        need_member_key, need_ward, category, volunteer_member_key, volunteer_ward, skill,
        same_ward, score (the need's urgency score); member keys only. Suggestions are spread
        round robin so no volunteer is named for every need. `attrs["excluded"]` holds the
        suppression counts of needs and of volunteers.

    Raises:
        InputError: an unknown branch, ward or category, or per_need below 1.
    """
    if isinstance(per_need, bool) or not isinstance(per_need, int) or per_need < 1:
        raise InputError(f"per_need must be a whole number, 1 or more; got {per_need!r}.")
    filters = needs.check_filters(con, branch=branch, ward=ward, category=category)
    as_of, days = needs.reference_time(con, as_of), needs._escalation_days(con, None)
    # One snapshot and one reading of the register for both lists, so their `mid`s agree.
    snap, flagged = snapshot.get(con), optouts.flagged(con)
    queue, needs_excluded = needs.queue_table(con, filters, as_of, days, snap=snap, flagged=flagged)
    volunteers, volunteers_excluded = keen_keys(con, snap, flagged)
    with snap.cursor() as cursor:
        names = {"queue": f"_match_queue_{uuid.uuid4().hex}", "volunteers": f"_match_vols_{uuid.uuid4().hex}"}
        cursor.register(names["queue"], queue.select(["mid", "ward", "categories", "score"]))
        cursor.register(names["volunteers"], volunteers.select(["mid"]))
        params = [category, category, per_need, per_need, per_need]
        found = cursor.execute(MATCHES_QUERY.format(**names), params).fetch_arrow_table()
    # Keys are looked up by mid at the end: sorting and joining integers, and reusing the snapshot's
    # key strings rather than making 300,000 new ones for a national result.
    keys = snap.member_keys()
    result = found.drop_columns(["need_mid", "volunteer_mid"]).to_pandas()
    result.insert(0, "need_member_key", keys[found.column("need_mid").to_numpy()])
    result.insert(3, "volunteer_member_key", keys[found.column("volunteer_mid").to_numpy()])
    result.attrs["excluded"] = {"needs": needs_excluded, "volunteers": volunteers_excluded}
    return result


__all__ = ["CATEGORY_SKILLS", "MATCHES_PER_NEED", "by_ward", "keen", "matches", "neighbours"]
