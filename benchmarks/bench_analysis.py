"""The analysis a person waits on, on the national store: as whole CLI commands, and in process.

Whole commands (`workbench needs`, `outreach`, `services gaps`): a new process each run, as after a
restart; the analysis snapshot is opened from the file kept beside the store, not rebuilt. Anchor:
a new Python importing workbench. Target: <= 1.5 s each.

In process, each query cold (the snapshot and the register reading dropped, as in a new process:
the snapshot is re-opened from its kept file) and warm (a widget's second call). Anchor: a scan that
reads every call's outcome (a bare `count(*)` is answered from metadata and reads nothing).
"""

from __future__ import annotations

from harness import WORKBENCH, command, note, python_start, report, timed
from stores import PASSPHRASE, national_store

from workbench.analysis import needs, outreach, services, volunteers
from workbench.privacy import optouts
from workbench.store import db, snapshot
from workbench.store.filters import known

SCAN_QUERY = "SELECT count(*) FROM calls WHERE outcome <> ''"
COMMANDS = {"needs": ["needs"], "outreach": ["outreach"], "services gaps": ["services", "gaps"]}


def as_a_new_process() -> None:
    """What a new process starts without: the snapshot in memory and the register reading."""
    snapshot.clear()
    optouts._READINGS.clear()  # noqa: SLF001 - the benchmark empties the cache to measure cold


def run() -> None:
    path = national_store()
    start = python_start()
    env = {"WORKBENCH_PASSPHRASE": PASSPHRASE}
    for name, argv in COMMANDS.items():
        stats = command([WORKBENCH, *argv, "--db", str(path)], env=env)
        report(f"workbench {name}, whole command (national)", stats, "python + import workbench", start,
                state="cold: new process, kept snapshot", max_seconds=1.5,
                extra=f"peak {stats.peak_gb:.2f} GB")
    note("a whole command adds Python start-up, importing pandas and the CLI (~0.5-1 s), opening the "
         "store, the snapshot's content checksum (~0.2 s) and printing to the in-process figures below")
    con = db.connect(path, PASSPHRASE, read_only=True)
    try:
        scan = timed(lambda: con.execute(SCAN_QUERY).fetchone(), runs=9)
        branch = known(con, "branch")[0]
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
                cold = timed(lambda q=query, f=filters: q(**f), before=as_a_new_process)
                report(f"{name} ({label})", cold, "scan of calls", scan, state="cold: snapshot re-opened")
                query(**filters)
                warm = timed(lambda q=query, f=filters: q(**f))
                report(f"{name} ({label})", warm, "scan of calls", scan, state="warm", max_seconds=0.15)
    finally:
        con.close()
