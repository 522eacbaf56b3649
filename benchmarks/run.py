"""The one benchmark runner: `make bench` (or `python benchmarks/run.py [NAME ...]`).

Each bench_*.py module has `run(report)`. It measures a figure and an anchor in the same run and
calls `report(...)`, which prints the figure with its ratio to the anchor. These machines are
noisy, so modules report medians of repeated runs, and ratios matter more than seconds.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

ROWS: list[str] = []


def report(name: str, seconds: float, anchor_name: str, anchor_seconds: float, target: str | None = None,
           extra: str = "") -> None:
    """Print one figure: its median time, the anchor's, their ratio, and the target it is held to."""
    ratio = seconds / anchor_seconds if anchor_seconds else float("inf")
    line = (f"{name:<48} {seconds * 1000:>10.1f} ms   anchor {anchor_name}: {anchor_seconds * 1000:.1f} ms"
            f"   ratio {ratio:,.2f}x")
    if target:
        line += f"   target {target}"
    if extra:
        line += f"   {extra}"
    print(line, flush=True)
    ROWS.append(line)


def main(names: list[str]) -> int:
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    chosen = [m for m in modules if not names or any(n in m for n in names)]
    for name in chosen:
        print(f"== {name}", flush=True)
        importlib.import_module(name).run(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
