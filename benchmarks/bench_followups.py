"""Building a branch follow-up list on the national store (the file is not written).

"Building" is what happens before the writer runs: the triage queue for the branch (suppressed),
the identity join, the second pass through the opt-out choke point, and the table as it will be
written. The branch is the largest in the store. Anchor: a plain select of that branch's members,
in the same run. Target: <= 150 ms warm. Cold: as a new process's first list (snapshot re-opened).
"""

from __future__ import annotations

import random

import pandas as pd
from bench_analysis import as_a_new_process
from harness import report, timed
from stores import PASSPHRASE, store

from workbench import phones
from workbench.analysis import needs
from workbench.lists import followups
from workbench.store import db

LARGEST_BRANCH = "SELECT branch FROM members GROUP BY branch ORDER BY count(*) DESC, branch LIMIT 1"
BRANCH_MEMBERS = "SELECT member_key, ward, postcode, age FROM members WHERE branch = ?"


def build(con, branch: str):
    composed = followups.compose(con, branch=branch)
    return followups._table(con, "FU-20200415-BENCH", composed, False)  # noqa: SLF001 - the build, unwritten


def branch_list(preset: str) -> tuple:
    """(warm stats, anchor stats, rows) for the largest branch's list on the preset's store."""
    con = db.connect(store(preset), PASSPHRASE, read_only=True)
    try:
        branch = con.execute(LARGEST_BRANCH).fetchone()[0]
        anchor = timed(lambda: con.execute(BRANCH_MEMBERS, [branch]).df())
        rows = len(build(con, branch)[0])
        return timed(lambda: build(con, branch)), anchor, rows, con, branch
    except BaseException:
        con.close()
        raise


def real_shaped_phones(n: int) -> pd.Series:
    """n UK numbers as real lines have them: mobiles and geographic numbers with any digits (the
    synthetic stores use Ofcom's drama ranges, which share their leading digits)."""
    rng = random.Random(15)  # noqa: S311 - seeded test data, not a secret
    heads = ["+447"] * 3 + ["+441", "+442"]
    return pd.Series([rng.choice(heads) + "".join(rng.choices("0123456789", k=9)) for _ in range(n)])


def run() -> None:
    numbers = real_shaped_phones(12_504)
    one_by_one = timed(lambda: numbers.map(phones.display_phone), runs=3)
    column = timed(lambda: phones.display_phones(numbers))
    report("a branch list's phones, real-shaped numbers (12,504)", column, "phonenumbers one by one",
           one_by_one, state="warm", max_ratio=0.2, extra="display_phones, grouped by the format chosen")
    warm, anchor, rows, con, branch = branch_list("national")
    try:
        report("follow-up list, largest branch (national)", warm, "select branch members", anchor,
               state="warm", max_seconds=0.15, extra=f"{rows} rows")
        cold = timed(lambda: build(con, branch), before=as_a_new_process)
        report("follow-up list, largest branch (national)", cold, "select branch members", anchor,
               state="cold: snapshot re-opened")
        queue = timed(lambda: needs.queue(con, branch=branch))
        report("  of which needs.queue for that branch", queue, "select branch members", anchor, state="warm",
               extra=f"the list's own work {(warm.median - queue.median) * 1000:.0f} ms")
    finally:
        con.close()
