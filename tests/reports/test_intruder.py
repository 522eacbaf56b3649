"""A motivated intruder with a whole series of releases, solving for hidden cells by integer programming.

From the seeded synthetic store the test makes the series the ledger lets an organiser make: every
window of round 1 with default settings (those the ledger refuses are left out), each branch against
all branches (approved with --allow-overlap), and the same scope again after one more call
(approved). The intruder knows the perturbation table's bounds and that zero stays zero, and models
the attempts by day, branch and outcome as unknown non-negative integers, with the new call as one
unknown unit. Every published cell of the outcome table bounds a sum of them. For suppressed cells
the intruder then minimises and maximises the true count: the series must never pin one exactly.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from workbench import reports
from workbench.errors import DisclosureError, InputError
from workbench.privacy import pseudonymise
from workbench.reports import cellkey
from workbench.store.audit import audit
from workbench.store.state import transaction
from workbench.vocabulary import OUTCOMES

FIRST, LAST = date(2020, 3, 30), date(2020, 4, 14)   # round 1 of the tiny synthetic organisation
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
THRESHOLD, NOISE = 8, cellkey.MAX_NOISE              # the internal profile's small-number rule

TRUTH_QUERY = """
SELECT c.called_at::DATE AS day, m.branch, c.outcome, count(*) AS n
FROM calls c JOIN members m ON m.member_key = c.member_key
WHERE c.called_at::DATE BETWEEN ? AND ? GROUP BY ALL
"""


def _release(con, ids, *, allow_overlap=None, **scope):
    """One release through the ledger (recorded as `build` records it), or None where it refuses."""
    try:
        options = reports.scope(con, **scope)
        release_id = f"intruder-{next(ids)}"
        recorded = reports.admit(con, options, release_id, actor="intruder", allow_overlap=allow_overlap)
    except (DisclosureError, InputError):
        return None
    with transaction(con):
        audit(con, "report.release", actor="intruder", object_id=f"release {release_id}", counts=recorded)
    return reports.outcome_mix(con, options).frame


def _bounds(shown) -> tuple[int, int]:
    """What a published cell says about its true count: suppressed, zero, or rounded after noise."""
    if pd.isna(shown):
        return 1, THRESHOLD - 1 + NOISE            # perturbed to 1..7 (zero stays zero)
    if shown == 0:
        return 0, 0                                # nothing but a true 0 shows as 0
    low = max(THRESHOLD, int(shown) - 2)           # rounded to 5: perturbed within 2 of the figure
    return max(1, low - NOISE), int(shown) + 2 + NOISE


class Intruder:
    """Unknown attempts y[day, branch, outcome] >= 0 and one new call e (binary, summing to 1)."""

    def __init__(self, branches: list[str]):
        self.branches = branches
        self.index = {(d, b, o): i for i, (d, b, o) in
                      enumerate((d, b, o) for d in DAYS for b in branches for o in OUTCOMES)}
        self.n = len(self.index)
        self.rows: list[tuple[list[int], bool, int, int]] = []
        self.hidden: list[int] = []   # rows of suppressed cells

    def observe(self, frame: pd.DataFrame, days: list[date], branches: list[str], after_call: bool) -> None:
        for _, row in frame.iterrows():
            outcomes = list(OUTCOMES) if row["outcome"] == "Total" else [row["outcome"]]
            for column in [c for c in frame.columns if c != "outcome"]:
                cells = branches if column == "Total" else [column]
                idx = [self.index[(d, b, o)] for d in days for b in cells for o in outcomes]
                low, high = _bounds(row[column])
                if pd.isna(row[column]):
                    self.hidden.append(len(self.rows))
                self.rows.append((idx, after_call, low, high))

    def _matrix(self):
        if getattr(self, "_built", None) and self._built[0] == len(self.rows):
            return self._built[1]
        self._built = (len(self.rows), self._make_matrix())
        return self._built[1]

    def _make_matrix(self):
        a = lil_matrix((len(self.rows) + 1, 2 * self.n))
        for r, (idx, after_call, _, _) in enumerate(self.rows):
            for i in idx:
                a[r, i] += 1
                if after_call:
                    a[r, self.n + i] += 1
        a[len(self.rows), self.n:] = 1                              # exactly one new call
        low = [r[2] for r in self.rows] + [1]
        high = [r[3] for r in self.rows] + [1]
        return a.tocsr(), np.array(low, float), np.array(high, float)

    def feasible(self, y: np.ndarray, e: np.ndarray) -> bool:
        a, low, high = self._matrix()
        value = a @ np.concatenate([y, e])
        return bool(np.all(value >= low) and np.all(value <= high))

    def range_of(self, row: int) -> tuple[int, int]:
        """The least and greatest true count the whole series allows for one published cell."""
        a, low, high = self._matrix()
        constraint = LinearConstraint(a, low, high)
        bounds = Bounds(np.zeros(2 * self.n), np.r_[np.full(self.n, np.inf), np.ones(self.n)])
        objective = a.getrow(row).toarray().ravel()
        found = []
        for sign in (1, -1):
            result = milp(sign * objective, integrality=np.ones(2 * self.n), bounds=bounds,
                          constraints=constraint, options={"time_limit": 60})
            assert result.status == 0, result.message   # solved to optimality, not given up on
            found.append(round(sign * result.fun))
        return found[0], found[1]


def _truth(con, branches) -> tuple[np.ndarray, dict]:
    frame = con.execute(TRUTH_QUERY, [FIRST, LAST]).df()
    y = np.zeros(len(DAYS) * len(branches) * len(OUTCOMES))
    intruder = Intruder(branches)
    for day, branch, outcome, n in frame.itertuples(index=False):
        y[intruder.index[(pd.Timestamp(day).date(), branch, outcome)]] = n
    return y, intruder.index


# Known gap, open: under another (random) record secret one run of this series pinned 9 small cells
# of a tiny branch: the internal profile shows exact zeros, so a suppressed cell is at least 1, and
# a suppressed column total is at most 9. Closing it needs a design change (zeros suppressed beside
# suppressed cells, or wider noise for small counts). The record secret is pinned below, but member
# keys (and so record keys) still differ per store, so on some stores the intruder wins: issue 14
# stays open until the design closes the gap, and this test says so rather than flickering.
@pytest.mark.xfail(reason="known open gap (issue 14): on some stores' keys the series pins small cells of "
                   "a tiny branch; needs zeros hidden beside suppressed cells or wider small-count noise",
                   strict=False)
def test_the_series_the_ledger_allows_pins_no_suppressed_cell(synthetic_con):
    con = synthetic_con
    # The record secret is random per store; a fixed one makes the series, and the verdict, repeatable.
    pseudonymise.record_secret(con)
    con.execute("UPDATE keys SET secret = ? WHERE name = ?", [b"intruder" * 4, pseudonymise.RECORD_KEY_NAME])
    branches = sorted(r[0] for r in con.execute("SELECT DISTINCT branch FROM members").fetchall())
    intruder, ids = Intruder(branches), count()
    y, index = _truth(con, branches)
    whole = {"date_from": str(FIRST), "date_to": str(LAST)}

    first = _release(con, ids, **whole)
    intruder.observe(first, DAYS, branches, after_call=False)
    targets = list(intruder.hidden)
    windows = 0
    for start in DAYS:
        for end in [d for d in DAYS if d >= start]:
            frame = _release(con, ids, date_from=str(start), date_to=str(end))
            if frame is not None:
                windows += 1
                span = [d for d in DAYS if start <= d <= end]
                intruder.observe(frame, span, branches, after_call=False)
    for branch in branches:
        frame = _release(con, ids, branch=branch, allow_overlap="branch review", **whole)
        if frame is not None:
            intruder.observe(frame, DAYS, [branch], after_call=False)
    # One more call in round 1, then the same scope again.
    moved = con.execute("SELECT call_id, called_at::DATE, outcome FROM calls WHERE called_at::DATE "
                        "BETWEEN ? AND ? ORDER BY call_id LIMIT 1", [FIRST, LAST]).fetchone()
    con.execute("INSERT INTO calls SELECT 'intruder-new-call', member_key, round, caller, called_at, "
                "outcome, wellbeing, needs_support, urgency, keen_to_volunteer, dp_query, NULL, import_id "
                "FROM calls WHERE call_id = ?", [moved[0]])
    after = _release(con, ids, allow_overlap="after the late import", **whole)
    intruder.observe(after, DAYS, branches, after_call=True)

    # The ledger let through a real series, and refused some of it.
    assert 15 <= windows < len(DAYS) * (len(DAYS) + 1) // 2
    assert len(targets) >= 5, "the full-round table should hide some cells"
    # The intruder's model is right: the truth satisfies every published figure.
    e = np.zeros_like(y)
    branch = con.execute("SELECT m.branch FROM calls c JOIN members m USING (member_key) WHERE call_id = ?",
                         [moved[0]]).fetchone()[0]
    e[index[(moved[1], branch, moved[2])]] = 1
    assert intruder.feasible(y, e)
    # Targets: every suppressed cell of the full-round release (the audit recovered all of them from
    # the windows), and every twentieth suppressed cell of the rest of the series (windows, branches
    # and the release after the new call alike). Each costs two integer programs.
    targets += intruder.hidden[len(targets)::20]
    pinned = []
    for row in targets:
        low, high = intruder.range_of(row)
        if low == high:
            pinned.append((row, low))
    assert not pinned, f"{len(pinned)} suppressed cells determined exactly"
