"""Synthetic organisation speed: members per second against naive per-row Faker, and the national preset.

Run with the shared runner (`python benchmarks/run.py synthetic`) or alone
(`python benchmarks/bench_synthetic.py`). Nothing generated here is printed: only timings.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from faker import Faker  # noqa: E402  (after the path set-up, so the module runs alone too)

from workbench import synthetic  # noqa: E402

MEMBERS = 50_000
ANCHOR_ROWS = 2_000
REPEATS = 5
NATIONAL_BUDGET_S, NATIONAL_BUDGET_GB = 20.0, 3.0

# Runs in a fresh interpreter so ru_maxrss is the national preset's own peak, not this process's.
_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from workbench import synthetic
start = time.perf_counter()
org = synthetic.generate("national", seed=2020)
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # kilobytes on Linux
print(json.dumps({{"seconds": seconds, "peak_mb": peak_kb / 1024, "members": len(org.members),
                  "calls": len(org.calls)}}))
"""


def _median(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_rows(rows: int = ANCHOR_ROWS, seed: int = 2020) -> list[tuple[str, str, str, str]]:
    """The anchor: one Faker call per field per row, as a first attempt would do it."""
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    return [(fake.name(), fake.phone_number(), fake.postcode(), fake.email()) for _ in range(rows)]


def national_in_child() -> dict[str, float]:
    """Generate the national preset in a child process; its wall time and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT))], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(report: Callable[..., None]) -> None:
    """Measure and report: per-member time vs naive Faker, and the national preset end to end."""
    Faker("en_GB")  # warm Faker's provider loading so neither side pays it
    synthetic.generate(members=1_000, calls=0)
    anchor = _median(naive_rows) / ANCHOR_ROWS
    ours = _median(lambda: synthetic.generate(members=MEMBERS, calls=0)) / MEMBERS
    report(
        f"synthetic member ({MEMBERS:,} members, per member)",
        ours,
        "naive per-row Faker, per member",
        anchor,
        target="ratio <= 0.033 (30x faster)",
        extra=f"{1 / ours:,.0f} members/s vs {1 / anchor:,.0f}/s = {anchor / ours:,.0f}x",
    )
    national = national_in_child()
    ok = national["seconds"] <= NATIONAL_BUDGET_S and national["peak_mb"] < NATIONAL_BUDGET_GB * 1024
    report(
        f"national preset ({national['members']:,} members, {national['calls']:,} calls)",
        national["seconds"],
        "naive per-row Faker for 500,000 members (extrapolated)",
        anchor * synthetic.PRESETS["national"][0],
        target=f"<= {NATIONAL_BUDGET_S:.0f} s, < 3 GB",
        extra=f"peak RSS {national['peak_mb']:,.0f} MB {'OK' if ok else 'OVER BUDGET'}",
    )


def _print_report(
    name: str,
    seconds: float,
    anchor_name: str,
    anchor_seconds: float,
    target: str | None = None,
    extra: str = "",
) -> None:
    print(
        f"{name}: {seconds * 1000:.4f} ms; anchor {anchor_name}: {anchor_seconds * 1000:.4f} ms; "
        f"ratio {seconds / anchor_seconds:.4f}; target {target}; {extra}",
        flush=True,
    )


if __name__ == "__main__":
    run(_print_report)
