"""`make mutate`: the kill rate per module, from mutmut's results in mutants/.

A mutant counts as killed when a test failed under it. A timeout is listed apart: it may be a mutant
that loops (a kill) or a test run that hung for another reason, so it is not counted as killed
until it has been looked at. The rate is over all the module's mutants that were checked (killed,
survived, timed out, or reached by no selected test); mutants not yet checked are listed apart, so a
partial run still reports honestly. Mutants judged equivalent (no observable difference) are listed
in .ci/equivalent_mutants.txt, one name a line with the reason after a '#', and left out of the rate.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 37}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
EQUIVALENT_LIST = Path(__file__).with_name("equivalent_mutants.txt")


def _status(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "unchecked" if code is None else "other"


def equivalent(path: Path = EQUIVALENT_LIST) -> set[str]:
    """The names of mutants judged equivalent, each with its reason in the file."""
    if not path.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def main(folder: Path = Path("mutants")) -> int:
    metas = sorted(folder.rglob("*.py.meta"))
    if not metas:
        print("No mutmut results in mutants/: run `make mutate` first.")
        return 1
    same = equivalent()
    print(f"{'module':34} {'total':>5} {'killed':>6} {'surv.':>5} {'t/out':>5} {'no test':>7} {'equiv.':>6} "
          f"{'unchecked':>9} {'rate':>6} {'raw':>6}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter("equivalent" if name in same and code == 0 else _status(code)
                         for name, code in codes.items())
        checked = len(codes) - counts["unchecked"]
        judged = checked - counts["equivalent"]
        rate = f"{counts['killed'] / judged:.1%}" if judged else "-"
        raw = f"{counts['killed'] / checked:.1%}" if checked else "-"
        name = str(meta.relative_to(folder)).removesuffix(".meta")
        print(f"{name:34} {len(codes):>5} {counts['killed']:>6} {counts['survived']:>5} {counts['timeout']:>5} "
              f"{counts['no tests']:>7} {counts['equivalent']:>6} {counts['unchecked']:>9} {rate:>6} {raw:>6}")
    print("rate: killed / (checked - equivalent); raw: killed / checked. Equivalent mutants and why: "
          f"{EQUIVALENT_LIST.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
