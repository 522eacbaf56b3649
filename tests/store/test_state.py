"""The store's state as the caches see it: a fingerprint that changes with every write, and read once
for a block of looks on a read-only connection, which nothing can write while it is open."""

from __future__ import annotations

import subprocess
import sys

from workbench.store import db, state

WRITE_FROM_ANOTHER_PROCESS = """
import sys
from workbench.store import db
con = db.connect(sys.argv[1], db.DEMO_PASSPHRASE)
con.execute("UPDATE calls SET outcome = 'busy' WHERE outcome = 'answered'")
"""


def test_a_pinned_read_only_connection_reads_the_state_once_and_nobody_can_write_meanwhile(synthetic_store):
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con, state.pinned(con):
        pinned = state.fingerprint(con)
        assert pinned is not None and id(con) in state._PINNED
        # What makes it safe: while the file is open read-only, another process cannot write it.
        other = subprocess.run([sys.executable, "-c", WRITE_FROM_ANOTHER_PROCESS, str(synthetic_store)],
                               capture_output=True, text=True, timeout=120)
        assert other.returncode != 0 and "is busy" in other.stderr, other.stderr[-300:]
        assert "has it open (to read or to write)" in other.stderr  # a reader holds it, not a writer
        assert state.fingerprint(con) == pinned
    assert id(con) not in state._PINNED


def test_pinning_a_connection_that_can_write_changes_nothing(synthetic_con):
    with state.pinned(synthetic_con):
        before = state.fingerprint(synthetic_con)
        synthetic_con.execute("UPDATE calls SET outcome = 'busy' WHERE outcome = 'answered'")
        assert state.fingerprint(synthetic_con) != before  # the write is seen at once
        synthetic_con.execute("BEGIN TRANSACTION")
        assert state.fingerprint(synthetic_con) is None  # nothing is cached inside a transaction
        synthetic_con.execute("ROLLBACK")
