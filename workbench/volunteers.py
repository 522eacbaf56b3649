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

import duckdb
import pandas as pd

from workbench import needs, optouts, snapshot

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

# Keen members (from the snapshot's latest-answered table) and the skills recorded on that call.
KEEN_MEMBERS_QUERY = """
WITH keen AS (SELECT c.member_key, c.branch, c.ward, c.cid FROM latest c WHERE c.keen AND {where}),
skills AS (
    SELECT k.cid, list(k.skill ORDER BY k.skill) AS skills
    FROM call_skills k SEMI JOIN keen USING (cid) GROUP BY k.cid
)
SELECT keen.member_key, keen.branch, keen.ward, coalesce(s.skills, []) AS skills
FROM keen LEFT JOIN skills s ON s.cid = keen.cid
ORDER BY keen.branch, keen.ward, keen.member_key
"""


def keen(
    con: duckdb.DuckDBPyConnection, *, branch: str | None = None, ward: str | None = None
) -> pd.DataFrame:
    """Keen members with their skills: member_key, branch, ward, skills (list); opt-outs removed.

    Raises:
        InputError: an unknown branch or ward.
    """
    filters = needs.check_filters(con, branch=branch, ward=ward)
    body, params = snapshot.where(filters, ("branch", "ward"))
    with snapshot.get(con).cursor() as cursor:
        table = cursor.execute(KEEN_MEMBERS_QUERY.format(where=body), params).fetch_arrow_table()
    frame = needs._with_lists(table, "skills")
    suppressed = optouts.suppress(con, frame)
    result = suppressed.kept.reset_index(drop=True)
    result.attrs["excluded"] = dict(suppressed.excluded)
    return result


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


NEIGHBOURS_QUERY = """
WITH districts AS (
    SELECT DISTINCT ward,
           left(replace(upper(postcode), ' ', ''), length(replace(postcode, ' ', '')) - 3) AS district
    FROM members WHERE ward IS NOT NULL AND length(replace(coalesce(postcode, ''), ' ', '')) >= 5
)
SELECT DISTINCT a.ward, b.ward AS neighbour
FROM districts a JOIN districts b ON a.district = b.district AND a.ward <> b.ward
ORDER BY 1, 2
"""


def neighbours(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pairs of neighbouring wards (both directions): ward, neighbour. See the module docstring."""
    return con.execute(NEIGHBOURS_QUERY).df()


# Round robin within each (ward, category) pool, so one volunteer is not suggested for everyone:
# the i-th need takes pool places i*k .. i*k+k-1 (mod the pool size). The pool is the same-ward
# volunteers when there are at least k, else those plus the neighbouring wards' volunteers.
MATCHES_QUERY = """
WITH skills_map AS (SELECT * FROM {skills_map}),
vols AS (SELECT * FROM {volunteers}),
need_rows AS (SELECT * FROM {queue}),
offers AS (
    SELECT v.member_key, v.ward, s.category, min(v.skill) AS skill
    FROM (SELECT member_key, ward, unnest(skills) AS skill FROM vols) v
    JOIN skills_map s ON s.skill = v.skill
    GROUP BY ALL
), needs_long AS (
    SELECT member_key, ward, unnest(categories) AS category, score FROM need_rows
), same AS (
    SELECT ward, category, count(*) AS n FROM offers GROUP BY ALL
), pool AS (
    SELECT w.ward AS need_ward, o.category, o.member_key, o.ward, o.skill, o.ward = w.ward AS same_ward
    FROM (SELECT DISTINCT ward, category FROM needs_long) w
    JOIN offers o ON o.category = w.category AND o.ward = w.ward
    UNION ALL
    SELECT w.ward, o.category, o.member_key, o.ward, o.skill, FALSE
    FROM (SELECT DISTINCT ward, category FROM needs_long) w
    JOIN {neighbours} nb ON nb.ward = w.ward
    JOIN offers o ON o.category = w.category AND o.ward = nb.neighbour
    LEFT JOIN same s ON s.ward = w.ward AND s.category = w.category
    WHERE coalesce(s.n, 0) < ?
), numbered AS (
    SELECT *,
           row_number() OVER (PARTITION BY need_ward, category ORDER BY same_ward DESC, md5(member_key)) - 1
                  AS place,
           count(*) OVER (PARTITION BY need_ward, category) AS size
    FROM pool
), asks AS (
    SELECT n.member_key, n.ward, n.category, n.score,
           row_number() OVER (PARTITION BY n.ward, n.category ORDER BY n.score DESC, n.member_key) - 1 AS i,
           unnest(range(?)) AS j
    FROM needs_long n
)
SELECT a.member_key AS need_member_key, a.ward AS need_ward, a.category,
       p.member_key AS volunteer_member_key, p.ward AS volunteer_ward, p.skill, p.same_ward, a.score
FROM asks a
JOIN (SELECT DISTINCT need_ward, category, size FROM numbered) z
  ON z.need_ward = a.ward AND z.category = a.category
JOIN numbered p ON p.need_ward = a.ward AND p.category = a.category AND p.place = (a.i * ? + a.j) % z.size
WHERE a.j < z.size AND p.member_key <> a.member_key
ORDER BY a.score DESC, a.member_key, a.category, p.same_ward DESC, p.member_key
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
        from workbench.errors import InputError

        raise InputError(f"per_need must be a whole number, 1 or more; got {per_need!r}.")
    queue = needs.queue(con, branch=branch, ward=ward, category=category, as_of=as_of)
    if category is not None:
        queue = queue.assign(categories=[[category]] * len(queue))
    volunteers = keen(con)
    skills_map = pd.DataFrame(
        [(s, c) for c, skills in CATEGORY_SKILLS.items() for s in skills], columns=["skill", "category"]
    )
    frames = {
        "skills_map": skills_map,
        "volunteers": volunteers[["member_key", "ward", "skills"]],
        "queue": queue[["member_key", "ward", "categories", "score"]],
        "neighbours": neighbours(con),
    }
    names = {k: f"_match_{k}" for k in frames}
    for key, frame in frames.items():
        con.register(names[key], frame)
    try:
        result = con.execute(MATCHES_QUERY.format(**names), [per_need, per_need, per_need]).df()
    finally:
        for name in names.values():
            con.unregister(name)
    result.attrs["excluded"] = {"needs": queue.attrs["excluded"], "volunteers": volunteers.attrs["excluded"]}
    return result


__all__ = ["CATEGORY_SKILLS", "MATCHES_PER_NEED", "by_ward", "keen", "matches", "neighbours"]
