"""The release ledger: every release's full parameters in the audit log, and the rules for a series.

Releases are judged as a series, not one at a time: assume every release will be compared with
every other. Cell-key perturbation makes a difference between two releases noisy; the ledger makes
sure nobody builds, by accident or on purpose, the narrow slices a differencing attack needs. Before
a release is written, its request is compared with every earlier release in the ledger (the
``report.release`` entries of the audit log). A request is a **narrow slice** of an earlier release
when, with the same extract setting, it:

- ``window``: covers a window that overlaps the earlier one but differs from it by fewer than
  `WINDOW_SLICE_DAYS` days (counting the days in one window and not the other), or by days that
  hold fewer than `NEW_CALLS_SLICE` calls of the scope, same branch scope. Days are judged by the
  calls on them, not the calendar: padding a window with days without calls changes nothing it
  shows, so it cannot turn a repeat (or a one-day difference) into a "different" window;
- ``branch``: is one branch against all branches (or all against one), over overlapping windows;
- ``new-calls``: has the same scope after the store's data changed (calls, members, needs,
  services, an erasure, an opt-out, a follow-up's state) by fewer than `NEW_CALLS_SLICE` calls in
  that scope;
- ``removed``: overlaps the earlier release's scope after a member was erased, or an opt-out was
  recorded or withdrawn (however many calls came meanwhile: the cells that changed include that
  member's, and cell-key noise, the same for the same records, does not hide that they changed);
- ``extract``: releases a row-level extract overlapping an earlier extract's scope (any overlap,
  unless it is the same scope on the same data with the same settings: the same rows again under new
  pseudonyms).

An internal release that is a narrow slice needs ``allow_overlap`` with a reason, which the ledger
records. A public release that is one is refused outright. An unrounded release (internal only) is
never made over a scope that overlaps a public release, nor a public release over an unrounded one's.

An extract overlapping an earlier extract after the data changed is refused whatever the reason
(``extract-refresh``): extracts carry no noise, so the two subtract row by row, and what is left is
the erased or opted-out member, or whoever's need changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from workbench.errors import DisclosureError, InputError

ACTION = "report.release"
WINDOW_SLICE_DAYS = 7
NEW_CALLS_SLICE = 100

ENTRIES_QUERY = """
SELECT seq, logged_at, actor, object_id, counts FROM audit_log
WHERE action = ? AND counts IS NOT NULL ORDER BY seq
"""

# What the store holds, as far as a report can see: any import, erasure or retention run changes it.
DATA_VERSION_QUERY = """
SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM members), (SELECT count(*) FROM call_needs),
       (SELECT count(*) FROM call_services), (SELECT count(*) FROM members WHERE erased_at IS NOT NULL),
       (SELECT max(imported_at) FROM imports)
"""
# What else a report shows depends on: who is waiting (an opt-out recorded or withdrawn takes a
# member out of the waiting table, a follow-up's state moves them) and the directory's categories.
# Recorded beside the data version (releases from before it have none, and are compared without it).
STATE_VERSION_QUERY = """
SELECT (SELECT (count(*), count(withdrawn_at), max(recorded_at), max(withdrawn_at)) FROM optouts),
       (SELECT (count(*), max(updated_at)) FROM followups),
       (SELECT (count(*), string_agg(DISTINCT category, ',' ORDER BY category)) FROM services)
"""
# Who has left the data since a release: members erased, and opt-outs recorded or withdrawn (an opt-out
# takes a member out of the waiting table). Counts, so the ledger can tell that one happened.
REMOVED_QUERY = """
SELECT (SELECT count(*) FROM members WHERE erased_at IS NOT NULL), (SELECT count(*) FROM optouts),
       (SELECT count(withdrawn_at) FROM optouts)
"""
# Calls on each day, branch by branch (the window rule judges days by their calls).
CallsOn = Callable[[str | None], Mapping[str, int]]
SPAN_QUERY = "SELECT min(called_at)::DATE, max(called_at)::DATE FROM calls"


@dataclass(frozen=True)
class Request:
    """A release's parameters as the ledger compares and records them."""

    profile: str
    rounding: bool
    window: tuple[str, str] | None     # first and last day, open ends resolved to the store's calls
    branch: str | None
    extract: dict | None               # the extract's settings, or None for tables only
    data_version: str
    calls: int                         # calls in the release's scope
    state_version: str | None = None   # opt-outs, follow-ups, directory; None before it was recorded
    as_of: str | None = None           # the moment waiting was counted to; None before it was recorded
    removed: tuple[int, ...] | None = None  # `REMOVED_QUERY` then; None before it was recorded

    def as_dict(self) -> dict:
        return {"profile": self.profile, "rounding": self.rounding,
                "window": list(self.window) if self.window else None, "branch": self.branch,
                "extract": self.extract, "data_version": self.data_version, "calls": self.calls,
                "state_version": self.state_version, "as_of": self.as_of,
                "removed": list(self.removed) if self.removed is not None else None}

    @classmethod
    def from_dict(cls, data: dict) -> Request:
        window = tuple(data["window"]) if data.get("window") else None
        removed = tuple(data["removed"]) if data.get("removed") is not None else None
        return cls(data["profile"], bool(data["rounding"]), window, data.get("branch"), data.get("extract"),
                   data["data_version"], int(data["calls"]), data.get("state_version"), data.get("as_of"),
                   removed)

    def same_data(self, other: Request) -> bool:
        """Whether the store held the same data for both, counted to the same moment (the state and the
        moment compared when both recorded them)."""
        return self.data_version == other.data_version and all(
            None in (mine, theirs) or mine == theirs
            for mine, theirs in ((self.state_version, other.state_version), (self.as_of, other.as_of)))

    def removed_since(self, other: Request) -> bool:
        """Whether a member was erased, or an opt-out recorded or withdrawn, between `other` and this."""
        return None not in (self.removed, other.removed) and self.removed != other.removed


@dataclass(frozen=True)
class Entry:
    """One earlier release in the ledger."""

    release_id: str
    logged_at: object
    actor: str
    request: Request
    allow_overlap: str | None


def data_version(con: duckdb.DuckDBPyConnection, query: str = DATA_VERSION_QUERY) -> str:
    """A short digest of what the store holds (letters only, so the audit log never takes it for a number)."""
    state = con.execute(query).fetchone()
    digest = hashlib.sha256(repr(tuple(map(str, state))).encode("utf-8")).hexdigest()[:12]
    return digest.translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))


def request(con: duckdb.DuckDBPyConnection, *, profile: str, rounding: bool, date_from: str | None,
            date_to: str | None, branch: str | None, extract: dict | None, calls: int,
            as_of: str | None = None) -> Request:
    """The ledger's view of a release about to be made (open ends of the window resolved)."""
    return Request(profile, rounding, window(con, date_from, date_to), branch, extract, data_version(con),
                   calls, data_version(con, STATE_VERSION_QUERY), as_of,
                   tuple(int(n) for n in con.execute(REMOVED_QUERY).fetchone()))


def window(con: duckdb.DuckDBPyConnection, date_from: str | None, date_to: str | None
           ) -> tuple[str, str] | None:
    """A release's first and last day, open ends at the store's first and last call (None: no calls)."""
    first, last = con.execute(SPAN_QUERY).fetchone()
    start = date_from or (first.isoformat() if first else None)
    end = date_to or (last.isoformat() if last else None)
    return (start, end) if start and end else None


def entries(con: duckdb.DuckDBPyConnection) -> list[Entry]:
    """Every release recorded with its parameters, oldest first."""
    out = []
    for _, logged_at, actor, object_id, counts in con.execute(ENTRIES_QUERY, [ACTION]).fetchall():
        data = json.loads(counts)
        if "ledger" not in data:
            continue  # a release from before the ledger: its scope was never recorded
        out.append(Entry(str(object_id).removeprefix("release "), logged_at, actor,
                         Request.from_dict(data["ledger"]), data.get("allow_overlap")))
    return out


def releases(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The ledger as a table, oldest first: one row per release, with its scope and any approval."""
    rows = [{"release_id": e.release_id, "released_at": e.logged_at, "by": e.actor,
             "profile": e.request.profile,
             "rounding": e.request.rounding,
             "from": e.request.window[0] if e.request.window else None,
             "to": e.request.window[1] if e.request.window else None,
             "branch": e.request.branch or "all", "extract": e.request.extract is not None,
             "linked_to": (e.request.extract or {}).get("linked_to"),
             "data_version": e.request.data_version, "allow_overlap": e.allow_overlap}
            for e in entries(con)]
    columns = ["release_id", "released_at", "by", "profile", "rounding", "from", "to", "branch", "extract",
               "linked_to", "data_version", "allow_overlap"]
    return pd.DataFrame(rows, columns=columns)


def linked_group(earlier: list[Entry], link_to: str) -> list[Entry]:
    """Every earlier extract whose pseudonyms share the key `link_to` uses: the release that made the
    key and every release linked to it, directly or through another (oldest first). A new extract
    linked to any of them can be joined with all of them.

    Raises:
        InputError: `link_to` is no extract in the ledger.
    """
    by_id = {e.release_id: e for e in earlier if e.request.extract is not None}
    if link_to not in by_id:
        raise InputError(f'Release "{link_to}" is no extract in the ledger, so nothing can be linked to it. '
                         "Leave out --link-to, or name an earlier extract (workbench releases).")

    def root(release_id: str) -> str:
        seen = set()
        while (parent := (by_id[release_id].request.extract or {}).get("linked_to")) in by_id \
                and release_id not in seen:
            seen.add(release_id)
            release_id = parent
        return release_id

    key = root(link_to)
    return [e for e in by_id.values() if root(e.release_id) == key]


# -- the rules ---------------------------------------------------------------------------------------


def _days(window: tuple[str, str]) -> set[int]:
    start, end = (date.fromisoformat(d).toordinal() for d in window)
    return set(range(start, end + 1))


def _overlap(a: Request, b: Request) -> bool:
    windows = a.window is None or b.window is None or bool(_days(a.window) & _days(b.window))
    branches = a.branch is None or b.branch is None or a.branch == b.branch
    return windows and branches


def slices(new: Request, old: Request, calls_on: CallsOn | None = None) -> list[str]:
    """The narrow-slice patterns `new` forms with one earlier release `old` (empty: none).

    `calls_on(branch)` gives the calls of a branch scope (None: all) on each day ("2020-06-01"), as
    the store holds them now. Without it every day is taken to hold many calls.

    Examples:
        >>> a = Request("internal", True, ("2020-06-01", "2020-06-30"), None, None, "v1", 500)
        >>> slices(Request("internal", True, ("2020-06-01", "2020-06-29"), None, None, "v1", 490), a)
        ['window']
        >>> slices(Request("internal", True, ("2020-06-01", "2020-06-30"), "Ashcombe", None, "v1", 90), a)
        ['branch']
        >>> padded = Request("internal", True, ("2020-05-01", "2020-06-30"), None, None, "v2", 499)
        >>> slices(padded, a), slices(padded, a, lambda branch: {"2020-06-02": 500})
        ([], ['new-calls'])

        The days added to the window hold no calls, so the second answer judges it the same window
        as `a`'s, on data that changed by one call.
    """
    if not _overlap(new, old):
        return []
    found = []
    same_window = new.window == old.window
    if new.branch == old.branch and not same_window and new.window and old.window:
        differing = _days(new.window) ^ _days(old.window)
        calls = _calls(differing, new.branch, calls_on)
        # Days without calls add nothing a release shows: such windows are the same window.
        same_window = calls == 0
        if not same_window and (len(differing) < WINDOW_SLICE_DAYS or calls < NEW_CALLS_SLICE):
            found.append("window")
    if (new.branch is None) != (old.branch is None):
        found.append("branch")
    if new.branch == old.branch and same_window and not new.same_data(old) \
            and abs(new.calls - old.calls) < NEW_CALLS_SLICE:
        found.append("new-calls")
    if new.removed_since(old):
        # Cell-key noise is the same for the same records: beside this, a cell that changed is one the
        # member left, however many calls were added elsewhere in the scope.
        found.append("removed")
    if new.extract is not None and old.extract is not None:
        if not new.same_data(old):
            found.append("extract-refresh")
        elif not (new.branch == old.branch and same_window and _same_settings(new.extract, old.extract)):
            found.append("extract")
    return found


def _same_settings(new: dict, old: dict) -> bool:
    """Whether two extracts generalise the same way (a finer area, period or needs is another extract;
    which key the pseudonyms use is not: the rows are the same)."""
    return all(new.get(name) == old.get(name) for name in ("area", "period", "needs"))


def _calls(days: set[int], branch: str | None, calls_on: CallsOn | None) -> int:
    """Calls of the branch scope on these days (ordinals); without `calls_on`, as many as a slice allows."""
    if calls_on is None:
        return NEW_CALLS_SLICE * len(days)
    on = calls_on(branch)
    return sum(on.get(date.fromordinal(day).isoformat(), 0) for day in days)


def unrounded_clash(new: Request, old: Request) -> bool:
    """An unrounded release and a public one over overlapping scopes: never allowed."""
    pair = {(new.rounding, new.profile), (old.rounding, old.profile)}
    unrounded = any(not rounding for rounding, _ in pair)
    public = any(profile == "public" for _, profile in pair)
    return unrounded and public and _overlap(new, old)


PATTERNS = {
    "window": f"its window overlaps release {{id}}'s but differs from it by fewer than {WINDOW_SLICE_DAYS} "
              f"days or by days with fewer than {NEW_CALLS_SLICE} calls",
    "branch": "it sets one branch against all branches over a window that overlaps release {id}'s",
    "new-calls": f"it repeats release {{id}}'s scope after the data changed by fewer than {NEW_CALLS_SLICE} "
                 "calls (an import, an erasure, an opt-out, a follow-up, or the day waiting is counted to)",
    "removed": "a member was erased, or an opt-out recorded or withdrawn, since release {id}, whose scope "
               "this one overlaps: the cells that changed between the two would be that member's",
    "extract": "its extract overlaps release {id}'s extract",
    "extract-refresh": "its extract overlaps release {id}'s extract and the data changed since",
}
# Patterns no reason can approve.
NEVER = frozenset({"extract-refresh"})


def check(con: duckdb.DuckDBPyConnection, new: Request, *, allow_overlap: str | None = None,
          calls_on: CallsOn | None = None) -> list[str]:
    """Compare a request with every earlier release; refuse what the series rules do not allow.

    Args:
        new: the request (see `request`).
        allow_overlap: the organiser's reason for an internal release that is a narrow slice.
        calls_on: calls per day of a branch scope, as the store holds them now (see `slices`).

    Returns:
        The narrow-slice findings the approval covers ("window with release X", ...); empty when none.

    Raises:
        DisclosureError: a public release that is a narrow slice, an unrounded release against a public
            one (either way round), or an internal narrow slice without `allow_overlap`. The message
            names the earlier release and the pattern, never a count.
        InputError: `allow_overlap` given as an empty reason.
    """
    if allow_overlap is not None and not allow_overlap.strip():
        raise InputError("--allow-overlap needs a reason, for the ledger: say why this release may overlap.")
    findings = []
    for entry in entries(con):
        if unrounded_clash(new, entry.request):
            raise DisclosureError(
                f"Refused: release {entry.release_id} and this one cover overlapping scopes, and one is "
                "unrounded while the other is public; together they would give exact counts away. Unrounded "
                "figures are for internal use only: choose a scope that does not overlap.")
        findings += [(pattern, entry.release_id) for pattern in slices(new, entry.request, calls_on)]
    if not findings:
        return []
    never = [(p, rid) for p, rid in findings if p in NEVER]
    if never:
        raise DisclosureError(
            f"Refused: {PATTERNS[never[0][0]].format(id=never[0][1])}. Extracts carry no noise, so the two "
            "would subtract row by row and show whose record left or changed (an erasure, an opt-out, a "
            "need). Release the tables only, or an extract over calls no earlier extract covered.")
    reasons = "; ".join(PATTERNS[p].format(id=rid) for p, rid in findings[:3])
    more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
    if new.profile == "public":
        remedy = (
            "Publish only calls no earlier release covered: a window that starts after the last day of each "
            "release named"
            if any(p == "removed" for p, _ in findings)
            else f"Choose a window that differs by {WINDOW_SLICE_DAYS} days or more and by {NEW_CALLS_SLICE} "
                 "calls or more, no --branch, or wait for more calls"
        )
        raise DisclosureError(f"Refused: a public release must not be a narrow slice of an earlier one, and "
                              f"{reasons}{more}. {remedy}.")
    if allow_overlap is None:
        raise DisclosureError(f"Refused: {reasons}{more}, so the two could be subtracted. If this "
                              "internal release is needed anyway, give --allow-overlap REASON (recorded in "
                              "the ledger).")
    return [f"{p} with release {rid}" for p, rid in findings]


__all__ = ["ACTION", "NEVER", "NEW_CALLS_SLICE", "PATTERNS", "WINDOW_SLICE_DAYS", "CallsOn", "Entry",
           "Request", "check", "data_version", "entries", "linked_group", "releases", "request", "slices",
           "unrounded_clash", "window"]
