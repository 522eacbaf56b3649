"""Import the national exports (500,000 members, then ~2M calls) into a fresh encrypted store.

Anchor (the floor): bare DuckDB `CREATE TABLE t AS SELECT * FROM read_csv('<same file>')` into a
fresh DuckDB file, measured in the same run. Target: the full import, with validation,
normalisation, pseudonyms and the audit entry, within 4x the floor; peak memory under 3 GB.
Each import runs in a child process, so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import national

REPEATS = int(os.environ.get("BENCH_INGEST_REPEATS", "3"))
MEMORY_LIMIT_GB = 3.0

CHILD = r"""
import json, resource, sys, time
from workbench import ingest
from workbench.store import db
store, members, calls = sys.argv[1:4]
db.init_store(store, "bench")
con = db.connect(store, "bench")
times = {}
for kind, path, fn in (("members", members, ingest.import_members), ("calls", calls, ingest.import_calls)):
    start = time.perf_counter()
    result = fn(con, path, actor="bench")
    times[kind] = time.perf_counter() - start
    times[kind + "_loaded"] = result.loaded
con.close()
times["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(times))
"""

FLOOR = r"""
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
start = time.perf_counter()
con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [sys.argv[2]])
print(time.perf_counter() - start)
"""


def _child(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def _floor(csv: Path, folder: Path) -> float:
    times = []
    for i in range(REPEATS):
        times.append(float(_child(FLOOR, str(folder / f"floor_{csv.stem}_{i}.duckdb"), str(csv))))
    return statistics.median(times)


def _imports(members: Path, calls: Path, folder: Path) -> list[dict]:
    return [
        json.loads(_child(CHILD, str(folder / f"store{i}.duckdb"), str(members), str(calls)))
        for i in range(REPEATS)
    ]


def run(report) -> None:
    exports = national.national_exports()
    members, calls = exports / "members.csv", exports / "call_outcomes.csv"
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        floor_calls, floor_members = _floor(calls, folder), _floor(members, folder)
        runs = _imports(members, calls, folder)
    peak = max(r["peak_rss_gb"] for r in runs)
    over = ", OVER" if peak >= MEMORY_LIMIT_GB else ""
    memory = f"peak RSS {peak:.2f} GB (limit {MEMORY_LIMIT_GB:.0f} GB{over})"
    report(
        "import members (national, 500k rows)",
        statistics.median(r["members"] for r in runs),
        "read_csv members",
        floor_members,
        target="(informative)",
        extra=f"{runs[0]['members_loaded']:,} members",
    )
    report(
        "import calls (national, ~2M rows)",
        statistics.median(r["calls"] for r in runs),
        "read_csv calls",
        floor_calls,
        target="<= 4x",
        extra=f"{runs[0]['calls_loaded']:,} calls; {memory}; {time.perf_counter() - started:.0f} s in all",
    )
