"""Importing calls, as `workbench import calls` (a whole command, as a person times it).

Each run copies a store that already holds the members (imported once with `workbench import
members`) and times `workbench import calls` of the preset's call_outcomes.csv in a new process,
with that process's peak memory. Anchor (the floor): a new Python doing bare DuckDB
`CREATE TABLE t AS SELECT * FROM read_csv('<same file>')` into a fresh DuckDB file, in the same run.
Targets (national): <= 2.5x the floor, peak <= 2 GB.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from harness import RUNS, WORKBENCH, Stats, command, note, report
from stores import PASSPHRASE, exports

from workbench import ingest
from workbench.store import db

FLOOR = ("import duckdb, sys; duckdb.connect(sys.argv[1]).execute("
         "'CREATE TABLE t AS SELECT * FROM read_csv(?)', [sys.argv[2]])")
ENV = {"WORKBENCH_PASSPHRASE": PASSPHRASE}


_MEASURED: dict[tuple[str, int], tuple[Stats, Stats, int]] = {}


def import_calls(preset: str, runs: int = RUNS) -> tuple[Stats, Stats, int]:
    """(whole-command import stats, floor stats, rows) for the preset's calls file, measured once per
    runner (the scaling table reuses this module's national figures)."""
    if (preset, runs) not in _MEASURED:
        _MEASURED[preset, runs] = _import_calls(preset, runs)
    return _MEASURED[preset, runs]


def _import_calls(preset: str, runs: int) -> tuple[Stats, Stats, int]:
    folder = exports(preset)
    calls, members = folder / "call_outcomes.csv", folder / "members.csv"
    rows = sum(1 for _ in calls.open("rb")) - 1
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp = Path(tmp)
        template = tmp / "template.duckdb"
        # Set up in this process (untimed): two more commands' start-up is most of a quick run's wait.
        db.init_store(template, PASSPHRASE)
        with db.session(template, PASSPHRASE) as con:
            ingest.import_members(con, members, actor="bench")
        store = tmp / "store.duckdb"

        def fresh_store() -> None:
            shutil.copyfile(template, store)

        def fresh_floor() -> None:
            (tmp / "floor.duckdb").unlink(missing_ok=True)

        floor = command([sys.executable, "-c", FLOOR, str(tmp / "floor.duckdb"), str(calls)], runs,
                        before=fresh_floor)
        stats = command([WORKBENCH, "import", "calls", str(calls), "--db", str(store)], runs, env=ENV,
                        before=fresh_store)
    return stats, floor, rows


def run() -> None:
    stats, floor, rows = import_calls("national")
    report("workbench import calls, whole command (national)", stats, "bare DuckDB read_csv, whole process",
           floor, state="cold: new process, fresh copy of a store holding the members", max_ratio=2.5,
           extra=f"{rows:,} rows; peak {stats.peak_gb:.2f} GB (target <= 2 GB"
                 f"{', MISSED' if stats.peak_gb > 2 else ''})")
    if stats.peak_gb > 2:
        from harness import MISSED

        MISSED.append("import calls peak memory")
    note("both sides are whole processes, so Python start-up is in both; the import adds validation, "
         "normalising phones and labels, pseudonyms, the check against calls already held and the audit "
         "entry")
