"""How every benchmark measures and reports: repeated runs, median (min-max), a ratio to an anchor
measured in the same run, cold or warm said out loud, and targets that fail the run when missed.

- `timed(fn, runs, before=...)`: in-process seconds; `before()` runs untimed ahead of each run (to
  make it cold: clear a cache, change data).
- `command(argv, runs)`: whole-command wall seconds of a new process, as a person times it, with the
  process's own peak memory (from `wait4`).
- `report(...)`: one printed line; a missed target is remembered and `run.py` exits 1.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKBENCH = str(Path(sys.executable).with_name("workbench"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
MISSED: list[str] = []
LINES: list[str] = []


@dataclass(frozen=True)
class Stats:
    """Seconds of repeated runs (and peak memory in GB, for commands)."""

    times: tuple[float, ...]
    peaks_gb: tuple[float, ...] = field(default=())

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def peak_gb(self) -> float:
        return max(self.peaks_gb, default=0.0)

    def text(self) -> str:
        return f"{_ms(self.median)} ({_ms(min(self.times))}-{_ms(max(self.times))}, n={len(self.times)})"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.2f} s"


def timed(fn: Callable[[], object], runs: int = RUNS, before: Callable[[], object] | None = None) -> Stats:
    """In-process seconds of `fn()`, `runs` times; `before()` (untimed) ahead of each."""
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Stats(tuple(times))


def command(argv: Sequence[str], runs: int = RUNS, env: dict | None = None,
            before: Callable[[], object] | None = None) -> Stats:
    """Wall seconds and peak RSS of a new process running `argv`, `runs` times (output discarded)."""
    times, peaks = [], []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env=_as_installed({**os.environ, **(env or {})}))
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - start)
        process.returncode = os.waitstatus_to_exitcode(status)
        error = process.stderr.read().decode(errors="replace")[-400:]
        process.stderr.close()
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} ... exited {process.returncode}: {error}")
        peaks.append(usage.ru_maxrss / 1024 / 1024)  # kilobytes on Linux
    return Stats(tuple(times), tuple(peaks))


def _as_installed(env: dict) -> dict:
    """A user's environment: Python caches compiled modules (some sandboxes turn that off, and then
    every command recompiles the workbench's own ~80 modules, ~0.15 s that no user pays)."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def python_start(runs: int = RUNS) -> Stats:
    """The anchor for whole commands: a new Python starting and importing workbench."""
    return command([sys.executable, "-c", "import workbench"], runs)


def report(name: str, stats: Stats, anchor_name: str, anchor: Stats, *, state: str,
           max_seconds: float | None = None, max_ratio: float | None = None, min_ratio: float | None = None,
           p95_seconds: float | None = None, extra: str = "") -> None:
    """Print one figure, its anchor and their ratio; remember it if it misses a target.

    Args:
        state: "cold" or "warm" (or a short phrase saying what was cold), always printed.
        max_seconds / p95_seconds: the median / 95th percentile must not exceed these.
        max_ratio / min_ratio: bounds on figure / anchor (min_ratio for "N times faster" targets,
            stated as anchor / figure).
    """
    ratio = stats.median / anchor.median if anchor.median else float("inf")
    targets, missed = [], []
    if max_seconds is not None:
        targets.append(f"<= {_ms(max_seconds)}")
        if stats.median > max_seconds:
            missed.append("median")
    if p95_seconds is not None:
        targets.append(f"p95 <= {_ms(p95_seconds)} (p95 {_ms(stats.p95)})")
        if stats.p95 > p95_seconds:
            missed.append("p95")
    if max_ratio is not None:
        targets.append(f"ratio <= {max_ratio:g}x")
        if ratio > max_ratio:
            missed.append("ratio")
    if min_ratio is not None:
        targets.append(f">= {min_ratio:g}x faster")
        if 1 / ratio < min_ratio:
            missed.append("speed-up")
    verdict = ("MISSED " + ", ".join(missed)) if missed else ("OK" if targets else "")
    line = (f"{name} [{state}]: {stats.text()}   anchor {anchor_name}: {anchor.text()}   "
            f"ratio {ratio:,.2f}x" + (f"   target {'; '.join(targets)} {verdict}" if targets else "")
            + (f"   {extra}" if extra else ""))
    print(line, flush=True)
    LINES.append(line)
    if missed:
        MISSED.append(name)


def note(text: str) -> None:
    """A line of explanation in the output (why two figures differ, what was skipped)."""
    print(f"  note: {text}", flush=True)
    LINES.append(f"  note: {text}")
