"""Suppression of the full national member list, and erasure's file rewrite, on a copy of the national store.

- `optouts.suppress` over all 500,000 members, with the register filled from every "do not call"
  outcome. Anchor: one equi-join of the same 500,000-key frame against identities (register the
  frame, join, count), measured in the same run. Target: within 5x the anchor, and under 1 s.
- `dataprotection.compact` (the rewrite after an erasure or retention run). Anchor: copying the file
  byte for byte, the floor for any rewrite; compaction also decrypts, re-compresses and re-encrypts
  every block, so it is far above it. Target: under 30 s for the national store (run once, not a median).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from national import PASSPHRASE, national_store

from workbench.privacy import erasure, optouts
from workbench.store import db

RUNS = 5


def _median(fn, runs: int = RUNS) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _join_anchor(con, frame: pd.DataFrame) -> None:
    con.register("bench_people", frame)
    con.execute("SELECT count(*) FROM bench_people JOIN identities USING (member_key)").fetchone()
    con.unregister("bench_people")


def run(report) -> None:
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "national.duckdb"
        start = time.perf_counter()
        shutil.copyfile(national_store(), copy)
        copy_seconds = time.perf_counter() - start
        con = db.connect(copy, PASSPHRASE)
        try:
            entries = optouts.record_from_calls(con, actor="bench")
            people = con.execute("SELECT member_key, branch, ward FROM members").df()
            anchor = _median(lambda: _join_anchor(con, people))
            seconds = _median(lambda: optouts.suppress(con, people))
            excluded = optouts.suppress(con, people).excluded
            report("suppress 500k members", seconds, "one equi-join of the same frame", anchor,
                   target="< 5x and < 1 s", extra=f"register {entries:,} entries; excluded {excluded}")
        finally:
            con.close()
        start = time.perf_counter()
        erasure.compact(copy, PASSPHRASE)
        report("compact national store (after erasure)", time.perf_counter() - start, "file copy",
               copy_seconds, target="< 30 s")
