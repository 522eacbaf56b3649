"""`workbench synth --preset national --out DIR` as a whole command, against naive per-row Faker.

Anchor: one Faker call per field per row for five fields (name, phone, postcode, email, address), as
a first attempt would do it, timed on 5,000 rows and scaled to the preset's 500,000 members (the
per-row cost is flat; running it in full would take minutes). Targets: >= 4x faster than the
anchor, and <= 10 s. The in-process generation (no files) is shown beside it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from faker import Faker
from harness import WORKBENCH, Stats, command, note, report, timed

from workbench import synthetic

ANCHOR_ROWS = 5_000
MEMBERS = synthetic.PRESETS["national"][0]


def naive_rows(rows: int = ANCHOR_ROWS, seed: int = 2020) -> list[tuple[str, ...]]:
    """The anchor: one Faker call per field per row."""
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    return [(fake.name(), fake.phone_number(), fake.postcode(), fake.email(), fake.address())
            for _ in range(rows)]


def run() -> None:
    Faker("en_GB")  # provider loading, paid by neither side
    sample = timed(naive_rows, runs=3)
    anchor = Stats(tuple(t * MEMBERS / ANCHOR_ROWS for t in sample.times))
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        stats = command([WORKBENCH, "synth", "--preset", "national", "--out", str(Path(tmp) / "out")])
    report("workbench synth --preset national --out DIR, whole command", stats,
           f"naive Faker, 5 fields x {MEMBERS:,} members (scaled from {ANCHOR_ROWS:,})", anchor,
           state="cold: new process", max_seconds=10, min_ratio=4, extra=f"peak {stats.peak_gb:.2f} GB")
    generate = timed(lambda: synthetic.generate("national", seed=2020), runs=3)
    report("synthetic.generate('national'), in process, no files", generate, "naive Faker (scaled)", anchor,
           state="warm: modules imported")
    note("the whole command adds Python start-up and imports, and writing 240 MB of CSV with DuckDB's "
         "writer, to the in-process generation")
