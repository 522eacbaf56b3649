"""The full internal report on the national store, as `workbench report` and in process.

Anchor: a full scan of calls (the least any report must do), in process, in the same run. Runs on a
copy of the store (each release writes its key and audit entry). Cases:
- whole command, a new process (after a restart): opens the kept snapshot. Target <= 2.5 s.
- in process, cold (snapshot re-opened from its kept file), as a new kernel's first report.
- in process, the first after a data change: one call's wellbeing really changes before each run, so
  the snapshot is rebuilt (and kept again).
- in process, warm: another release with nothing changed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench_analysis import as_a_new_process
from harness import WORKBENCH, command, note, report, timed
from stores import PASSPHRASE, national_store

from workbench import reports
from workbench.store import db, snapshot_file

ANCHOR = "SELECT count(*), count(DISTINCT member_key), max(called_at) FROM calls"
CHANGE = """UPDATE calls SET wellbeing = coalesce(wellbeing, 0) % 5 + 1
            WHERE call_id = (SELECT min(call_id) FROM calls WHERE outcome = 'answered')"""


def copy_of_national(folder: Path) -> Path:
    """A copy of the national store with its kept snapshot, so benchmarks may write to it."""
    source = national_store()
    copy = folder / "national.duckdb"
    shutil.copyfile(source, copy)
    if snapshot_file.path_for(source).exists():
        shutil.copyfile(snapshot_file.path_for(source), snapshot_file.path_for(copy))
    return copy


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        root = Path(tmp)
        path = copy_of_national(root)
        counter = iter(range(10_000))
        with db.session(path, PASSPHRASE) as con:
            anchor = timed(lambda: con.execute(ANCHOR).fetchall())
        whole = command([WORKBENCH, "report", "--db", str(path), "--out", str(root / "cli"), "--by", "bench"],
                        env={"WORKBENCH_PASSPHRASE": PASSPHRASE},
                        before=lambda: shutil.rmtree(root / "cli", ignore_errors=True))
        report("workbench report, whole command (national)", whole, "full scan of calls", anchor,
               state="cold: new process, kept snapshot", max_seconds=2.5,
               extra=f"peak {whole.peak_gb:.2f} GB")
        con = db.connect(path, PASSPHRASE)
        try:
            def build() -> None:
                reports.build(con, root / f"r{next(counter)}", actor="bench")

            cold = timed(build, before=as_a_new_process)
            report("report: full internal report (national)", cold, "full scan of calls", anchor,
                   state="cold: snapshot re-opened from its kept file")
            note(f"the whole command adds {whole.median - cold.median:+.2f} s to the in-process cold figure: "
                 "Python start-up and imports, opening the store, the content checksum")
            changed = timed(build, before=lambda: con.execute(CHANGE))
            report("report: first after a data change (national)", changed, "full scan of calls", anchor,
                   state="cold: one call changed, snapshot rebuilt and kept")
            warm = timed(build)
            report("report: another release (national)", warm, "full scan of calls", anchor, state="warm")
        finally:
            con.close()
