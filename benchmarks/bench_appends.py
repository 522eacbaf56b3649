"""A small calls import on the national store, and the first analysis after it, as whole commands.

After the first load, most imports add a few calls (a council's log, a day's CallHub export). Such an
import brings the analysis snapshot kept beside the store up to date itself (`store.snapshot_append`),
so the next command opens it instead of rebuilding it. Each run starts from a copy of the national
store and its kept snapshot, and times new processes:
- `workbench import calls` of 400 new calls (copied from the national export with new call ids:
  later than, earlier than and at the same moment as calls held). Anchor: a new Python importing
  workbench. The same import into a copy with no kept snapshot is shown beside it.
- `workbench needs` straight after that import. Target <= 1.5 s, as any analysis command after a
  restart. Beside it, the same command when the import had no kept snapshot to update (it rebuilds).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench_reports import copy_of_national
from harness import WORKBENCH, command, note, python_start, report
from stores import PASSPHRASE, exports

from workbench.store import snapshot_file

ADDED = 400
ENV = {"WORKBENCH_PASSPHRASE": PASSPHRASE}


def more_calls(export: Path, out: Path, n: int = ADDED, seed: int = 11) -> Path:
    """`n` new calls copied from the export: a quarter later than any, a quarter earlier, the rest at
    the same moment as the call copied; rounds shuffled."""
    rnd = random.Random(seed)  # noqa: S311 - which rows to copy, not a secret
    with export.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [row for row, _ in zip(reader, range(200_000), strict=False)]
    at = {name: header.index(name) for name in ("Call ID", "Date", "Round")}
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i, row in enumerate(rnd.sample(rows, n)):
            row = list(row)
            row[at["Call ID"]], row[at["Round"]] = f"ADD{seed:02d}{i:06d}", rnd.choice(["R1", "R2", "R4"])
            if i % 4 == 0:
                row[at["Date"]] = f"15/06/2020 10:{i % 60:02d}"
            elif i % 4 == 1:
                row[at["Date"]] = "02/03/2020 09:00"
            writer.writerow(row)
    return out


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-appends-") as tmp:
        root = Path(tmp)
        (root / "template").mkdir()
        template = copy_of_national(root / "template")
        added = more_calls(exports("national") / "call_outcomes.csv", root / "more_calls.csv")
        store = root / "national.duckdb"
        kept = snapshot_file.path_for(store)

        def fresh(with_kept: bool) -> None:
            shutil.copyfile(template, store)
            kept.unlink(missing_ok=True)
            if with_kept:
                shutil.copyfile(snapshot_file.path_for(template), kept)

        def imported(with_kept: bool) -> None:
            fresh(with_kept)
            subprocess.run([WORKBENCH, "import", "calls", str(added), "--db", str(store)], check=True,
                           capture_output=True, env={**os.environ, **ENV})

        importing = [WORKBENCH, "import", "calls", str(added), "--db", str(store)]
        needs = [WORKBENCH, "needs", "--db", str(store)]
        start = python_start()
        updating = command(importing, env=ENV, before=lambda: fresh(True))
        plain = command(importing, env=ENV, before=lambda: fresh(False))
        report(f"workbench import calls, {ADDED} calls, whole command (national)", updating,
               "python + import workbench", start, state="cold: new process, kept snapshot updated",
               extra=f"without a kept snapshot to update: {plain.text()}")
        after = command(needs, env=ENV, before=lambda: imported(True))
        rebuilt = command(needs, env=ENV, before=lambda: imported(False))
        report("workbench needs after that import, whole command (national)", after,
               "python + import workbench", start,
               state="cold: new process, kept snapshot as the import left it", max_seconds=1.5,
               extra=f"if the import had no kept snapshot to update (rebuilt): {rebuilt.text()}")
        note(f"the import waits {updating.median - plain.median:+.2f} s to work its calls into the kept "
             f"snapshot; the next command then saves {rebuilt.median - after.median:.2f} s")

