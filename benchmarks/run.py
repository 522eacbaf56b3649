"""The one benchmark runner: `make bench`, `make bench-quick`, or `python benchmarks/run.py [NAME ...]`.

Each bench_*.py module has `run()`. It measures figures and their anchors in the same run and calls
`harness.report`, which prints median (min-max) of repeated runs, the ratio to the anchor, whether
the figure is cold or warm, and its target. The run exits 1 if any target was missed.

`--quick`: the scaling table for the demo and branch stores only, 3 runs a figure (under a minute
once their caches exist), for a developer to run before committing a change to a hot path. Its
figures say n=3: quote `make bench`'s, which take 5 runs a figure (BENCH_RUNS sets either).
"""

from __future__ import annotations

import datetime
import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def run_of_the_day() -> int:
    """Count this run in benchmarks/.cache/runs-<date>.log; return which run of the day it is."""
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    log = cache / f"runs-{datetime.date.today().isoformat()}.log"
    with log.open("a") as f:
        f.write(datetime.datetime.now().isoformat(timespec="seconds") + " " + " ".join(sys.argv[1:]) + "\n")
    return sum(1 for _ in log.open())


def main(argv: list[str]) -> int:
    if "--quick" in argv:
        os.environ["BENCH_PRESETS"] = "demo,branch"
        os.environ.setdefault("BENCH_RUNS", "3")  # each whole command pays ~1 s of start-up here
        argv = [a for a in argv if a != "--quick"] or ["scaling"]
    import harness  # after the environment is set

    print(f"benchmarks: {datetime.datetime.now():%Y-%m-%d %H:%M}, run {run_of_the_day()} of the day; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {harness.RUNS} runs a figure",
          flush=True)
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    chosen = [m for m in modules if not argv or any(n in m for n in argv)]
    for name in chosen:
        print(f"== {name}", flush=True)
        importlib.import_module(name).run()
    if harness.MISSED:
        print(f"MISSED {len(harness.MISSED)} target(s): {', '.join(harness.MISSED)}", flush=True)
        return 1
    print("every target met", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
