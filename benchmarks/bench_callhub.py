"""Import a national-sized CallHub call report (2M rows, no membership number: every row matched
to its member by E.164 phone and first name in one DuckDB join) into a store holding the national
members.

Anchor (the floor): bare DuckDB `CREATE TABLE t AS SELECT * FROM read_csv('<same file>')` into a
fresh DuckDB file, measured in the same run. Target: the full import, with recognition, phone and
name matching, validation, pseudonyms and the audit entry, within 4x the floor. Each import runs
in a child process (the member list is imported first, untimed); both figures are in-process
seconds inside those children.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import RUNS, Stats, report
from stores import CACHE, exports, organisation

from workbench.synthetic import tool_exports

ROWS = 2_000_000

CHILD = r"""
import json, sys, time
from workbench import ingest
from workbench.store import db
store, members, calls = sys.argv[1:4]
db.init_store(store, "bench")
con = db.connect(store, "bench")
ingest.import_members(con, members, actor="bench")
start = time.perf_counter()
result = ingest.import_calls(con, calls, actor="bench")
seconds = time.perf_counter() - start
con.close()
print(json.dumps({"seconds": seconds, "loaded": result.loaded, "rows": result.rows_read,
                  "profile": result.profile}))
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


def callhub_export() -> Path:
    """The national organisation's calls as one CallHub call report, cached."""
    path = CACHE / "national_callhub" / f"callhub_call_report_{ROWS}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tool_exports.callhub_all_rounds(organisation("national"), path, rows=ROWS)
    return path


def run() -> None:
    members = exports("national") / "members.csv"
    calls = callhub_export()
    with tempfile.TemporaryDirectory(prefix="bench-callhub-") as tmp:
        folder = Path(tmp)
        floor = Stats(tuple(float(_child(FLOOR, str(folder / f"floor{i}.duckdb"), str(calls)))
                            for i in range(RUNS)))
        runs = [json.loads(_child(CHILD, str(folder / f"store{i}.duckdb"), str(members), str(calls)))
                for i in range(RUNS)]
    report("import CallHub calls by phone + first name (2M rows)", Stats(tuple(r["seconds"] for r in runs)),
           "read_csv callhub", floor, state="cold: new process each, timed inside it", max_ratio=4,
           extra=f"{runs[0]['loaded']:,} of {runs[0]['rows']:,} rows loaded as profile {runs[0]['profile']}")
