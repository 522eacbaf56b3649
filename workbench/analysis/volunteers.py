"""Members keen to support others, counted by ward, and suggested matches to needs nearby.

A member is **keen** when their most recent answered call recorded them as keen to volunteer; their
skills are the ones recorded on that call. Matches pair a need from the triage queue with a keen
member whose skill suits the need category (`vocabulary.CATEGORY_SKILLS`), in the same ward or a neighbouring
one. Both sides are member keys only and both pass `optouts.suppress`: identities appear only on
follow-up lists.

**Neighbouring wards** are derived from the members' own postcodes: two wards are neighbours when
members of both live in the same postcode district (the outward code, e.g. "NV3"). Districts
straddle ward boundaries, so this links wards that touch, using no data beyond the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.analysis import needs
from workbench.errors import InputError
from workbench.privacy import optouts
from workbench.store import snapshot
from workbench.store.filters import check_filters, where

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
    table, excluded = keen_table(con, check_filters(con, branch=branch, ward=ward))
    result = needs.with_lists(table.drop_columns(["mid"]), "skills")
    result.attrs["excluded"] = excluded
    return result


def keen_table(con: duckdb.DuckDBPyConnection, filters: dict) -> tuple[pa.Table, dict]:
    """Keen members as an Arrow table (with the snapshot's `mid`), opt-outs removed, and the counts.

    Only the keys go through `optouts.suppress`, so no skills list is converted to Python twice.
    """
    body, params = where(filters, ("branch", "ward"), members="c")
    with snapshot.get(con).volunteer_tables().cursor() as cursor:
        table = cursor.execute(KEEN_MEMBERS_QUERY.format(where=body), params).fetch_arrow_table()
    return optouts.suppress_table(con, table)


KEEN_KEYS_QUERY = "SELECT member_key, mid FROM keen"


def keen_keys(con: duckdb.DuckDBPyConnection, snap, flagged) -> tuple[pa.Table, dict]:
    """Every keen member's member_key and mid, opt-outs removed: `keen_table` without the skills."""
    with snap.volunteer_tables().cursor() as cursor:
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
# order of md5(member_key) (the snapshot's `vorder`, its first 64 bits; `mid` breaks a tie).
#
# POOL_PLACES_QUERY lists every pool's places once per (snapshot, volunteers kept by suppression,
# k): nothing a filter changes touches it, so a dashboard's filter changes reuse it. ASKS_QUERY
# numbers the suppressed queue's needs within their pools, and `_deal` hands out the places by
# arithmetic on arrays (a place is found by its position, with no join). `mid` orders as
# member_key would, and `category_order` as the category name would.
POOL_PLACES_QUERY = """
WITH vols AS (
    SELECT o.pool, o.mid, o.ward, o.skill, o.vorder
    FROM offers o SEMI JOIN _kept_volunteers v ON v.mid = o.mid
), same AS (
    SELECT pool, count(*) AS n FROM vols GROUP BY pool
), pool_rows AS (
    SELECT o.pool AS need_pool, o.mid, o.ward, o.skill, TRUE AS same_ward, o.vorder FROM vols o
    UNION ALL
    SELECT w.pool, o.mid, o.ward, o.skill, FALSE, o.vorder
    FROM pools w
    LEFT JOIN same s ON s.pool = w.pool
    JOIN neighbours nb ON nb.ward = w.ward
    JOIN pools np ON np.ward = nb.neighbour AND np.category = w.category
    JOIN vols o ON o.pool = np.pool
    WHERE coalesce(s.n, 0) < ?
)
SELECT need_pool, mid, ward, skill, same_ward FROM pool_rows ORDER BY need_pool, same_ward DESC, vorder, mid
"""

# The needs to match, one row per (need, category), as integers only: `_asks` puts them in the order
# results are shown, and a pool's ward and category are looked up by its number (`_pool_names`).
# Sorting in DuckDB with the ward and category strings carried along took half of this query.
ASKS_QUERY = """
SELECT p.pool, n.mid, n.score, p.category_order
FROM (SELECT mid, ward, score,
             unnest(CASE WHEN ? IS NULL THEN categories ELSE [?] END) AS category FROM _match_queue) n
JOIN pools p ON p.ward = n.ward AND p.category = n.category
"""


@dataclass(frozen=True)
class PoolPlaces:
    """Every pool's volunteers in place order, as arrays: pool p's places are rows
    offsets[p] .. offsets[p] + sizes[p] - 1."""

    mid: np.ndarray
    ward: np.ndarray
    skill: np.ndarray
    same_ward: np.ndarray
    offsets: np.ndarray
    sizes: np.ndarray


def _pool_places(snap: snapshot.Snapshot, volunteers: pa.Table, per_need: int) -> PoolPlaces:
    """The pool places for these (suppression-kept) volunteers and k, made once per snapshot."""
    mids = volunteers.column("mid").to_numpy()
    key = ("pool_places", per_need, hashlib.blake2b(mids.tobytes(), digest_size=16).hexdigest())

    def make(cursor: duckdb.DuckDBPyConnection) -> PoolPlaces:
        cursor.register("_kept_volunteers", volunteers.select(["mid"]))
        try:
            rows = cursor.execute(POOL_PLACES_QUERY, [per_need]).fetchnumpy()
            pools = cursor.execute("SELECT max(pool) FROM pools").fetchone()[0] or 0
        finally:
            cursor.unregister("_kept_volunteers")
        sizes = np.bincount(rows["need_pool"], minlength=pools + 1)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return PoolPlaces(np.asarray(rows["mid"]), np.asarray(rows["ward"], dtype=object),
                          np.asarray(rows["skill"], dtype=object), np.asarray(rows["same_ward"], dtype=bool),
                          offsets, sizes)

    return snap.derived(key, make)


def _asks(snap: snapshot.Snapshot, queue: pa.Table, category: str | None) -> pa.Table:
    """The needs to match (ASKS_QUERY), most urgent first, then by mid and category."""
    with snap.cursor() as cursor:
        cursor.register("_match_queue", queue.select(["mid", "ward", "categories", "score"]))
        asks = cursor.execute(ASKS_QUERY, [category, category]).fetch_arrow_table()
    score, mid, order = (asks.column(name).to_numpy() for name in ("score", "mid", "category_order"))
    # np.lexsort sorts by its last key first: score (highest first), then mid, then category.
    return asks.take(np.lexsort((order, mid, -score.astype(np.int64))))


def _pool_names(snap: snapshot.Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """Each pool's ward and category, indexed by pool number (one string per value), once per snapshot."""

    def make(cursor: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
        rows = cursor.execute("SELECT pool, ward, category FROM pools").fetchall()
        wards = np.full(max((r[0] for r in rows), default=0) + 1, None, dtype=object)
        categories = wards.copy()
        for pool, ward, category in rows:
            wards[pool], categories[pool] = ward, category
        return wards, categories

    return snap.derived(("pool names",), make)


def _deal(asks: pa.Table, places: PoolPlaces, per_need: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (ask row, place row), in the order shown: asks in their order, then same ward first, by mid.

    The i-th ask of a pool (most urgent first) takes places i*k .. i*k+k-1 (mod the pool's size);
    nobody is suggested to help themselves.
    """
    pool, mid = asks.column("pool").to_numpy(), asks.column("mid").to_numpy()
    i = _rank_within(pool)
    ask = np.repeat(np.arange(len(pool)), per_need)
    j = np.tile(np.arange(per_need), len(pool))
    size = places.sizes[pool[ask]]
    fits = j < size  # a pool smaller than k gives each need the whole pool, once
    ask, j, size = ask[fits], j[fits], size[fits]
    place = places.offsets[pool[ask]] + (i[ask] * per_need + j) % size
    other = places.mid[place] != mid[ask]
    ask, place = ask[other], place[other]
    # One int64 sort key (ask, not same ward, mid): rows are nearly in order already, so it is quick.
    other_ward = (~places.same_ward[place]).astype(np.int64)
    key = (ask.astype(np.int64) << 32) | (other_ward << 31) | places.mid[place]
    order = np.argsort(key, kind="stable")
    return ask[order], place[order]


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """Each row's count of earlier rows in the same group (0, 1, 2, ...), rows taken in order."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(groups) else np.array([], int)
    run = np.arange(len(groups)) - np.repeat(starts, np.diff(np.r_[starts, len(groups)]))
    ranks = np.empty(len(groups), dtype=np.int64)
    ranks[order] = run
    return ranks


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
    filters = check_filters(con, branch=branch, ward=ward, category=category)
    as_of, days = needs.reference_time(con, as_of), needs.escalation_days(con, None)
    # One snapshot and one reading of the register for both lists, so their `mid`s agree.
    snap, flagged = snapshot.get(con).volunteer_tables(), optouts.flagged_table(con)
    queue, needs_excluded = needs.queue_table(con, filters, as_of, days, snap=snap, flagged=flagged,
                                              columns=("mid", "ward", "categories", "score"))
    volunteers, volunteers_excluded = keen_keys(con, snap, flagged)
    places = _pool_places(snap, volunteers, per_need)
    asks = _asks(snap, queue, category)
    ask, place = _deal(asks, places, per_need)
    pool_wards, pool_categories = _pool_names(snap)
    pools = asks.column("pool").to_numpy()[ask]
    # Keys come from the snapshot's own strings, by mid, and wards and categories from the pools':
    # no 300,000 new strings for a national result. The columns are new arrays, so the frame
    # takes them as they are (copying them into one block took ~30 ms).
    keys = snap.member_keys()
    result = pd.DataFrame({
        "need_member_key": keys[asks.column("mid").to_numpy()[ask]],
        "need_ward": pool_wards[pools],
        "category": pool_categories[pools],
        "volunteer_member_key": keys[places.mid[place]],
        "volunteer_ward": places.ward[place],
        "skill": places.skill[place],
        "same_ward": places.same_ward[place],
        "score": asks.column("score").to_numpy()[ask],
    }, copy=False)
    result.attrs["excluded"] = {"needs": needs_excluded, "volunteers": volunteers_excluded}
    return result


__all__ = ["MATCHES_PER_NEED", "by_ward", "keen", "matches", "neighbours"]
