"""A motivated intruder with a whole series of releases, solving for hidden cells by integer programming.

From the seeded synthetic store the test makes the series the ledger lets an organiser make: every
window of round 1 with default settings (those the ledger refuses are left out), each branch against
all branches (approved with --allow-overlap), and the same scope again after one more call
(approved). The intruder knows the published rules: the perturbation table's bounds, that nothing
but a true 0 is published as 0, and which zeros the profile hides. It models the attempts by day,
branch and outcome as unknown non-negative integers, with the new call as one unknown unit; every
published cell of the outcome table bounds a sum of them. For every suppressed count of the whole
series (a suppressed cell whose true count is 1 or more: what the small-number rule protects) it
then asks whether the series allows any other true count: none may be determined exactly.

The store's keys are fixed (a fixed 'member' secret and one 'record' secret per seed), so every run
makes the same releases. Under the keys of seed 3, while every zero was shown, this series
determined 58 suppressed counts, among them every cell of Kestrel Moor's column of the round's
table (answered 6, no answer 6, voicemail 1, do not call 1): its 14 calls each fell on their own day
and outcome, so 14 one-day cells showed * (each "at least 1"), and the round's total, shown as 10,
is at most 14. Seeds 0 and 1 were safe before too; together they check the rule does not just move
the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix, vstack

from workbench import reports, synthetic
from workbench.errors import DisclosureError, InputError
from workbench.privacy import pseudonymise
from workbench.reports import cellkey
from workbench.store import db
from workbench.store.audit import audit
from workbench.store.state import transaction
from workbench.vocabulary import OUTCOMES

FIRST, LAST = date(2020, 3, 30), date(2020, 4, 14)   # round 1 of the tiny synthetic organisation
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
PROFILE = reports.disclosure.profile("internal")      # the default release: internal, rounded
HIDDEN_MAX = PROFILE.threshold - 1 + cellkey.MAX_NOISE   # a suppressed count: perturbed to 1..7
MEMBER_SECRET = hashlib.sha256(b"member-7").digest()
SEEDS = (3, 0, 1)   # record-key seeds; 3 is one whose keys the series used to break


def record_secret(seed: int) -> bytes:
    return hashlib.sha256(b"record-%d" % seed).digest()


TRUTH_QUERY = """
SELECT c.called_at::DATE AS day, m.branch, c.outcome, count(*) AS n
FROM calls c JOIN members m ON m.member_key = c.member_key
WHERE c.called_at::DATE BETWEEN ? AND ? GROUP BY ALL
"""


# -- the series -------------------------------------------------------------------------------------


@dataclass
class Release:
    options: reports.Options   # the checked scope the ledger let through
    days: list[date]
    branches: list[str]
    after_call: bool
    frames: dict[int, pd.DataFrame] = field(default_factory=dict)   # by seed


@dataclass
class Series:
    branches: list[str]
    releases: list[Release]
    windows: int
    y: np.ndarray          # the true attempts by (day, branch, outcome)
    e: np.ndarray          # where the new call went


def _admit(con, ids, *, allow_overlap=None, **scope) -> reports.Options | None:
    """Ask the ledger, as `build` does (the release recorded in the audit log); None where it refuses."""
    try:
        options = reports.scope(con, **scope)
        release_id = f"intruder-{next(ids)}"
        recorded = reports.admit(con, options, release_id, actor="intruder", allow_overlap=allow_overlap)
    except (DisclosureError, InputError):
        return None
    with transaction(con):
        audit(con, "report.release", actor="intruder", object_id=f"release {release_id}", counts=recorded)
    return options


def _publish(con, releases: list[Release], seed: int) -> None:
    """The outcome table of each release, as the store's keys under `seed` perturb it."""
    pseudonymise.record_secret(con)
    con.execute("UPDATE keys SET secret = ? WHERE name = ?",
                [record_secret(seed), pseudonymise.RECORD_KEY_NAME])
    for release in releases:
        options = dataclasses.replace(release.options, cache={})   # nothing computed under other keys
        try:
            release.frames[seed] = reports.outcome_mix(con, options).frame
        finally:
            reports.release_record_keys(con, options)


@pytest.fixture(scope="module")
def series(tmp_path_factory, tiny_org) -> Series:
    """The series the ledger allows, published under each seed's record keys.

    The ledger's answers depend on scopes and counts, never on keys, so it is asked once; each
    seed's keys then publish the same scopes.
    """
    path = tmp_path_factory.mktemp("intruder") / "tiny.duckdb"
    db.init_store(path, db.DEMO_PASSPHRASE)
    # About 400 tiny queries: DuckDB's worker threads cost more CPU than they save on them (8 s
    # against 13.6 s for the series, measured); the results are the same.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db, "_new_connection", _one_thread(db._new_connection))
        con = db.connect(path, db.DEMO_PASSPHRASE)
        try:
            con.execute("UPDATE keys SET secret = ? WHERE name = 'member'", [MEMBER_SECRET])
            with transaction(con):
                synthetic.build_store(con, tiny_org)
            return _series(con)
        finally:
            con.close()
            shutil.rmtree(path.parent, ignore_errors=True)


def _one_thread(connect):
    def one_thread_connection():
        con = connect()
        con.execute("SET threads TO 1")
        return con

    return one_thread_connection


def _series(con) -> Series:
    branches = sorted(r[0] for r in con.execute("SELECT DISTINCT branch FROM members").fetchall())
    ids, before = count(), []
    whole = {"date_from": str(FIRST), "date_to": str(LAST)}
    if options := _admit(con, ids, **whole):
        before.append(Release(options, DAYS, branches, False))
    windows = 0
    for start in DAYS:
        for end in [d for d in DAYS if d >= start]:
            if options := _admit(con, ids, date_from=str(start), date_to=str(end)):
                windows += 1
                before.append(Release(options, [d for d in DAYS if start <= d <= end], branches, False))
    for branch in branches:
        if options := _admit(con, ids, branch=branch, allow_overlap="branch review", **whole):
            before.append(Release(options, DAYS, [branch], False))
    for seed in SEEDS:
        _publish(con, before, seed)
    y = _truth(con, branches)
    # One more call in round 1, then the same scope again.
    moved = con.execute("SELECT call_id, called_at::DATE, outcome FROM calls WHERE called_at::DATE "
                        "BETWEEN ? AND ? ORDER BY call_id LIMIT 1", [FIRST, LAST]).fetchone()
    con.execute("INSERT INTO calls SELECT 'intruder-new-call', member_key, round, caller, called_at, "
                "outcome, wellbeing, needs_support, urgency, keen_to_volunteer, dp_query, NULL, import_id "
                "FROM calls WHERE call_id = ?", [moved[0]])
    options = _admit(con, ids, allow_overlap="after the late import", **whole)
    after = [Release(options, DAYS, branches, True)] if options else []
    for seed in SEEDS:
        _publish(con, after, seed)
    e = _truth(con, branches) - y
    return Series(branches, before + after, windows, y, e)


def _truth(con, branches) -> np.ndarray:
    index = _index(branches)
    y = np.zeros(len(index))
    for day, branch, outcome, n in con.execute(TRUTH_QUERY, [FIRST, LAST]).fetchall():
        y[index[(day, branch, outcome)]] = n
    return y


def _index(branches: list[str]) -> dict:
    return {key: i for i, key in enumerate((d, b, o) for d in DAYS for b in branches for o in OUTCOMES)}


# -- the intruder -----------------------------------------------------------------------------------


PUSH = {"up": -1.0, "down": 1.0}   # objective weights (milp minimises) that push counts up or down


def _row_key(a: csr_matrix, r: int) -> bytes:
    """A sparse row's columns and coefficients, to find repeated rows."""
    span = slice(a.indptr[r], a.indptr[r + 1])
    return a.indices[span].tobytes() + a.data[span].tobytes()


def _bounds(shown) -> tuple[int, int]:
    """What a published figure says about its true count: zero, or rounded to 5 after noise of at most 2."""
    if shown == 0:
        return 0, 0                                   # nothing but a true 0 is published as 0
    low = max(PROFILE.threshold, int(shown) - 2)      # rounded to 5: the perturbed count was within 2
    return max(1, low - cellkey.MAX_NOISE), int(shown) + 2 + cellkey.MAX_NOISE


class Intruder:
    """Unknown attempts y[day, branch, outcome] >= 0, and the new call e[branch, outcome] (binaries
    summing to 1: only the round's table shows it, so its day is nothing the intruder can learn).

    Every published cell bounds a sum of them. A suppressed cell is a count of 1 to HIDDEN_MAX, or,
    under a profile that hides zeros, a zero beside a suppressed count. For counts, which are
    non-negative integers, "a cell in this set is at least 1" is "the set sums to at least 1", so the
    rule is linear: each suppressed cell and its line-mates (the other suppressed cells of its row
    and its column) sum to at least 1. A zero that is shown says that its row and column hold no
    suppressed count, so every suppressed cell there is 0.
    """

    def __init__(self, branches: list[str], hides_zeros: bool):
        self.index = _index(branches)
        self.n = len(self.index)
        self.late = {key: self.n + i for i, key in enumerate((b, o) for b in branches for o in OUTCOMES)}
        self.hides_zeros = hides_zeros
        self.cells: list[tuple[list[int], object]] = []         # (the unknowns summed, shown)
        self.hidden: list[int] = []                               # cells suppressed
        self.mates: list[list[int]] = []                          # each suppressed cell's line-mates
        self.zeroed: set[int] = set()                             # suppressed cells beside a shown 0

    def observe(self, frame: pd.DataFrame, release: Release) -> None:
        columns = [c for c in frame.columns if c != "outcome"]
        grid = {}
        for r, row in enumerate(frame.itertuples(index=False)):
            outcomes = list(OUTCOMES) if row.outcome == "Total" else [row.outcome]
            for c, column in enumerate(columns):
                cells = release.branches if column == "Total" else [column]
                idx = [self.index[(d, b, o)] for d in release.days for b in cells for o in outcomes]
                if release.after_call:
                    idx += [self.late[(b, o)] for b in cells for o in outcomes]
                grid[r, c] = len(self.cells)
                self.cells.append((idx, frame[column].iloc[r]))
        shown = {k: self.cells[cell][1] for k, cell in grid.items()}
        for (r, c), cell in grid.items():
            if pd.isna(shown[r, c]):
                line = [k for k in grid if (k[0] == r) != (k[1] == c)]
                self.hidden.append(cell)
                self.mates.append([grid[k] for k in line if pd.isna(shown[k])])
                if self.hides_zeros and any(not pd.isna(shown[k]) and shown[k] == 0 for k in line):
                    self.zeroed.add(cell)

    def model(self):
        """The sums each cell publishes (over x = (y, e)), and the constraints the series puts on x."""
        n, size = self.n, self.n + len(self.late)
        rows = [r for r, (idx, _) in enumerate(self.cells) for _ in idx]
        cols = [i for idx, _ in self.cells for i in idx]
        sums = csr_matrix(coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.cells), size)))
        low, high = np.zeros(len(self.cells)), np.zeros(len(self.cells))
        for r, (_, shown) in enumerate(self.cells):
            if pd.isna(shown):
                low[r] = 0 if self.hides_zeros else 1
                high[r] = 0 if r in self.zeroed else HIDDEN_MAX
            else:
                low[r], high[r] = _bounds(shown)
        parts = [LinearConstraint(sums, low, high),
                 LinearConstraint(np.r_[np.zeros(n), np.ones(size - n)][None, :], 1, 1)]   # one new call
        if self.hides_zeros and self.hidden:
            # Each suppressed cell with its line-mates: some count among them, so a sum of at least 1.
            groups = [[cell, *mates] for cell, mates in zip(self.hidden, self.mates, strict=True)]
            rows = [j for j, group in enumerate(groups) for _ in group]
            pick = coo_matrix((np.ones(len(rows)), (rows, [c for g in groups for c in g])),
                              shape=(len(groups), len(self.cells)))
            parts.append(LinearConstraint(csr_matrix(pick @ sums), 1, np.inf))
        return sums, parts, Bounds(np.zeros(size), np.r_[np.full(n, np.inf), np.ones(size - n)])

    def reduced(self):
        """The same program, smaller: the unknowns that a 0 fixes at 0 left out, and repeated rows merged.

        The solver would find the same in its presolve, but on every one of its programs.
        """
        sums, parts, bounds = self.model()
        zero = np.zeros(sums.shape[1], dtype=bool)
        zero[sums[parts[0].ub == 0].indices] = True
        keep = ~zero
        constraints = []
        for part in parts:
            a = csr_matrix(part.A)[:, keep]
            low, high = np.broadcast_to(part.lb, a.shape[0]), np.broadcast_to(part.ub, a.shape[0])
            live = np.diff(a.indptr) > 0
            assert np.all((low[~live] <= 0) & (high[~live] >= 0)), "a row with nothing left must allow 0"
            a, low, high = a[live], low[live], high[live]
            merged: dict[bytes, int] = {}
            for r in range(a.shape[0]):
                merged.setdefault(_row_key(a, r), r)
            first = np.array(list(merged.values()))
            rank = {row: i for i, row in enumerate(first)}
            slot = np.array([rank[merged[_row_key(a, r)]] for r in range(a.shape[0])], dtype=int)
            lows, highs = np.full(len(first), -np.inf), np.full(len(first), np.inf)
            np.maximum.at(lows, slot, low)
            np.minimum.at(highs, slot, high)
            constraints.append(LinearConstraint(a[first], lows, highs))
        return sums[:, keep], constraints, Bounds(bounds.lb[keep], bounds.ub[keep]), keep

    def truth(self, y: np.ndarray, e: np.ndarray) -> np.ndarray:
        """The unknowns as they really are: y, and the new call by branch and outcome."""
        late = np.zeros(len(self.late))
        for (_, b, o), i in self.index.items():
            late[self.late[(b, o)] - self.n] += e[i]
        return np.r_[y, late]

    def feasible(self, x: np.ndarray) -> bool:
        """Whether the truth satisfies every constraint (the model is right, not merely strict)."""
        _, parts, bounds = self.model()
        inside = [np.all(p.A @ x >= p.lb - 1e-9) and np.all(p.A @ x <= p.ub + 1e-9) for p in parts]
        return all(inside) and bool(np.all(x >= bounds.lb) and np.all(x <= bounds.ub))

    def pinned(self, targets: list[int], x: np.ndarray) -> list[tuple[int, int]]:
        """The target cells whose true count no other solution of the series allows (`x`: the truth).

        Any other solution frees every open cell whose count it changes. First, single steps from
        the truth: one unknown up or down by 1, wherever every constraint still holds (cheap, and it
        frees most cells). Then integer programs: a few solutions pushed in many directions at once
        (random, then every open cell up, then down), which only look for solutions, so each gets a
        second and whatever it has found; then, for each cell still open, programs solved to the
        end: a solution below its true count or, if there is none, above it. A cell with neither is
        determined exactly.
        """
        sums, parts, bounds, keep = self.reduced()
        x = x[keep]
        want = sums @ x
        open_ = list(dict.fromkeys(targets))

        def unchanged(solution) -> list[int]:
            values = np.rint(sums @ solution)
            return [cell for cell in open_ if values[cell] == want[cell]]

        a = vstack([part.A for part in parts]).toarray()
        at = a @ x
        low = np.concatenate([np.broadcast_to(part.lb, part.A.shape[0]) for part in parts])
        high = np.concatenate([np.broadcast_to(part.ub, part.A.shape[0]) for part in parts])
        rise = np.all(a <= (high - at)[:, None], axis=0) & (x + 1 <= bounds.ub)
        fall = np.all(a <= (at - low)[:, None], axis=0) & (x - 1 >= bounds.lb)
        stepped = set(np.flatnonzero(np.asarray(sums[:, rise | fall].sum(axis=1)).ravel()))
        open_ = [cell for cell in open_ if cell not in stepped]

        def solve(objective, extra=(), seconds=60.0):
            return milp(objective, integrality=np.ones(sums.shape[1]), bounds=bounds,
                        constraints=[*parts, *extra], options={"time_limit": seconds, "mip_rel_gap": 1e9})

        rng = np.random.default_rng(0)
        for push in ("random", "up", "down"):
            weights = np.zeros(len(self.cells))
            weights[open_] = rng.choice([-1.0, 1.0], len(open_)) if push == "random" else PUSH[push]
            result = solve(sums.T @ weights, seconds=1.0)
            if result.x is not None:
                open_ = unchanged(result.x)
        found = []
        while open_:
            cell = open_.pop(0)
            for low_, high_ in ((-np.inf, want[cell] - 1), (want[cell] + 1, np.inf)):
                if high_ < 0:
                    continue
                result = solve(np.zeros(sums.shape[1]), [LinearConstraint(sums[cell], low_, high_)])
                assert result.status in (0, 2), result.message   # a solution, or proof there is none
                if result.status == 0:
                    open_ = unchanged(result.x)
                    break
            else:
                found.append((cell, int(want[cell])))
        return found


# -- the test ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_the_series_the_ledger_allows_pins_no_suppressed_cell(series, seed):
    intruder = Intruder(series.branches, hides_zeros=PROFILE.hide_zeros and not PROFILE.suppress_zero)
    for release in series.releases:
        intruder.observe(release.frames[seed], release)
    table = series.releases[0].frames[seed]
    first = [c for c in intruder.hidden if c < table.size - len(table)]   # the round's table's cells

    # The ledger let through a real series, and refused some of it.
    assert 15 <= series.windows < len(DAYS) * (len(DAYS) + 1) // 2
    assert series.e.sum() == 1 and len(series.releases) == 1 + series.windows + len(series.branches) + 1
    assert len(first) >= 5, "the full-round table should hide some cells"
    # The intruder's model is right: the truth satisfies every published figure.
    x = intruder.truth(series.y, series.e)
    assert intruder.feasible(x)
    # Every suppressed count of the whole series, the round's table first (the audit recovered all of
    # its hidden cells from the windows). A hidden zero the series shows to be 0 is no disclosure:
    # the internal profile publishes zeros; it hides some only so that a * never means "at least 1".
    sums, _, _ = intruder.model()
    truth = sums @ x
    counts = [cell for cell in intruder.hidden if truth[cell] >= 1]
    assert len(counts) >= 500
    pinned = intruder.pinned(counts, x)
    assert not pinned, f"{len(pinned)} suppressed counts determined exactly (cell, count): {pinned[:10]}"
