"""Suppression of the full national member list, and erasure with its file rewrite, on a copy of the
national store.

- `optouts.suppress` over all 500,000 members. Cold: the register reading is dropped before each
  run (as after any write to the store); warm: it is reused (the store unchanged). Anchor: one
  equi-join of the same 500,000-key frame against identities, in the same run. Target (cold):
  <= 5x the anchor and <= 1 s.
- one member erased, then `compact` (the rewrite that takes their bytes out of the file). Anchor:
  copying the file byte for byte, the floor for any rewrite; compaction also decrypts, re-compresses
  and re-encrypts every block. Target: <= 30 s (one run: each erases another member).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_reports import copy_of_national
from harness import Stats, report, timed
from stores import PASSPHRASE

from workbench.privacy import erasure, optouts
from workbench.store import db


def _join_anchor(con, frame: pd.DataFrame) -> None:
    con.register("bench_people", frame)
    con.execute("SELECT count(*) FROM bench_people JOIN identities USING (member_key)").fetchone()
    con.unregister("bench_people")


def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        copy = copy_of_national(Path(folder))
        copying = Stats((time.perf_counter() - start,))
        con = db.connect(copy, PASSPHRASE)
        try:
            optouts.record_from_calls(con, actor="bench")  # already recorded when the store was built
            entries = con.execute("SELECT count(*) FROM optouts").fetchone()[0]
            people = con.execute("SELECT member_key, branch, ward FROM members").df()
            anchor = timed(lambda: _join_anchor(con, people))
            cold = timed(lambda: optouts.suppress(con, people), before=optouts._READINGS.clear)  # noqa: SLF001
            excluded = optouts.suppress(con, people).excluded
            report("suppress 500k members", cold, "one equi-join of the same frame", anchor,
                   state="cold: register read afresh", max_ratio=5, max_seconds=1.0,
                   extra=f"register {entries:,} entries; left out {excluded}")
            warm = timed(lambda: optouts.suppress(con, people))
            report("suppress 500k members", warm, "one equi-join of the same frame", anchor,
                   state="warm: register reading reused")
            member = con.execute("SELECT member_key FROM members ORDER BY member_key LIMIT 1").fetchone()[0]
            erasure.erase(con, actor="bench", reason="subject_request", member_key=member)
        finally:
            con.close()
        start = time.perf_counter()
        erasure.compact(copy, PASSPHRASE)
        report("compact national store after erasing one member", Stats((time.perf_counter() - start,)),
               "file copy", copying, state="cold (one run)", max_seconds=30)
    shutil.rmtree(folder, ignore_errors=True)
