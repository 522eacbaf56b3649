"""One set of filter rules for every view: which branches, wards, rounds and dates a query covers.

Each filter maps an argument to a fixed SQL fragment over one table alias; values are always bound,
never pasted. Store queries join calls `c` to members `m`; the analysis snapshot keeps a member's
branch and ward on each call row, so its queries pass the same alias for both.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd

from workbench.errors import InputError
from workbench.store import snapshot
from workbench.vocabulary import NEED_CATEGORIES, OUTCOMES

# name -> (whose column: "member" or "call", fragment over that alias)
FILTERS = {
    "branch": ("member", "branch = ?"),
    "ward": ("member", "ward = ?"),
    "round": ("call", "round = ?"),
    "outcome": ("call", "outcome = ?"),
    "date_from": ("call", "called_at >= CAST(? AS DATE)"),
    "date_to": ("call", "called_at < CAST(? AS DATE) + INTERVAL 1 DAY"),
}

KNOWN_QUERIES = {
    "branch": "SELECT DISTINCT branch FROM members WHERE branch IS NOT NULL ORDER BY 1",
    "ward": "SELECT DISTINCT ward FROM members WHERE ward IS NOT NULL ORDER BY 1",
    "round": "SELECT round FROM calls GROUP BY round ORDER BY min(called_at), round",
}


def known(con: duckdb.DuckDBPyConnection, what: str) -> list[str]:
    """The branches, wards or rounds in the store (rounds in the order they were called)."""
    return list(_read(con, ("known", what), KNOWN_QUERIES[what]))


WARDS_QUERY = """
SELECT DISTINCT ward FROM members WHERE ward IS NOT NULL AND (? IS NULL OR branch = ?) ORDER BY 1
"""


def wards(con: duckdb.DuckDBPyConnection, branch: str | None = None) -> list[str]:
    """The wards in the store, or in one branch (for a ward filter that follows the branch filter)."""
    snap = snapshot.current(con)
    if snap is None:
        return [row[0] for row in con.execute(WARDS_QUERY, [branch, branch]).fetchall()]
    return list(snap.derived(("wards", branch), lambda c: _column(c, WARDS_QUERY, [branch, branch])))


def _read(con: duckdb.DuckDBPyConnection, key: tuple, sql: str) -> tuple:
    """The first column of `sql`, from the analysis snapshot if it is of the store as it is now.

    Every filter is checked against these, several times a filter change: the rounds alone scan
    every call (~30 ms on the national store). The snapshot holds the same members and calls, so the
    same query there gives the same answer, and it is worked out once per snapshot.
    """
    snap = snapshot.current(con)
    if snap is None:  # inside a transaction, or no snapshot of this state yet: ask the store
        return _column(con, sql)
    return snap.derived(key, lambda cursor: _column(cursor, sql))


def _column(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    return tuple(row[0] for row in con.execute(sql, params).fetchall())


def check_filters(con: duckdb.DuckDBPyConnection, **filters) -> dict[str, object]:
    """Validate filters; return the ones that are set.

    Raises:
        InputError: an unknown branch, ward, round, outcome or category (naming the known ones),
            or a date that is not YYYY-MM-DD.
    """
    chosen = {k: v for k, v in filters.items() if v is not None}
    for name, value in chosen.items():
        if name in KNOWN_QUERIES:
            allowed = known(con, name)
        elif name == "outcome":
            allowed = list(OUTCOMES)
        elif name == "category":
            allowed = list(NEED_CATEGORIES)
        elif name in ("date_from", "date_to"):
            chosen[name] = _check_date(name, value)
            continue
        else:
            raise InputError(f'Unknown filter "{name}". Filters: {", ".join([*FILTERS, "category"])}.')
        if value not in allowed:
            shown = ", ".join(map(str, allowed[:30])) + (" …" if len(allowed) > 30 else "")
            plural = "branches" if name == "branch" else f"{name}s"
            raise InputError(f'Unknown {name} "{value}". Known {plural}: {shown or "(none in this store)"}.')
    return chosen


def _check_date(name: str, value: object) -> str:
    try:
        return pd.Timestamp(value).date().isoformat()
    except (ValueError, TypeError):
        raise InputError(
            f'{name} "{value}" is not a date; write it as YYYY-MM-DD, e.g. 2020-04-06.'
        ) from None


def where(filters: dict[str, object], allowed: Iterable[str] = tuple(FILTERS), *, calls: str = "c",
          members: str = "m") -> tuple[str, list]:
    """A WHERE body and its parameters for the set filters (keys already validated).

    `calls` and `members` are the aliases the fragments use; over the analysis snapshot, whose call
    rows carry the member's branch and ward, pass the same alias for both.

    Examples:
        >>> where({"branch": "Ashcombe", "round": None})
        ('TRUE AND m.branch = ?', ['Ashcombe'])
        >>> where({"branch": "Ashcombe"}, calls="c", members="c")
        ('TRUE AND c.branch = ?', ['Ashcombe'])
    """
    parts, params = ["TRUE"], []
    for name in allowed:
        if filters.get(name) is not None:
            owner, fragment = FILTERS[name]
            parts.append(f"{members if owner == 'member' else calls}.{fragment}")
            params.append(filters[name])
    return " AND ".join(parts), params


__all__ = ["FILTERS", "check_filters", "known", "wards", "where"]
