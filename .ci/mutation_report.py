"""`make mutate`: the kill rate per module, from mutmut's results in mutants/.

A mutant counts as killed when a test failed (or timed out) under it. The rate is over the mutants
that were checked and reached by a test; mutants no selected test reaches ("no tests") and those
not yet checked are listed apart, so a partial run still reports honestly.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}


def _status(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "unchecked" if code is None else "other"


def main(folder: Path = Path("mutants")) -> int:
    metas = sorted(folder.rglob("*.py.meta"))
    if not metas:
        print("No mutmut results in mutants/: run `make mutate` first.")
        return 1
    print(f"{'module':40} {'killed':>7} {'survived':>8} {'rate':>6} {'no tests':>8} {'unchecked':>9}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"].values()
        counts = Counter(_status(c) for c in codes)
        checked = counts["killed"] + counts["survived"]
        rate = f"{counts['killed'] / checked:.0%}" if checked else "-"
        name = str(meta.relative_to(folder)).removesuffix(".meta")
        print(f"{name:40} {counts['killed']:>7} {counts['survived']:>8} {rate:>6} {counts['no tests']:>8} "
              f"{counts['unchecked']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
