"""How cost grows with work: demo, branch, national and union stores side by side.

For each preset: `workbench import calls` (whole command) and its peak memory, against the bare
DuckDB read_csv floor; the full internal report as `workbench report` in a new process (cold); a
dashboard filter change and the largest branch's follow-up list (warm, in process). Each column's
growth exponent is fitted on log(time) against log(calls): 1 means it grows in step with the calls,
0 that it does not grow. The branch list is also fitted against its own rows: its work is its
branch's, and the union's largest branch is the size of national's (see stores.py).

Targets at union scale: import <= 3x its floor, peak <= 5 GB, filter change and branch list < 150 ms,
cold report <= 6 s.

`BENCH_PRESETS=demo,branch` chooses presets (`make bench-quick` runs demo and branch only).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from bench_dashboard import filter_change, scan_anchor
from bench_followups import branch_list
from bench_ingest import import_calls
from harness import MISSED, RUNS, WORKBENCH, Stats, command, note, python_start, report
from stores import PASSPHRASE, SIZES, store

from workbench.store import snapshot_file

PRESETS = [p for p in os.environ.get("BENCH_PRESETS", ",".join(SIZES)).split(",") if p]
# Union runs are heavy on a 2-core machine (a 6M-row import each): BENCH_UNION_RUNS=1 for a first look.
UNION_RUNS = int(os.environ.get("BENCH_UNION_RUNS", str(RUNS)))
BRANCH_SIZE = "SELECT count(*) FROM members WHERE branch = ?"
UNION_TARGETS = {"import_ratio": 3.0, "peak_gb": 5.0, "filter": 0.15, "list": 0.15, "report": 6.0}


def cold_report(preset: str, runs: int) -> Stats:
    """`workbench report` of the preset's store in a new process each run (on a copy: it writes)."""
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        tmp = Path(tmp)
        source, copy = store(preset), tmp / f"{preset}.duckdb"
        shutil.copyfile(source, copy)
        if snapshot_file.path_for(source).exists():
            shutil.copyfile(snapshot_file.path_for(source), snapshot_file.path_for(copy))
        return command([WORKBENCH, "report", "--db", str(copy), "--out", str(tmp / "r"), "--by", "bench"],
                       env={"WORKBENCH_PASSPHRASE": PASSPHRASE},
                       runs=runs, before=lambda: shutil.rmtree(tmp / "r", ignore_errors=True))


def measure(preset: str) -> dict:
    path = store(preset)
    runs = UNION_RUNS if preset == "union" else RUNS
    imported, floor, rows = import_calls(preset, runs)
    figures = {"calls": rows, "import": imported, "floor": floor, "report": cold_report(preset, runs),
               "scan": scan_anchor(path), "filter": filter_change(path, changes=11)}
    figures["list"], figures["members"], figures["list_rows"], con, branch = branch_list(preset)
    try:
        figures["branch_size"] = con.execute(BRANCH_SIZE, [branch]).fetchone()[0]
    finally:
        con.close()
    return figures


def run() -> None:
    start = python_start()
    rows = {preset: measure(preset) for preset in PRESETS}
    header = (f"{'preset':<9}{'calls':>11}  {'import (whole cmd)':>24}  {'x floor':>7}  {'peak GB':>7}  "
              f"{'cold report':>22}  {'filter change':>22}  {'branch list':>22}")
    print(header)
    for preset, f in rows.items():
        print(f"{preset:<9}{f['calls']:>11,}  {f['import'].text():>24}  "
              f"{f['import'].median / f['floor'].median:>7.2f}  {f['import'].peak_gb:>7.2f}  "
              f"{f['report'].text():>22}  {f['filter'].text():>22}  {f['list'].text():>22}")
    # A list's work is its branch's, not the organisation's: say how big each list was.
    print("branch list: " + "; ".join(
        f"{preset} {f['branch_size']:,} members, {f['list_rows']:,} rows, "
        f"{f['list'].median * 1e6 / max(f['list_rows'], 1):.1f} us a row" for preset, f in rows.items()))
    # Two presets give the slope between two points, not a fitted exponent: say so instead.
    if len(rows) < 3:
        print("growth exponent: not fitted (it needs at least three presets)")
    else:
        calls = np.log([f["calls"] for f in rows.values()])
        fits = {name: np.polyfit(calls, np.log([f[name].median for f in rows.values()]), 1)[0]
                for name in ("import", "report", "filter", "list")}
        fits["peak"] = np.polyfit(calls, np.log([f["import"].peak_gb for f in rows.values()]), 1)[0]
        print("growth exponent (time ~ calls^k): " + ", ".join(f"{n} k={k:.2f}" for n, k in fits.items()))
        by_rows = np.polyfit(np.log([f["list_rows"] for f in rows.values()]),
                             np.log([f["list"].median for f in rows.values()]), 1)[0]
        print(f"branch list against its own rows: k={by_rows:.2f}")
    for preset, f in rows.items():
        union = preset == "union"
        report(f"scaling {preset}: import calls", f["import"], "read_csv floor", f["floor"],
               state="cold: new process", max_ratio=UNION_TARGETS["import_ratio"] if union else None)
        report(f"scaling {preset}: cold report", f["report"], "python + import workbench", start,
               state="cold: new process, kept snapshot",
               max_seconds=UNION_TARGETS["report"] if union else None)
        report(f"scaling {preset}: filter change", f["filter"], "scan of calls", f["scan"], state="warm",
               max_seconds=UNION_TARGETS["filter"] if union else None)
        report(f"scaling {preset}: branch list", f["list"], "select branch members", f["members"],
               state="warm", max_seconds=UNION_TARGETS["list"] if union else None)
        if union and f["import"].peak_gb > UNION_TARGETS["peak_gb"]:
            MISSED.append("union import peak memory")
    note("report and import are whole commands, so each includes ~0.5-1 s of Python start-up and imports; "
         "that fixed cost flattens their fitted exponents at small sizes")
