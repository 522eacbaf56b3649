"""Outreach: attempts, members reached, contact rate and outcome mix, and who is still unreached.

Definitions (docs/glossary.md): an **attempt** is one row in `calls`; a member is **reached** in a
group when at least one of their attempts there was answered; the **contact rate** is members
reached / members called. Callers appear only as the pseudonyms the store holds, and groups are
ordered by their own key (by pseudonym for callers), never by performance: there is no leaderboard.

Speed: `summary` and `headline` run on the in-memory `snapshot` (integer member ids, branch and ward
on every call). Without a date filter, grouped by week, round, branch or ward, they sum the
snapshot's `outreach_cube` (a few thousand rows, whatever the number of calls): members are counted
through its counts of "first call per member and group" marks. Otherwise, with only branch/ward
filters (which keep all of a member's calls or none), those marks are counted on the calls; other
filters group the calls by the integer member id.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd

from workbench.analysis import needs
from workbench.errors import InputError
from workbench.privacy import optouts
from workbench.store import snapshot
from workbench.store.filters import check_filters, known, where
from workbench.vocabulary import OUTCOMES

# Each grouping is a fixed SQL expression over calls `c` and members `m`; `by` only picks one.
GROUPS = {
    "day": "CAST(c.called_at AS DATE)",
    "week": "CAST(date_trunc('week', c.called_at) AS DATE)",
    "branch": "m.branch",
    "ward": "m.ward",
    "round": "c.round",
    "caller": "c.caller",
}
# Outcomes that end the chase: contact was made, or there is a reason to stop. A member with one of
# these is not "unreached", whatever else happened.
STOPPING = ("answered", "refused", "do_not_call", "deceased_moved")


def _filters(con, branch, ward, round, date_from, date_to, outcome) -> dict:  # noqa: A002
    return check_filters(
        con, branch=branch, ward=ward, round=round, date_from=date_from, date_to=date_to, outcome=outcome
    )


def _needs_members(filters: dict) -> bool:
    return any(filters.get(k) is not None for k in ("branch", "ward"))


# Members are joined only when a filter or grouping needs them: the join is most of the cost.
SUMMARY_QUERY = """
WITH scoped AS (
    SELECT {group} AS grp, {order} AS ord, c.member_key, c.outcome
    FROM calls c {join}
    WHERE {where}
), per_member AS (
    SELECT grp, member_key, min(ord) AS ord, count(*) AS attempts,
           bool_or(outcome = 'answered') AS reached, {outcome_counts}
    FROM scoped GROUP BY grp, member_key
)
SELECT grp, min(ord) AS ord, sum(attempts)::BIGINT AS attempts, count(*) AS members_called,
       count(*) FILTER (WHERE reached) AS reached,
       count(*) FILTER (WHERE reached) / count(*) AS contact_rate, {outcome_sums}
FROM per_member GROUP BY grp ORDER BY ord, grp
"""


# The same numbers as SUMMARY_QUERY, counting members by the snapshot's "first call" bits.
FAST_SUMMARY_QUERY = """
WITH per_outcome AS (
    SELECT {group} AS grp, c.outcome, min({order}) AS ord, count(*) AS n,
           count(*) FILTER (WHERE firsts & {first} <> 0) AS firsts,
           count(*) FILTER (WHERE firsts & {first_answered} <> 0) AS reached
    FROM calls c WHERE {where}
    GROUP BY grp, c.outcome
)
SELECT grp, min(ord) AS ord, sum(n)::BIGINT AS attempts, sum(firsts)::BIGINT AS members_called,
       sum(reached)::BIGINT AS reached, sum(reached) / sum(firsts) AS contact_rate, {outcome_sums}
FROM per_outcome GROUP BY grp ORDER BY ord, grp
"""


def summary(
    con: duckdb.DuckDBPyConnection,
    by: str = "round",
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    date_from: str | None = None,  # noqa: A002
    date_to: str | None = None,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Attempts, members called, reached, contact rate and outcome mix, grouped by `by`.

    Args:
        by: day, week, branch, ward, round or caller. Rounds are in the order they were called;
            callers in order of pseudonym (no leaderboard).
        branch, ward, round, outcome: keep only these calls; date_from / date_to: YYYY-MM-DD, inclusive.

    Returns:
        One row per group: the group (column named after `by`), attempts, members_called, reached,
        contact_rate (0-1), then one count of attempts per outcome (answered ... deceased_moved).

    Raises:
        InputError: an unknown `by` or filter value (the message names the known ones).

    Examples:
        >>> outreach.summary(con, by="week", branch="Ashcombe")  # doctest: +SKIP
    """
    _check_by(by)
    filters = _filters(con, branch, ward, round, date_from, date_to, outcome)
    return _summaries(con, (by,), filters)[by]


def summaries(con: duckdb.DuckDBPyConnection, bys: tuple[str, ...], **filters) -> dict[str, pd.DataFrame]:
    """`summary` for several groupings at once (a dashboard's charts): {by: frame}.

    The filters are checked once. Groupings the cube serves take a millisecond each; the others run
    side by side, each on its own cursor of the snapshot (DuckDB releases the GIL).

    Raises:
        InputError: an unknown `by` or filter value.
    """
    for by in bys:
        _check_by(by)
    checked = check_filters(con, **{k: filters.get(k) for k in SUMMARY_FILTERS})
    return _summaries(con, bys, checked)


def _summaries(con: duckdb.DuckDBPyConnection, bys: tuple[str, ...], filters: dict
               ) -> dict[str, pd.DataFrame]:
    snap = snapshot.get(con)

    def one(by: str) -> pd.DataFrame:
        sql, params = _cube_sql(by, filters) if _in_cube(by, filters) else _summary_sql(by, filters)
        with snap.cursor() as cursor:
            return cursor.execute(SUMMARY_FRAME.format(sql=sql, by=by), params).df()

    if all(_in_cube(by, filters) for by in bys):
        return {by: one(by) for by in bys}
    with ThreadPoolExecutor(max_workers=len(bys) or 1) as pool:
        return dict(zip(bys, pool.map(one, bys), strict=True))


SUMMARY_FILTERS = ("branch", "ward", "round", "date_from", "date_to", "outcome")


def _check_by(by: str) -> None:
    if by not in GROUPS:
        raise InputError(f'Cannot group outreach by "{by}". Choose one of: {", ".join(GROUPS)}.')


# Sums over the snapshot's `outreach_cube`: attempts per (branch, ward, round, outcome, day), with
# counts of the "first call" marks that count each member once per group (`_cube_marks`).
CUBE_SUMMARY_QUERY = """
SELECT {group} AS grp, min({order}) AS ord, sum(attempts)::BIGINT AS attempts,
       sum({called})::BIGINT AS members_called, sum({reached})::BIGINT AS reached,
       sum({reached}) / sum({called}) AS contact_rate, {outcome_sums}
FROM outreach_cube c WHERE {where}
GROUP BY grp ORDER BY ord, grp
"""
CUBE_GROUPS = ("week", "round", "branch", "ward")


def _in_cube(by: str, filters: dict) -> bool:
    """The cube serves every filter but dates: it cannot tell which members called on several days
    of a range were called on any of them."""
    return by in (*CUBE_GROUPS, "all") and filters.get("date_from") is None and filters.get("date_to") is None


def _cube_marks(by: str, filters: dict) -> tuple[str, str]:
    """The cube's columns counting members called, and reached, per group `by` under `filters`.

    Among the calls a round or outcome filter keeps, a member's first call per group carries the
    mark of (member, round and/or outcome, group); with an outcome filter, reached is everyone
    called (answered) or nobody.
    """
    keys = [k for k in ("outcome", "round", "week") if filters.get(k) is not None or k == by]
    group = "+".join(keys) or "all"
    called = snapshot.mark_column(group)
    if filters.get("outcome") is None:
        return called, snapshot.mark_column(group, answered=True)
    return called, called if filters["outcome"] == "answered" else "0"


def _cube_where(by: str, filters: dict) -> tuple[str, list]:
    body, params = where(filters, members="c")
    if by in ("branch", "ward") or _needs_members(filters):
        body += " AND c.known"  # as the store's join to members: calls of an unknown key drop out
    return body, params


def _cube_sql(by: str, filters: dict) -> tuple[str, list]:
    """The cube query and parameters for `summary` (filters already checked, no date filter)."""
    body, params = _cube_where(by, filters)
    called, reached = _cube_marks(by, filters)
    sql = CUBE_SUMMARY_QUERY.format(
        group=f"c.{by}",
        order="c.first_at" if by == "round" else f"c.{by}",
        called=called,
        reached=reached,
        where=body,
        outcome_sums=", ".join(f"sum({o})::BIGINT AS {o}" for o in OUTCOMES),
    )
    return sql, params


def _summary_sql(by: str, filters: dict) -> tuple[str, list]:
    """The snapshot query and parameters for `summary` (filters already checked)."""
    body, params = where(filters, members="c")
    if by in ("branch", "ward") or _needs_members(filters):
        body += " AND c.known"  # as the store's join to members: calls of an unknown key drop out
    group = GROUPS[by].replace("m.", "c.")
    outcome_counts = ", ".join(f"count(*) FILTER (WHERE outcome = '{o}') AS {o}" for o in OUTCOMES)
    if _member_level(filters):
        sql = FAST_SUMMARY_QUERY.format(
            group=group,
            order="c.called_at" if by == "round" else group,
            where=body,
            first=snapshot.first_bit(by),
            first_answered=snapshot.first_bit(by, answered=True),
            outcome_sums=", ".join(
                f"coalesce(sum(n) FILTER (WHERE outcome = '{o}'), 0)::BIGINT AS {o}" for o in OUTCOMES
            ),
        )
    else:
        sql = SUMMARY_QUERY.format(
            group=group,
            order="c.called_at" if by == "round" else group,
            join="",
            where=body,
            outcome_counts=outcome_counts,
            outcome_sums=", ".join(f"sum({o})::BIGINT AS {o}" for o in OUTCOMES),
        ).replace("member_key", "mid")
    return sql, params


# The frame as returned: the group named after `by`, the rate a float. Shaped in SQL, since pandas'
# drop and rename cost more than the query on a dashboard's filter change.
SUMMARY_FRAME = """
SELECT * EXCLUDE (ord) REPLACE (contact_rate::DOUBLE AS contact_rate) RENAME (grp AS "{by}")
FROM ({sql}) ORDER BY ord, grp
"""


def _member_level(filters: dict) -> bool:
    # Branch and ward keep all of a member's calls or none, so the precomputed bits stay valid.
    return all(filters.get(k) is None for k in ("round", "date_from", "date_to", "outcome"))


HEADLINE_QUERY = """
WITH per_member AS (
    SELECT c.member_key, count(*) AS attempts, bool_or(c.outcome = 'answered') AS reached
    FROM calls c {join} WHERE {where} GROUP BY c.member_key
)
SELECT coalesce(sum(attempts), 0)::BIGINT, count(*), count(*) FILTER (WHERE reached) FROM per_member
"""


CUBE_HEADLINE_QUERY = """
SELECT coalesce(sum(attempts), 0)::BIGINT, coalesce(sum({called}), 0)::BIGINT,
       coalesce(sum({reached}), 0)::BIGINT
FROM outreach_cube c WHERE {where}
"""


FAST_HEADLINE_QUERY = """
SELECT count(*), count(*) FILTER (WHERE firsts & {first} <> 0),
       count(*) FILTER (WHERE firsts & {first_answered} <> 0)
FROM calls c WHERE {where}
"""


def headline(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,  # noqa: A002
    outcome: str | None = None,
    needing: bool = True,
) -> dict[str, float | int]:
    """The headline numbers for a selection of calls, for a dashboard's top line.

    Returns:
        {"attempts", "members_called", "reached", "contact_rate" (0-1, or 0.0 with nobody called),
        "needing_support"}: needing support counts the triage queue (opt-outs removed) judged on the
        answered calls in the selection. With `needing=False` it is left out (`needing_now` gives it
        later): it reads the register and the follow-ups, the rest only the snapshot.

    Raises:
        InputError: an unknown filter value.
    """
    filters = _filters(con, branch, ward, round, date_from, date_to, outcome)
    with snapshot.get(con).cursor() as cursor:
        attempts, called, reached = cursor.execute(*_headline_sql(filters)).fetchone()
    numbers = {
        "attempts": int(attempts),
        "members_called": int(called),
        "reached": int(reached),
        "contact_rate": reached / called if called else 0.0,
    }
    if needing:
        numbers["needing_support"] = needing_support(con, filters)
    return numbers


def needing_now(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,  # noqa: A002
    outcome: str | None = None,
) -> int:
    """`headline`'s "needing_support" on its own: members needing support in the selection, after
    suppression (opt-outs, erasures, deceased or moved removed).

    Raises:
        InputError: an unknown filter value.
    """
    return needing_support(con, _filters(con, branch, ward, round, date_from, date_to, outcome))


def _headline_sql(filters: dict) -> tuple[str, list]:
    """The snapshot query and parameters for `headline`'s attempts, members called and reached."""
    if _in_cube("all", filters):
        body, params = _cube_where("all", filters)
        called, reached = _cube_marks("all", filters)
        return CUBE_HEADLINE_QUERY.format(called=called, reached=reached, where=body), params
    body, params = where(filters, members="c")
    if _needs_members(filters):
        body += " AND c.known"
    if _member_level(filters):
        sql = FAST_HEADLINE_QUERY.format(
            where=body, first=snapshot.first_bit("all"), first_answered=snapshot.first_bit("all", True)
        )
    else:
        sql = HEADLINE_QUERY.format(join="", where=body).replace("member_key", "mid")
    return sql, params


NEEDING_QUERY = """
WITH current AS ({current})
SELECT member_key, branch, ward FROM current WHERE state <> 'resolved'
"""

# Members needing support, after suppression, per (branch, ward), kept per round filter (None: all
# calls) for one store state and opt-out register (`optouts.reading_key`): a dashboard reads it on
# every filter change, and judging the queue and checking it against the register took ~40 ms.
_NEEDING: dict[str | None, tuple[tuple, dict]] = {}


def needing_support(con: duckdb.DuckDBPyConnection, filters: dict) -> int:
    """How many members need support in a (validated) selection, after suppression."""
    if filters.get("outcome") not in (None, "answered"):
        return 0
    if filters.get("date_from") is not None or filters.get("date_to") is not None:
        return sum(_needing_by_place(con, filters).values())
    counts = _kept_needing(con, filters.get("round"))
    branch, ward = filters.get("branch"), filters.get("ward")
    return sum(n for (b, w), n in counts.items() if branch in (None, b) and ward in (None, w))


def _kept_needing(con: duckdb.DuckDBPyConnection, round: str | None) -> dict:  # noqa: A002
    """`_needing_by_place` of every place (for one round, or all), kept while nothing changed."""
    key = optouts.reading_key(con)  # read first: a write after it shows in the next call's key
    kept = _NEEDING.get(round)
    if key is not None and kept is not None and kept[0] == key:
        return kept[1]
    counts = _needing_by_place(con, {"round": round} if round else {})
    if key is not None:
        _NEEDING[round] = (key, counts)
    return counts


def _needing_by_place(con: duckdb.DuckDBPyConnection, filters: dict) -> dict[tuple, int]:
    """{(branch, ward): members needing support} in a (validated) selection, after suppression."""
    body, params = needs.needs_where(filters)
    with needs.current_needs_sql(con, filters) as (cursor, current):
        sql = NEEDING_QUERY.format(current=current.format(where=body))
        people = cursor.execute(sql, params).fetch_arrow_table()
    kept, _ = optouts.suppress_table(con, people)
    counts = kept.group_by(["branch", "ward"]).aggregate([("member_key", "count")])
    return {(r["branch"], r["ward"]): r["member_key_count"] for r in counts.to_pylist()}


ATTEMPTS_QUERY = """
WITH per_member AS (
    SELECT c.member_key, count(*) AS attempts, bool_or(c.outcome = 'answered') AS reached
    FROM calls c {join} WHERE {where} GROUP BY c.member_key
)
SELECT attempts, count(*) AS members, count(*) FILTER (WHERE reached) AS reached
FROM per_member GROUP BY attempts ORDER BY attempts
"""


def attempts_distribution(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    round: str | None = None,
    date_from: str | None = None,  # noqa: A002
    date_to: str | None = None,
) -> pd.DataFrame:
    """How many members had 1, 2, 3 ... attempts in the selection, and how many of them were reached.

    Returns:
        attempts, members, reached; one row per number of attempts that occurs.
    """
    filters = _filters(con, branch, ward, round, date_from, date_to, None)
    body, params = where(filters)
    join = "JOIN members m ON m.member_key = c.member_key" if _needs_members(filters) else ""
    return con.execute(ATTEMPTS_QUERY.format(join=join, where=body), params).df()


UNREACHED_QUERY = """
SELECT c.member_key, m.branch, m.ward, count(*) AS attempts, max(c.called_at) AS last_attempt,
       arg_max(c.outcome, (c.called_at, c.call_id)) AS last_outcome
FROM calls c JOIN members m ON m.member_key = c.member_key
WHERE c.round = ? AND {where}
GROUP BY c.member_key, m.branch, m.ward
HAVING count(*) >= ? AND NOT bool_or(list_contains(?, c.outcome))
ORDER BY m.branch, m.ward, c.member_key
"""


def unreached(
    con: duckdb.DuckDBPyConnection,
    round: str | None = None,
    min_attempts: int = 3,
    *,  # noqa: A002
    branch: str | None = None,
    ward: str | None = None,
) -> pd.DataFrame:
    """Members still unreached after `min_attempts` attempts in a round: the letter or doorstep list.

    A member is unreached when none of their attempts in the round was answered, refused, "do not
    call" or "deceased/moved". Opt-outs are removed (`optouts.suppress`).

    Args:
        round: the round (default: the latest round called).
        min_attempts: at least this many attempts in the round (default 3).

    Returns:
        member_key, branch, ward, attempts, last_attempt, last_outcome; member keys only, no identity.
        `attrs["excluded"]` counts who suppression left out; `attrs["round"]` names the round.

    Raises:
        InputError: an unknown round, branch or ward, or min_attempts below 1.
    """
    if isinstance(min_attempts, bool) or not isinstance(min_attempts, int) or min_attempts < 1:
        raise InputError(f"min_attempts must be a whole number, 1 or more; got {min_attempts!r}.")
    filters = check_filters(con, round=round, branch=branch, ward=ward)
    rounds = known(con, "round")
    chosen = filters.get("round") or (rounds[-1] if rounds else None)
    body, params = where(filters, ("branch", "ward"))
    frame = con.execute(
        UNREACHED_QUERY.format(where=body), [chosen, *params, min_attempts, list(STOPPING)]
    ).df()
    suppressed = optouts.suppress(con, frame)
    result = suppressed.kept.reset_index(drop=True)
    result.attrs.update(excluded=dict(suppressed.excluded), round=chosen)
    return result


ROLLUP_QUERY = """
WITH per_member AS (
    SELECT c.round, c.member_key, min(c.called_at) AS first_call, count(*) AS attempts,
           bool_or(c.outcome = 'answered') AS reached,
           bool_or(c.outcome = 'answered' AND coalesce(c.needs_support, FALSE)) AS recorded_need,
           bool_or(c.outcome = 'answered' AND coalesce(c.keen_to_volunteer, FALSE)) AS keen,
           bool_or(c.dp_query IS NOT NULL) AS dp_query
    FROM calls c {join} WHERE {where} GROUP BY c.round, c.member_key
)
SELECT round, sum(attempts)::BIGINT AS attempts, count(*) AS members_called,
       count(*) FILTER (WHERE reached) AS reached,
       count(*) FILTER (WHERE reached) / count(*) AS contact_rate,
       sum(attempts) / count(*) AS attempts_per_member,
       count(*) FILTER (WHERE recorded_need) AS recorded_need,
       CASE WHEN count(*) FILTER (WHERE reached) > 0
            THEN count(*) FILTER (WHERE recorded_need) / count(*) FILTER (WHERE reached) END AS need_rate,
       count(*) FILTER (WHERE keen) AS keen_to_volunteer,
       CASE WHEN count(*) FILTER (WHERE reached) > 0
            THEN count(*) FILTER (WHERE keen) / count(*) FILTER (WHERE reached) END AS keen_rate,
       count(*) FILTER (WHERE dp_query) AS dp_queries
FROM per_member GROUP BY round ORDER BY min(first_call), round
"""


def rollup(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> pd.DataFrame:
    """Round by round, raw numbers beside their rates.

    Returns:
        round, attempts, members_called, reached, contact_rate, attempts_per_member,
        recorded_need, need_rate (of those reached), keen_to_volunteer, keen_rate (of those reached),
        dp_queries (members who asked a data-protection question). Rounds in calling order.
    """
    filters = _filters(con, branch, ward, None, date_from, date_to, None)
    body, params = where(filters)
    join = "JOIN members m ON m.member_key = c.member_key" if _needs_members(filters) else ""
    frame = con.execute(ROLLUP_QUERY.format(join=join, where=body), params).df()
    for column in ("contact_rate", "attempts_per_member", "need_rate", "keen_rate"):
        frame[column] = frame[column].astype(float)
    return frame


__all__ = [
    "GROUPS",
    "STOPPING",
    "attempts_distribution",
    "headline",
    "needing_now",
    "needing_support",
    "rollup",
    "summaries",
    "summary",
    "unreached",
]
