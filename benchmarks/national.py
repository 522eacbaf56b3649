"""The national-scale fixtures benchmarks share, built once and cached in benchmarks/.cache/.

The cache holds only synthetic data (fake people, drama-range phones) and is git-ignored.
"""

from __future__ import annotations

from pathlib import Path

from workbench import synthetic
from workbench.store import db
from workbench.synthetic import demo

CACHE = Path(__file__).resolve().parent / ".cache"
PASSPHRASE = db.DEMO_PASSPHRASE


def national_org() -> synthetic.Organisation:
    return synthetic.generate("national", seed=2020, progress=True)


def national_store() -> Path:
    """An encrypted store holding the national preset (500,000 members, ~2M calls)."""
    path = CACHE / "national.duckdb"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        demo.rebuild(path, national_org())
    return path


def national_exports() -> Path:
    """The national preset written as CSV exports (members.csv, call_outcomes.csv, services.csv)."""
    folder = CACHE / "national_csv"
    if not (folder / "call_outcomes.csv").exists():
        synthetic.write_exports(national_org(), folder, "csv")
    return folder
