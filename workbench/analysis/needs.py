"""Who needs support: the triage queue, escalation, counts, trends across rounds, follow-up state.

A member **needs support** when their most recent answered call recorded a need, their follow-up is
not resolved, and they are not opted out (every queue goes through `optouts.suppress`). A member
with such a call but no `followups` row counts as "open" from that call's time, so nobody falls
through. A resolved follow-up covers the needs recorded up to its resolution: a need recorded on a
later call opens it again. docs/glossary.md defines every measure used here.
"""

from __future__ import annotations

import contextlib
import gc
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError
from workbench.privacy import optouts
from workbench.scoring import WAITING_CAP_DAYS, needing_columns
from workbench.store import settings, snapshot
from workbench.store.audit import audit
from workbench.store.filters import check_filters, check_moment, known, where
from workbench.store.state import fingerprint as store_fingerprint
from workbench.store.state import transaction
from workbench.vocabulary import NEED_CATEGORIES, URGENCIES

STATES = ("open", "assigned", "in_progress", "resolved", "unreachable")

# The effective follow-up state of the need on call `n`: a resolved follow-up covers needs recorded
# up to its resolution; a later need reopens it. No row at all counts as open from the call's time.
STATE_COLUMNS = """
       CASE WHEN f.member_key IS NULL THEN 'open'
            WHEN f.state = 'resolved' AND coalesce(f.resolved_at, f.updated_at) < n.called_at THEN 'open'
            ELSE f.state END AS state,
       CASE WHEN f.member_key IS NULL
              OR (f.state = 'resolved' AND coalesce(f.resolved_at, f.updated_at) < n.called_at)
            THEN n.called_at ELSE f.opened_at END AS opened_at
"""

# The latest answered call of every member in scope, judged within the filtered calls of the
# snapshot (`workbench.store.snapshot`). One aggregate per member (arg_max) rather than a window.
LIVE_NEEDS_QUERY = """
WITH latest AS (
    SELECT c.mid, arg_max(c.cid, (c.called_at, c.call_id)) AS cid
    FROM calls c
    WHERE c.outcome = 'answered' AND c.known AND {where}
    GROUP BY c.mid
), l AS (
    SELECT m.mid, m.member_key, m.branch, m.ward, m.age, c.cid, c.call_id, c.called_at, c.urgency, c.wellbeing
    FROM latest x JOIN calls c ON c.cid = x.cid JOIN members m ON m.mid = x.mid
    WHERE c.needs_support
), needing AS (
    SELECT NEEDING_COLUMNS FROM l LEFT JOIN call_categories k USING (cid)
)
SELECT n.*, STATE_COLUMNS FROM needing n LEFT JOIN {followups} f ON f.member_key = n.member_key
""".replace("STATE_COLUMNS", STATE_COLUMNS).replace("NEEDING_COLUMNS", needing_columns())

# The same from the snapshot's `needing` table (built with `needing_columns`), when no round or
# date filter changes what "latest" means.
CACHED_NEEDS_QUERY = """
SELECT n.*, STATE_COLUMNS
FROM (SELECT * FROM needing c WHERE {where}) n
LEFT JOIN {followups} f ON f.member_key = n.member_key
""".replace("STATE_COLUMNS", STATE_COLUMNS)

@contextlib.contextmanager
def current_needs_sql(
    con: duckdb.DuckDBPyConnection, filters: dict, snap=None
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """Members whose latest answered call recorded a need, with their live follow-up state.

    Yields (cursor, sql): a cursor on the store's snapshot (`workbench.store.snapshot`) with the store's
    follow-ups as they are now, and a query with a `{where}` slot for the filters (`store.filters.where`,
    alias `c`). The snapshot's needing table serves it unless a round or date filter changes what
    "latest" means; joined to the follow-ups, it is kept while the store is unchanged (`_needs_now`).
    `snap`: a snapshot the caller already holds (default: the store's current one).
    """

    snap = snap or snapshot.get(con)
    live = any(filters.get(k) is not None for k in ("round", "date_from", "date_to"))
    fingerprint = None if live else store_fingerprint(con)
    cursor = snap.cursor()
    name = f"_needs_{uuid.uuid4().hex}"
    try:
        if fingerprint is None:
            cursor.register(name, snapshot.live_followups(con))
            yield cursor, (LIVE_NEEDS_QUERY if live else CACHED_NEEDS_QUERY).replace("{followups}", name)
        else:
            cursor.register(name, snap.derived(("needs_now", fingerprint), lambda c: _needs_now(c, con)))
            yield cursor, f"SELECT * FROM {name} c WHERE {{where}}"
    finally:
        with contextlib.suppress(duckdb.Error):
            cursor.unregister(name)
        cursor.close()


def _needs_now(cursor: duckdb.DuckDBPyConnection, con: duckdb.DuckDBPyConnection):
    """Every needing row joined to the follow-ups as they are now, kept for one store state.

    Kept per `store.state.fingerprint`, which changes with any committed write (a follow-up's new state
    included), so it is as live as reading the follow-ups on every call: a dashboard reads it on
    every filter change, and the join of 56,000 follow-ups cost ~15 ms each time.
    """

    name = f"_followups_{uuid.uuid4().hex}"
    cursor.register(name, snapshot.live_followups(con))
    try:
        sql = CACHED_NEEDS_QUERY.replace("{followups}", name).format(where="TRUE")
        return cursor.execute(sql).fetch_arrow_table()
    finally:
        cursor.unregister(name)


def needs_where(filters: dict) -> tuple[str, list]:
    """The `{where}` body and parameters for `current_needs_sql` (branch, ward, round, dates)."""

    live = any(filters.get(k) is not None for k in ("round", "date_from", "date_to"))
    allowed = ("branch", "ward", "round", "date_from", "date_to") if live else ("branch", "ward")
    return where(filters, allowed, members="c")


# Over the snapshot's needing rows (`current_needs_sql`): the score is their static `points` plus
# days waiting, which depend on the live follow-up state. `mid` (numbered in member_key order)
# breaks ties as member_key would, on integers; `volunteers.matches` uses it, `queue` drops it.
QUEUE_QUERY = """
WITH current AS ({current}),
waiting AS (
    SELECT *,
           CAST(greatest(floor(date_diff('second', opened_at, CAST(? AS TIMESTAMP)) / 86400), 0) AS INTEGER)
           AS days_waiting
    FROM current WHERE state <> 'resolved'
)
SELECT member_key, branch, ward, categories, urgency, wellbeing, age_band, days_waiting,
       CAST(points + least(days_waiting, {cap}) AS INTEGER) AS score,
       days_waiting > ? AS escalated, state, call_id, opened_at, mid
FROM waiting
WHERE ? IS NULL OR list_contains(categories, ?)
ORDER BY score DESC, days_waiting DESC, mid
"""


def _queue_sql(current: str, columns: tuple[str, ...] | None = None) -> str:
    sql = QUEUE_QUERY.format(current=current, cap=WAITING_CAP_DAYS)
    if columns is None:
        return sql
    # Only some columns, in no particular order: DuckDB then reads and sorts nothing else.
    body = sql[: sql.rindex("ORDER BY")]
    return f"SELECT {', '.join(columns)} FROM ({body})"


def queue(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    category: str | None = None,
    as_of: datetime | str | None = None,
    escalate_after_days: int | None = None,
    **call_filters,
) -> pd.DataFrame:
    """The triage queue: everyone who needs support, most urgent first, opt-outs removed.

    The **urgency score** is the sum of five parts (docs/glossary.md):

    - recorded urgency: high 40, medium 20, low 5 (missing: 20);
    - wellbeing 1-5: (5 - wellbeing) x 5, so 1 (struggling) is 20 and 5 is 0 (missing: 10);
    - need categories: the weightiest category (food 15, medicine 15, mental_health 12, housing 10,
      financial 8, isolation 8, other 5, digital 3) plus 2 for each further category;
    - age band: 80+ 15, 65-79 10, 50-64 5, under 50 0 (unknown: 5);
    - days waiting: one point a day, up to 30.

    A need is **escalated** when it has waited more than `escalate_after_days` days.

    Args:
        branch, ward, category: keep only this branch, ward or need category.
        as_of: the moment days waiting are counted to (default: `reference_time`).
        escalate_after_days: default the store setting "escalate_after_days" (7).
        call_filters: round / date_from / date_to: judge "most recent answered call" within these calls.

    Returns:
        member_key, branch, ward, categories (list), urgency, wellbeing, age_band, days_waiting, score,
        escalated, state, call_id, opened_at; no identity. `attrs["excluded"]` counts the people
        suppression left out, by reason.

    Raises:
        InputError: an unknown branch, ward or category (the message names the known ones).

    Examples:
        >>> needs.queue(con, branch="Ashcombe").head()  # doctest: +SKIP
    """
    table, excluded = queue_arrow(
        con, branch=branch, ward=ward, category=category, as_of=as_of,
        escalate_after_days=escalate_after_days, **call_filters,
    )
    result = with_lists(table, "categories")
    result.attrs["excluded"] = excluded
    result.attrs["escalate_after_days"] = escalation_days(con, escalate_after_days)
    return result


def queue_arrow(
    con: duckdb.DuckDBPyConnection,
    *,
    branch: str | None = None,
    ward: str | None = None,
    category: str | None = None,
    as_of: datetime | str | None = None,
    escalate_after_days: int | None = None,
    columns: tuple[str, ...] | None = None,
    **call_filters,
) -> tuple[pa.Table, dict]:
    """`queue` as an Arrow table, most urgent first, and its suppression counts: for a caller that
    joins more to it in SQL before anything becomes Python (a branch's follow-up list).

    `columns`: only these and member_key, in no order (a count needs no sorting).

    Raises:
        InputError: as `queue`.
    """
    filters = check_filters(con, branch=branch, ward=ward, category=category, **call_filters)
    days = escalation_days(con, escalate_after_days)
    table, excluded = queue_table(con, filters, reference_time(con, as_of), days, columns=columns)
    return (table if columns else table.drop_columns(["mid"])), excluded


def queue_table(
    con: duckdb.DuckDBPyConnection, filters: dict, as_of: datetime, days: int, *, snap=None, flagged=None,
    columns: tuple[str, ...] | None = None,
) -> tuple[pa.Table, dict]:
    """The triage queue as an Arrow table, opt-outs removed, for callers that stay in Arrow.

    Args:
        filters: validated (`check_filters`); as_of: the reference time; days: escalation days.
        snap, flagged: a snapshot and an `optouts.flagged` reading the caller shares between lists.
        columns: only these (member_key is always among them), unordered; default all, most urgent first.

    Returns:
        (table, excluded): the `queue` columns plus the snapshot's integer `mid`, and the
        suppression counts. Only the keys go through `optouts.suppress`, so no list column is
        converted to Python just to be dropped.
    """
    body, params = needs_where(filters)
    category = filters.get("category")
    with current_needs_sql(con, filters, snap) as (cursor, current):
        table = cursor.execute(
            _queue_sql(current, columns and ("member_key", *columns)).format(where=body),
            [*params, as_of, days, category, category],
        ).fetch_arrow_table()
    return optouts.suppress_table(con, table, flagged_now=flagged)


def with_lists(table, column: str) -> pd.DataFrame:
    """An Arrow table as a DataFrame whose list `column` holds Python lists."""
    # pandas turns Arrow lists into numpy arrays slowly; Python lists are what callers expect (list[str]).
    frame = table.drop_columns([column]).to_pandas()
    frame.insert(table.column_names.index(column), column, python_lists(table.column(column)))
    return frame


LIST_JOIN = "\x1f"  # the ASCII unit separator: never in a category or skill name


def python_lists(column: pa.ChunkedArray | pa.Array) -> list[list | None]:
    """A list-of-strings column as Python lists, each distinct list made once and copied per row.

    A national queue's 50,000 rows hold a few dozen combinations of categories, so each is split
    once; each row gets its own copy, so changing one changes no other. A column whose values could
    not be told apart when joined (an empty string, or the separator itself) is converted row by
    row instead. Python's cycle collector is paused meanwhile: lists of strings hold no cycles, and
    its full passes over a kernel's long-lived objects, set off every few thousand new lists, took
    five times as long as the conversion itself (national queue: 62 -> 12 ms).

    Examples:
        >>> python_lists(pa.array([["food", "medicine"], [], None, ["food", "medicine"]]))
        [['food', 'medicine'], [], None, ['food', 'medicine']]
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    with _collector_paused():
        if not _joinable(pc.list_flatten(column)):
            return column.to_pylist()
        encoded = pc.dictionary_encode(pc.binary_join(column, LIST_JOIN))
        made = [None if text is None else text.split(LIST_JOIN) if text else []
                for text in encoded.dictionary.to_pylist()]
        return [None if i is None else list(made[i]) for i in encoded.indices.to_pylist()]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _joinable(values: pa.Array) -> bool:
    # Strings, none empty and none holding the separator: then joined lists split back exactly.
    if not pa.types.is_string(values.type):
        return False
    return not (pc.any(pc.equal(values, "")).as_py() or pc.any(pc.match_substring(values, LIST_JOIN)).as_py())


def reference_time(con: duckdb.DuckDBPyConnection, as_of: datetime | str | None = None) -> datetime:
    """The moment waiting is counted to: `as_of`, else the store's "as_of" setting, else now.

    `as_of` is checked by `filters.check_moment`: YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], a date or a
    datetime. An empty or NaN `as_of` is an error, not "now": leave it out (None) for that.

    Raises:
        InputError: `as_of`, or the stored setting, is not a date or time.
    """
    if as_of is not None:
        return check_moment("--as-of", as_of)
    stored = settings.get(con, "as_of")
    if not stored:
        return datetime.now(UTC).replace(tzinfo=None)
    try:
        return check_moment("The store's as_of setting", stored)
    except InputError as error:  # set before the setting was checked as strictly
        raise InputError(f"{error} Change it with: workbench config set as_of YYYY-MM-DD "
                         '(or "" to count up to today).') from None


def escalation_days(con: duckdb.DuckDBPyConnection, days: int | None = None) -> int:
    """Days a need waits before it is escalated: `days` checked, else the store's setting."""
    if days is None:
        return int(settings.get(con, "escalate_after_days"))
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise InputError(f"escalate_after_days must be a whole number of days, 0 or more; got {days!r}.")
    return days


COUNT_COLUMNS = ("category", "ward", "branch", "urgency", "age_band", "state")


def counts(queue_frame: pd.DataFrame, by: str = "category") -> pd.DataFrame:
    """How many members in a triage queue, by category, ward, branch, urgency, age band or state.

    A member with two categories counts once in each; `escalated` counts the escalated ones.

    Raises:
        InputError: an unknown `by`.
    """
    if by not in COUNT_COLUMNS:
        raise InputError(f'Cannot count needs by "{by}". Choose one of: {", ".join(COUNT_COLUMNS)}.')
    frame = (
        queue_frame.explode("categories").rename(columns={"categories": "category"})
        if by == "category"
        else queue_frame
    )
    grouped = frame.groupby(by, dropna=False).agg(
        members=("member_key", "nunique"), escalated=("escalated", "sum")
    )
    order = list(NEED_CATEGORIES) if by == "category" else None
    out = grouped.reset_index()
    out["escalated"] = out["escalated"].astype(int)
    if order:
        out = out.set_index(by).reindex(order, fill_value=0).reset_index()
    return (
        out.sort_values(["members", by], ascending=[False, True], kind="stable").reset_index(drop=True)
        if not order
        else out
    )


# Each member's latest answered call in two rounds, compared: wellbeing and need categories.
TREND_QUERY = """
WITH latest AS (
    SELECT c.member_key, c.round, arg_max(c.call_id, (c.called_at, c.call_id)) AS call_id
    FROM calls c JOIN members m ON m.member_key = c.member_key
    WHERE c.outcome = 'answered' AND c.round IN (?, ?) AND {where}
    GROUP BY c.member_key, c.round
), described AS (
    SELECT l.member_key, l.round, c.wellbeing, coalesce(c.needs_support, FALSE) AS needs_support,
           coalesce((SELECT list(category ORDER BY category) FROM call_needs n WHERE n.call_id = l.call_id),
                    []) AS categories
    FROM latest l JOIN calls c ON c.call_id = l.call_id
)
SELECT b.member_key, m.branch, m.ward, b.wellbeing AS wellbeing_before, a.wellbeing AS wellbeing_now,
       b.needs_support AS needed_before, a.needs_support AS needs_now,
       list_filter(a.categories, x -> NOT list_contains(b.categories, x)) AS new_categories
FROM described b JOIN described a ON a.member_key = b.member_key AND b.round = ? AND a.round = ?
JOIN members m ON m.member_key = b.member_key
ORDER BY b.member_key
"""


def trend(
    con: duckdb.DuckDBPyConnection,
    *,
    round: str | None = None,
    previous: str | None = None,  # noqa: A002
    branch: str | None = None,
    ward: str | None = None,
) -> pd.DataFrame:
    """Members answered in two rounds: whose wellbeing got worse, and whose need is new.

    Args:
        round: the later round (default: the latest); previous: the earlier (default: the one before).

    Returns:
        member_key, branch, ward, wellbeing_before, wellbeing_now, worse (wellbeing fell),
        new_need (needs support now, did not before), new_categories; suppressed, with
        `attrs["excluded"]` and `attrs["rounds"]`. Empty when there are fewer than two rounds.
    """
    filters = check_filters(con, branch=branch, ward=ward, round=round)
    filters.pop("round", None)
    if previous is not None:
        check_filters(con, round=previous)
    rounds = known(con, "round")
    round = round or (rounds[-1] if rounds else None)
    if previous is None and round in rounds and rounds.index(round) > 0:
        previous = rounds[rounds.index(round) - 1]
    body, params = where(filters, ("branch", "ward"))
    frame = con.execute(TREND_QUERY.format(where=body), [previous, round, *params, previous, round]).df()
    frame["worse"] = (frame["wellbeing_now"] < frame["wellbeing_before"]).fillna(False).astype(bool)
    frame["new_need"] = frame["needs_now"] & ~frame["needed_before"]
    frame["new_categories"] = frame["new_categories"].map(list)
    frame = frame.drop(columns=["needed_before", "needs_now"])
    suppressed = optouts.suppress(con, frame)
    result = suppressed.kept.reset_index(drop=True)
    result.attrs.update(excluded=dict(suppressed.excluded), rounds=(previous, round))
    return result


def trend_summary(trend_frame: pd.DataFrame) -> pd.DataFrame:
    """One row of counts for a `trend` frame: compared, worse, better, same, new_need."""
    before, now = trend_frame["wellbeing_before"], trend_frame["wellbeing_now"]
    return pd.DataFrame(
        [
            {
                "previous": trend_frame.attrs.get("rounds", (None, None))[0],
                "round": trend_frame.attrs.get("rounds", (None, None))[1],
                "compared": len(trend_frame),
                "worse": int((now < before).sum()),
                "better": int((now > before).sum()),
                "same": int((now == before).sum()),
                "new_need": int(trend_frame["new_need"].sum()),
            }
        ]
    )


# ---- follow-up state ------------------------------------------------------------------------------

LATEST_NEED_QUERY = """
SELECT c.call_id, c.called_at, coalesce(c.needs_support, FALSE)
FROM calls c WHERE c.member_key = ? AND c.outcome = 'answered'
ORDER BY c.called_at DESC, c.call_id DESC LIMIT 1
"""

UPSERT_FOLLOWUP = """
INSERT INTO followups (member_key, call_id, state, opened_at, updated_at, assigned_to, resolved_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (member_key) DO UPDATE SET
    call_id = excluded.call_id, state = excluded.state, opened_at = excluded.opened_at,
    updated_at = excluded.updated_at, assigned_to = coalesce(excluded.assigned_to, followups.assigned_to),
    resolved_at = excluded.resolved_at
"""

INSERT_EVENT = (
    "INSERT INTO followup_events (member_key, changed_at, state, changed_by, list_id) VALUES (?, ?, ?, ?, ?)"
)

MEMBER_QUERY = "SELECT count(*) FROM members WHERE member_key = ?"
FOLLOWUP_QUERY = "SELECT call_id, state, opened_at, resolved_at FROM followups WHERE member_key = ?"


def set_state(
    con: duckdb.DuckDBPyConnection,
    member_key: str,
    state: str,
    *,
    actor: str,
    list_id: str | None = None,
    assigned_to: str | None = None,
) -> None:
    """Change a member's follow-up state, record the event, and audit it; all or nothing.

    Runs inside the caller's transaction if one is open (a returns import), else in its own.
    The follow-up is opened at the need's call time if it had no row yet; moving to a new need
    (recorded after the last resolution) opens it again from that call.

    Args:
        state: open, assigned, in_progress, resolved or unreachable.
        actor: who made the change, for the event and the audit log.
        list_id: the follow-up list the change came from, if any.
        assigned_to: who is handling it (a list id or a pseudonymous helper), for "assigned".

    Raises:
        InputError: an unknown state, no actor, or a member_key not in the store.
    """
    set_states(con, [member_key], state, actor=actor, list_id=list_id, assigned_to=assigned_to)


def set_states(
    con: duckdb.DuckDBPyConnection,
    member_keys: Iterable[str],
    state: str,
    *,
    actor: str,
    list_id: str | None = None,
    assigned_to: str | None = None,
) -> int:
    """`set_state` for several members at once, with one audit entry; return how many changed."""
    keys = list(dict.fromkeys(member_keys))
    if state not in STATES:
        raise InputError(f'Unknown follow-up state "{state}". Expected one of: {", ".join(STATES)}.')
    if not str(actor or "").strip():
        raise InputError("A follow-up change needs an actor: give --by NAME or set WORKBENCH_USER.")
    now = datetime.now(UTC).replace(tzinfo=None)
    with snapshot.leaving_analysis_data_alone(con), transaction(con):
        for key in keys:
            _set_one(con, key, state, actor, list_id, assigned_to, now)
        audit(
            con,
            f"followup.{state}",
            actor=actor,
            object_id=list_id,
            counts={"members": len(keys)},
            member_keys=keys,
        )
    return len(keys)


def _set_one(
    con, key: str, state: str, actor: str, list_id: str | None, assigned_to: str | None, now: datetime
) -> None:
    if con.execute(MEMBER_QUERY, [key]).fetchone()[0] == 0:
        raise InputError(f'No member with member_key "{key}" in this store; check the key (from the queue).')
    need = con.execute(LATEST_NEED_QUERY, [key]).fetchone()
    row = con.execute(FOLLOWUP_QUERY, [key]).fetchone()
    call_id, called_at = (need[0], need[1]) if need else (None, now)
    reopened = row is None or (row[1] == "resolved" and row[3] is not None and need and row[3] < called_at)
    opened_at = called_at if reopened else row[2]
    kept_call = call_id if reopened or row[0] is None else row[0]
    resolved_at = now if state == "resolved" else None
    con.execute(UPSERT_FOLLOWUP, [key, kept_call, state, opened_at, now, assigned_to, resolved_at])
    con.execute(INSERT_EVENT, [key, now, state, actor, list_id])


__all__ = [
    "STATES",
    "current_needs_sql",
    "counts",
    "known",
    "queue",
    "set_state",
    "set_states",
    "trend",
    "trend_summary",
    "URGENCIES",
]
