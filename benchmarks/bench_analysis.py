"""The analysis queries a person waits on behind a widget, on the national store.

Each query runs on a read-only connection, unfiltered and filtered to one branch; each figure is
the median of several runs, reported as a ratio to a bare `SELECT count(*) FROM calls` measured in
the same run. Target: under 150 ms each on a 2-core machine.
"""

from __future__ import annotations

import statistics
import time

from national import PASSPHRASE, national_store

from workbench.analysis import needs, outreach, services, volunteers
from workbench.store import db, snapshot
from workbench.store.filters import known

RUNS = 5
SCAN_QUERY = "SELECT count(*) FROM calls WHERE outcome = 'answered'"
TARGET = "< 150 ms"


def _median(fn, runs: int = RUNS) -> float:
    fn()  # warm the buffer cache: a widget's second call is the common case
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(report) -> None:
    con = db.connect(national_store(), PASSPHRASE, read_only=True)
    try:
        anchor = _median(lambda: con.execute("SELECT count(*) FROM calls").fetchone(), runs=15)
        # count(*) is answered from metadata; a one-column scan shows what the machine can do right now.
        scan = _median(lambda: con.execute(SCAN_QUERY).fetchone(), runs=5)
        branch = known(con, "branch")[0]
        # The first query after any change to the store pays for building the in-memory snapshot.
        snapshot.clear()
        start = time.perf_counter()
        outreach.headline(con)
        report("outreach headline, first call after a change", time.perf_counter() - start,
               "count(*) calls", anchor, extra="builds the analysis snapshot; warm figures follow")
        queries = {
            "outreach summary by week": lambda **f: outreach.summary(con, by="week", **f),
            "outreach headline": lambda **f: outreach.headline(con, **f),
            "needs triage queue": lambda **f: needs.queue(con, **f),
            "services usage by service": lambda **f: services.usage(con, "service", **f),
            "services gaps": lambda **f: services.gaps(con, **f),
            "volunteer matches": lambda **f: volunteers.matches(con, **f),
        }
        for name, query in queries.items():
            for label, filters in (("all", {}), ("one branch", {"branch": branch})):
                seconds = _median(lambda q=query, f=filters: q(**f))
                report(
                    f"{name} ({label})",
                    seconds,
                    "count(*) calls",
                    anchor,
                    target=TARGET,
                    extra=f"scan of calls {scan * 1000:.1f} ms, ratio {seconds / scan:.1f}x",
                )
    finally:
        con.close()
