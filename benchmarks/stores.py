"""The synthetic stores and exports benchmarks run on, built once per preset and cached in benchmarks/.cache/.

Presets: the library's demo, branch and national, and `union` (1.5 million members, ~6 million calls:
the largest UK membership organisations that ran welfare calls), built the same seeded way. The union
preset lives here only, never in the tests.

A union of that size is organised in hundreds of branches (UNISON has about a thousand), so its
branches do not grow with it. The union here has 30, so that its largest branch (about 121,000
members) is the size of national's largest (about 124,000): the scaling table's branch list then
compares the same work in an organisation three times the size, which is what "must not grow with
the number of calls" asks. With national's 5 branches its largest would have had 373,000 members,
and its list would have grown with the calls by construction.

The cache holds only synthetic data (fake people, drama-range phones) and is git-ignored.
"""

from __future__ import annotations

from pathlib import Path

from workbench import synthetic
from workbench.store import boundaries, db, snapshot
from workbench.synthetic import demo
from workbench.synthetic.boundaries import ward_shapes

CACHE = Path(__file__).resolve().parent / ".cache"
PASSPHRASE = db.DEMO_PASSPHRASE
SEED = 2020
SIZES = {**{name: synthetic.PRESETS[name] for name in ("demo", "branch", "national")},
         "union": (1_500_000, 6_000_000)}
BRANCHES = {"union": 30}  # the others: the seed's choice of 5-8


def organisation(preset: str) -> synthetic.Organisation:
    members, calls = SIZES[preset]
    big = preset in ("national", "union")
    return synthetic.generate(members=members, calls=calls, seed=SEED, branches=BRANCHES.get(preset),
                              progress=big)


def _cached(preset: str) -> str:
    """The preset's name in the cache, with its branch count when given, so a cache built with
    another geography is not reused."""
    return f"{preset}-{BRANCHES[preset]}-branches" if preset in BRANCHES else preset


def store(preset: str) -> Path:
    """An encrypted store holding the preset (built once), with its analysis snapshot kept beside it."""
    path = CACHE / f"{_cached(preset)}.duckdb"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        demo.rebuild(path, organisation(preset))
    con = db.connect(path, PASSPHRASE)  # opened for writing once: a cached store is migrated
    try:
        _with_boundaries(con, preset)
    finally:
        con.close()
    # The kept snapshot as the first analysis after an import leaves it (rebuilt if the code changed),
    # so no benchmark's first run pays for a build it does not mean to measure.
    with db.session(path, PASSPHRASE, read_only=True) as con:
        snapshot.get(con)
    snapshot.clear()
    return path


def _with_boundaries(con, preset: str) -> None:
    """Ward shapes for a cached store built before the synthetic organisation had them: the
    dashboard's filter change is measured with its map, as a store with boundaries shows it."""
    if con.execute("SELECT count(*) FROM ward_boundaries").fetchone()[0]:
        return
    org = organisation(preset)
    boundaries.write(con, ward_shapes(org.geography, org.seed), "synthetic")


def exports(preset: str) -> Path:
    """The preset written as CSV exports (members.csv, call_outcomes.csv, services.csv)."""
    folder = CACHE / f"{_cached(preset)}_csv"
    if not (folder / "call_outcomes.csv").exists():
        synthetic.write_exports(organisation(preset), folder, "csv")
    return folder


def national_store() -> Path:
    return store("national")
