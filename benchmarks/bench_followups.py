"""Building a branch follow-up list on the national store, excluding writing the file.

"Building" is what happens before the writer runs: the triage queue for the branch (suppressed),
the identity join, the second pass through the opt-out choke point, and the table as it will be
written (row digests, phones for dialling, prompts). The branch is the largest in the store.
Each figure is the median of several runs, as a ratio to anchors measured in the same run: a bare
`SELECT count(*) FROM calls`, and a plain select of the branch's members. Target: under 300 ms.
"""

from __future__ import annotations

import statistics
import time

from national import PASSPHRASE, national_store

from workbench.analysis import needs
from workbench.lists import followups
from workbench.store import db

RUNS = 7
TARGET = "< 300 ms"
LARGEST_BRANCH = "SELECT branch FROM members GROUP BY branch ORDER BY count(*) DESC, branch LIMIT 1"
BRANCH_MEMBERS = "SELECT member_key, ward, postcode, age FROM members WHERE branch = ?"


def _median(fn, runs: int = RUNS) -> float:
    fn()  # warm the buffer cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _build(con, branch: str):
    composed = followups.compose(con, branch=branch)
    return followups._table(con, "FU-20200415-BENCH", composed, False)  # noqa: SLF001 - the build, unwritten


def run(report) -> None:
    con = db.connect(national_store(), PASSPHRASE, read_only=True)
    try:
        branch = con.execute(LARGEST_BRANCH).fetchone()[0]
        count_calls = _median(lambda: con.execute("SELECT count(*) FROM calls").fetchone(), runs=15)
        members = _median(lambda: con.execute(BRANCH_MEMBERS, [branch]).df(), runs=15)
        rows = len(_build(con, branch)[0])
        seconds = _median(lambda: _build(con, branch))
        queue = _median(lambda: needs.queue(con, branch=branch))
        report(
            "follow-up list, largest branch (build only)",
            seconds,
            "count(*) calls",
            count_calls,
            target=TARGET,
            extra=f"{rows} rows",
        )
        report(
            "follow-up list, largest branch (build only)",
            seconds,
            "select branch members",
            members,
            target=TARGET,
            extra=f"{rows} rows",
        )
        # Where the time goes: the triage queue (needs.py) is most of it.
        report(
            "  of which needs.queue for that branch",
            queue,
            "select branch members",
            members,
            extra=f"list's own work {(seconds - queue) * 1000:.0f} ms",
        )
    finally:
        con.close()
