"""The store's state as the caches see it, and one way to make a change all or nothing.

`fingerprint` changes with every committed write, from any process: the analysis snapshot, the
opt-out register's reading and the needing rows are kept only while it is unchanged. Inside an open
transaction there is none, so uncommitted state is never cached.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import duckdb

FINGERPRINT_QUERY = """
SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),
       (SELECT count(*) FROM calls), (SELECT count(*) FROM members), (SELECT max(seq) FROM audit_log)
"""


def fingerprint(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """The store's state now: None inside a transaction or for a store without a file."""
    # The file's and its WAL's size and mtime change with every committed write, from any process;
    # the row counts and the audit head catch writes on this connection. Inside an open transaction
    # uncommitted changes are invisible to the file, so nothing is cached there.
    if in_transaction(con):
        return None
    path, calls, members, seq = con.execute(FINGERPRINT_QUERY).fetchone()
    if not path:
        return None
    stats = []
    for name in (path, f"{path}.wal"):
        with contextlib.suppress(FileNotFoundError):
            info = os.stat(name)
            stats.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return path, calls, members, seq, tuple(stats)


TXID_QUERY = "SELECT txid_current()"


def in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """True inside an explicit transaction: two statements then share one transaction id.

    (Trying BEGIN to find out would abort the caller's transaction, so we ask without changing it.)
    """
    return con.execute(TXID_QUERY).fetchone()[0] == con.execute(TXID_QUERY).fetchone()[0]


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection, *, keep: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back if it raises.

    Inside the caller's own transaction it joins that one (a returns import is all or nothing as a
    whole), and the caller decides. `keep=False` rolls back even on success: a dry run does all the
    work, to count it exactly, then undoes it.
    """
    if in_transaction(con):
        yield con
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT" if keep else "ROLLBACK")


__all__ = ["fingerprint", "in_transaction", "transaction"]
