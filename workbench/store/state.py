"""The store's state as the caches see it, and one way to make a change all or nothing.

`fingerprint` changes with every committed write, from any process: the analysis snapshot, the
opt-out register's reading and the needing rows are kept only while it is unchanged. Inside an open
transaction there is none, so uncommitted state is never cached. `pinned` reads it once for a block
of looks on a read-only connection, which nothing can write while it is open.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import duckdb

# With the transaction id, for `in_transaction`'s test. The counts are joined rather than scalar
# subqueries: planned that way the statement takes a third of the time (~1 ms against ~3 ms), and a
# dashboard's filter change checks the state several times.
FINGERPRINT_QUERY = """
SELECT txid_current(), (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),
       c.n, m.n, a.seq
FROM (SELECT count(*) AS n FROM calls) c, (SELECT count(*) AS n FROM members) m,
     (SELECT max(seq) AS seq FROM audit_log) a
"""


def fingerprint(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """The store's state now: None inside a transaction or for a store without a file."""
    if id(con) in _PINNED:
        return _PINNED[id(con)]
    # The file's and its WAL's size and mtime change with every committed write, from any process;
    # the row counts and the audit head catch writes on this connection. Inside an open transaction
    # uncommitted changes are invisible to the file, so nothing is cached there.
    txid, path, calls, members, seq = con.execute(FINGERPRINT_QUERY).fetchone()
    if txid == con.execute(TXID_QUERY).fetchone()[0]:  # as `in_transaction`: one transaction for both
        return None
    if not path:
        return None
    stats = []
    for name in (path, f"{path}.wal"):
        with contextlib.suppress(FileNotFoundError):
            info = os.stat(name)
            stats.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return path, calls, members, seq, tuple(stats)


TXID_QUERY = "SELECT txid_current()"
READ_ONLY_QUERY = "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
_PINNED: dict[int, tuple | None] = {}  # id(connection) -> its fingerprint, inside `pinned`


@contextlib.contextmanager
def pinned(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read the store's state once for a block of looks on a read-only connection.

    While a read-only connection is open, no process can write its file (DuckDB holds a shared lock
    for readers and needs an exclusive one to write; in this process it refuses a second connection
    of another kind), so the state cannot change within the block: the fingerprint read at its
    start is the state throughout. A dashboard's filter change then checks it once, not in each
    of its half-dozen library calls. On a connection that can write, this does nothing.
    """
    if id(con) in _PINNED or not con.execute(READ_ONLY_QUERY).fetchone()[0]:
        yield con
        return
    _PINNED[id(con)] = fingerprint(con)
    try:
        yield con
    finally:
        _PINNED.pop(id(con), None)


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


__all__ = ["fingerprint", "in_transaction", "pinned", "transaction"]
