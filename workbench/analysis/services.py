"""Community services: what was referenced, where the map has gaps, and whether referrals were followed up.

Definitions (docs/glossary.md): a **reference** is one service named on one call; a **signposting
gap** is a need recorded with no service referenced, a ward where a need category occurs but no
service of that category covers the ward, or a service name that is not in the directory.
A service with no areas (an empty or missing list) covers every ward. Notes are only ever counted,
never returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from workbench.errors import InputError
from workbench.privacy import masking
from workbench.store import snapshot
from workbench.store.filters import check_filters, where

USAGE_GROUPS = {
    "service": ("coalesce(s.name, c.raw_name)", "s.service_id IS NOT NULL"),
    "category": ("coalesce(s.category, 'unlisted')", None),
    "ward": ("c.ward", None),
    "branch": ("c.branch", None),
    "round": ("c.round", None),
    "week": ("CAST(date_trunc('week', c.called_at) AS DATE)", None),
    "month": ("CAST(date_trunc('month', c.called_at) AS DATE)", None),
}

# Over the analysis snapshot's `services_named`: each service named on a call of a known member
# (the store's join to members required one), with the call's branch, ward, round and time.
USAGE_QUERY = """
SELECT {groups}, count(*) AS referenced, count(DISTINCT c.mid) AS members
FROM services_named c
LEFT JOIN services s ON s.service_id = c.service_id
WHERE {where}
GROUP BY ALL
ORDER BY {order}
"""


def usage(
    con: duckdb.DuckDBPyConnection,
    by: str | list[str] = "service",
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    date_from: str | None = None,  # noqa: A002
    date_to: str | None = None,
) -> pd.DataFrame:
    """How often services were referenced, grouped by service, category, ward, branch, round, week or month.

    Args:
        by: one grouping or a list, e.g. ["ward", "category"]. "service" adds a `listed` column
            (False for a name not in the directory); "category" shows such names as "unlisted".

    Returns:
        The group columns, referenced (times a service was named on a call) and members (distinct members).
        Ordered by the groups for time and place, by referenced (most first) for services/categories.

    Raises:
        InputError: an unknown grouping or filter value.
    """
    groups = [by] if isinstance(by, str) else list(by)
    unknown = [g for g in groups if g not in USAGE_GROUPS]
    if not groups or unknown:
        raise InputError(
            f'Cannot group services usage by "{", ".join(unknown)}". Choose from: {", ".join(USAGE_GROUPS)}.'
        )
    filters = check_filters(
        con, branch=branch, ward=ward, round=round, date_from=date_from, date_to=date_to
    )
    body, params = where(filters, members="c")
    selects = [f"{USAGE_GROUPS[g][0]} AS {g}" for g in groups]
    selects += [f"{USAGE_GROUPS[g][1]} AS listed" for g in groups if USAGE_GROUPS[g][1]]
    ranked = {"service", "category"}
    order = ", ".join([g for g in groups if g not in ranked] + ["referenced DESC"] + groups)
    sql = USAGE_QUERY.format(groups=", ".join(selects), where=body, order=order)
    with snapshot.get(con).cursor() as cursor:
        return cursor.execute(sql, params).df()


@dataclass(frozen=True)
class Gaps:
    """The three kinds of signposting gap, each a DataFrame of counts (no member keys)."""

    no_service: pd.DataFrame  # branch, ward, category, needs, without_service, share
    uncovered: pd.DataFrame  # branch, ward, category, needs, members: no service covers the ward
    unlisted: pd.DataFrame  # name, referenced, members, wards: names not in the directory


# The gap queries run on the analysis snapshot (`workbench.store.snapshot`): its `needs_recorded`
# holds each need recorded on an answered call of a known member (one with a members row, as the
# store's join to members required), with the call's branch, ward and round, and whether the call
# named a service; `services_named`, each service named. The snapshot holds no notes; mentions
# stay in the store.

# A need is one (answered call, category). It is "without service" when the call referenced none.
NO_SERVICE_QUERY = """
SELECT c.branch, c.ward, c.category, count(*) AS needs,
       count(*) FILTER (WHERE NOT c.serviced) AS without_service
FROM needs_recorded c WHERE {where} GROUP BY ALL
"""

# Ward names compare without case or surrounding space; empty or missing areas cover every ward.
UNCOVERED_QUERY = """
WITH recorded AS (
    SELECT c.branch, c.ward, c.category, count(*) AS needs, count(DISTINCT c.mid) AS members
    FROM needs_recorded c WHERE {where}
    GROUP BY ALL
), cover AS (
    -- Only active services are offered for signposting; inactive or defunct ones cover nothing.
    SELECT s.category, lower(trim(a.area)) AS ward_key
    FROM services s, unnest(CASE WHEN len(coalesce(s.areas, [])) = 0 THEN ['*'] ELSE s.areas END) AS a(area)
    WHERE coalesce(s.status, 'active') = 'active'
)
SELECT r.* FROM recorded r
WHERE NOT EXISTS (SELECT 1 FROM cover v WHERE v.category = r.category
                  AND (v.ward_key = '*' OR v.ward_key = lower(trim(r.ward))))
ORDER BY r.needs DESC, r.branch, r.ward, r.category
"""

UNLISTED_QUERY = """
SELECT min(c.raw_name) AS name, count(*) AS referenced, count(DISTINCT c.mid) AS members,
       count(DISTINCT c.ward) AS wards
FROM services_named c
WHERE c.service_id IS NULL AND {where}
GROUP BY lower(trim(c.raw_name))
ORDER BY referenced DESC, name
"""


def gaps(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
) -> Gaps:  # noqa: A002
    """Signposting gaps: needs with no service referenced, wards the map does not cover, unlisted names.

    Returns:
        Gaps(no_service, uncovered, unlisted). `no_service` keeps only ward x category cells with at
        least one need without a service, most first; `share` is without_service / needs.

    Raises:
        InputError: an unknown branch, ward or round.
    """
    filters = check_filters(con, branch=branch, ward=ward, round=round)
    body, params = where(filters, members="c")
    with snapshot.get(con).cursor() as cursor:
        recorded = cursor.execute(NO_SERVICE_QUERY.format(where=body), params).df()
        uncovered = cursor.execute(UNCOVERED_QUERY.format(where=body), params).df()
        unlisted = cursor.execute(UNLISTED_QUERY.format(where=body), params).df()
    # Free text typed where a service name belongs can hold a person: masked before it is shown.
    unlisted["name"] = masking.mask(con, unlisted["name"].tolist())
    recorded = recorded[recorded["without_service"] > 0].copy()
    recorded["share"] = (recorded["without_service"] / recorded["needs"]).astype(float)
    no_service = recorded.sort_values(
        ["without_service", "branch", "ward", "category"], ascending=[False, True, True, True]
    ).reset_index(drop=True)
    return Gaps(no_service, uncovered, unlisted)


# Notes and terms are both reduced to lower-case words separated by single spaces, and padded, so
# "food bank" matches "the Food-Bank." but not "seafood banking".
MENTIONS_QUERY = """
WITH terms AS (
    SELECT DISTINCT service_id, ' ' || trim(regexp_replace(lower(t), '[^a-z0-9]+', ' ', 'g')) || ' ' AS term
    FROM (SELECT service_id, unnest(list_prepend(name, coalesce(aliases, []))) AS t FROM services)
    WHERE length(trim(regexp_replace(lower(t), '[^a-z0-9]+', ' ', 'g'))) >= 3
), texts AS (
    SELECT c.call_id, ' ' || regexp_replace(lower(c.notes), '[^a-z0-9]+', ' ', 'g') || ' ' AS words
    FROM calls c JOIN members m ON m.member_key = c.member_key
    WHERE c.notes IS NOT NULL AND {where}
), noted AS (
    SELECT DISTINCT t.service_id, x.call_id FROM texts x JOIN terms t ON contains(x.words, t.term)
), ticked AS (
    SELECT DISTINCT cs.service_id, cs.call_id FROM call_services cs
    JOIN calls c ON c.call_id = cs.call_id JOIN members m ON m.member_key = c.member_key
    WHERE cs.service_id IS NOT NULL AND {where}
)
SELECT s.service_id, s.name, s.category,
       (SELECT count(*) FROM ticked k WHERE k.service_id = s.service_id) AS ticked,
       (SELECT count(*) FROM noted n WHERE n.service_id = s.service_id) AS in_notes,
       (SELECT count(*) FROM noted n WHERE n.service_id = s.service_id
          AND NOT EXISTS (SELECT 1 FROM ticked k WHERE k.service_id = n.service_id AND k.call_id = n.call_id))
           AS in_notes_not_ticked
FROM services s
ORDER BY in_notes_not_ticked DESC, ticked DESC, s.name
"""


def mentions(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
) -> pd.DataFrame:  # noqa: A002
    """Service mentions in free-text notes, matched against directory names and aliases (counts only).

    A mention is a name or alias (3+ characters) appearing as whole words in a call's notes, ignoring
    case and punctuation. No note text is ever returned.

    Returns:
        service_id, name, category, ticked (calls that referenced it), in_notes (calls whose notes
        mention it), in_notes_not_ticked (referrals written down but not ticked).
    """
    filters = check_filters(con, branch=branch, ward=ward, round=round)
    body, params = where(filters)
    return con.execute(MENTIONS_QUERY.format(where=body), params + params).df()


# Referred: distinct members who had the service referenced on an answered call. Followed up:
# of those, members whose follow-up has moved past "open". Resolved: follow-up state resolved.
REFERRALS_QUERY = """
WITH referred AS (
    SELECT DISTINCT cs.service_id, c.member_key
    FROM call_services cs JOIN calls c ON c.call_id = cs.call_id JOIN members m ON m.member_key = c.member_key
    WHERE cs.service_id IS NOT NULL AND c.outcome = 'answered' AND {where}
)
SELECT s.service_id, s.name, s.category, count(r.member_key) AS referred,
       count(*) FILTER (WHERE f.state IN ('assigned', 'in_progress', 'resolved', 'unreachable'))
           AS followed_up,
       count(*) FILTER (WHERE f.state = 'resolved') AS resolved
FROM services s
LEFT JOIN referred r ON r.service_id = s.service_id
LEFT JOIN followups f ON f.member_key = r.member_key
GROUP BY ALL
ORDER BY referred DESC, s.name
"""


def referrals(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
) -> pd.DataFrame:  # noqa: A002
    """The referral loop for each service: referred, then followed up, then resolved.

    Returns:
        service_id, name, category, referred, followed_up, resolved, followed_up_rate and
        resolved_rate (shares of referred; NaN when nobody was referred).
    """
    filters = check_filters(con, branch=branch, ward=ward, round=round)
    body, params = where(filters)
    frame = con.execute(REFERRALS_QUERY.format(where=body), params).df()
    referred = frame["referred"].where(frame["referred"] > 0)
    frame["followed_up_rate"] = (frame["followed_up"] / referred).astype(float)
    frame["resolved_rate"] = (frame["resolved"] / referred).astype(float)
    return frame


__all__ = ["Gaps", "USAGE_GROUPS", "gaps", "mentions", "referrals", "usage"]
