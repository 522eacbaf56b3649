"""The analysis snapshot kept on disk beside its store, so a new process opens it instead of rebuilding.

A national snapshot takes seconds to build and well under a second to load, and every CLI command
and every new kernel is a new process. The file sits next to the store (`workbench.duckdb` ->
`workbench.analysis.duckdb`), is a DuckDB database encrypted with a key derived from the store's own
secret (so only someone who can open the store can open it), has mode 0600, and is written to a
temporary name and renamed into place, so a reader sees the old file or the new one, never half.
An import that only adds calls updates it in place instead (`snapshot_append`), in one DuckDB
transaction of the file's own, which it can open for writing only while no other process reads it.

It is only ever trusted after a check: it records the checksum of the store's analysis data it was
built from (`snapshot.content`), the store's fingerprint when it was saved (`state.fingerprint`:
the store file's and its WAL's inode, size and mtime, row counts, audit head) and the build's
version. A new process opens it without the checksum only if the fingerprint is unchanged, so no
process has written since (or the one process that wrote, a report's release, recorded the state its
own writes left, having changed no analysis data: `snapshot.carry_over`); otherwise a
load whose checksum differs from the store's now returns nothing, so a write made behind the
library's back is caught and rebuilt, not served stale. Erasure and retention call `discard`, so
rows they remove do not linger here.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb

from workbench.store import db

SUFFIX = ".analysis.duckdb"
ALIAS = "kept"
META_TABLE = "snapshot_meta"


def path_for(store: str | Path) -> Path:
    """Where the snapshot of the store at `store` is kept."""
    store = Path(store)
    return store.with_name(store.name.removesuffix(".duckdb") + SUFFIX)


def file_key(con: duckdb.DuckDBPyConnection) -> str:
    """The snapshot file's encryption key: derived from the store's member secret, never stored."""
    return hmac.new(db.key(con, "member"), b"workbench analysis snapshot", "sha256").hexdigest()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def save(snap: duckdb.DuckDBPyConnection, store: str | Path, key: str, stamp: str, state: str = "") -> bool:
    """Write every table of the in-memory snapshot `snap` to the store's snapshot file.

    Args:
        snap: the snapshot's own connection (its tables are in the `memory` database).
        store: the store's path.
        key: `file_key` of the store.
        stamp: what the file is valid for (build version and content checksum).
        state: the build version and the store's `state.fingerprint` it was built at (see `load`).

    Returns:
        True if written; False if it could not be (a read-only folder, a full disk): the
        snapshot then simply is not kept, and the next process builds its own.
    """
    final = path_for(store)
    temp = final.with_name(f"{final.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    old_umask = os.umask(0o077)  # 0600 from the first byte: the file holds special-category data
    try:
        snap.execute(f"ATTACH {_quote(str(temp))} AS {ALIAS} (ENCRYPTION_KEY {_quote(key)})")
        try:
            snap.execute(f"COPY FROM DATABASE memory TO {ALIAS}")
            snap.execute(f"CREATE TABLE {ALIAS}.{META_TABLE} AS SELECT ? AS stamp, ? AS state",
                         [stamp, state])
            snap.execute(f"CHECKPOINT {ALIAS}")
        finally:
            snap.execute(f"DETACH {ALIAS}")
        os.replace(temp, final)
        return True
    except (duckdb.Error, OSError):
        return False
    finally:
        os.umask(old_umask)
        _remove(temp)


def load(
    store: str | Path, key: str, stamp: str | None = None, state: str | None = None
) -> duckdb.DuckDBPyConnection | None:
    """A new snapshot connection reading the store's snapshot file, if the file is valid for `stamp`,
    or was saved with exactly this `state`.

    `state` (the store file's fingerprint: its and its WAL's inode, size and mtime, row counts and
    audit head) lets a new process skip the content checksum when nothing has touched the store
    since the file was saved; any write since, by any process, changes it.

    Returns None when there is no file, it cannot be read (another key, a damaged file) or it was
    built from other data or by another build version: the caller then builds afresh.
    """
    path = path_for(store)
    if not path.exists():
        return None
    snap = db.memory_connection()
    try:
        snap.execute("RESET memory_limit")  # the snapshot is sized by the data, not the store's limit
        snap.execute(f"ATTACH {_quote(str(path))} AS {ALIAS} (ENCRYPTION_KEY {_quote(key)}, READ_ONLY)")
        row = snap.execute(f"SELECT stamp, state FROM {ALIAS}.{META_TABLE}").fetchone()
        valid = row is not None and (
            (stamp is not None and row[0] == stamp) or (state is not None and row[1] == state)
        )
        if valid:
            _views_of_kept_tables(snap)
    except duckdb.Error:
        valid = False
    if not valid:
        snap.close()
        return None
    return snap


def kept_stamp(snap: duckdb.DuckDBPyConnection) -> str | None:
    """The stamp of the kept file a loaded snapshot (`load`) reads, or None for one built in memory."""
    try:
        row = snap.execute(f"SELECT stamp FROM {ALIAS}.{META_TABLE}").fetchone()
    except duckdb.Error:  # no kept file attached
        return None
    return row[0] if row else None


def restamp(store: str | Path, key: str, stamp: str, state: str) -> bool:
    """Record that the file, valid for `stamp`, is valid at store state `state` too (see `load`).

    Best effort: False if it could not be (no such file, another stamp, a process reading the file
    holds its lock, a read-only folder). Call it only while this process has the file open nowhere.
    """
    return _record_state(store, key, state, "stamp", stamp)


def restamp_state(store: str | Path, key: str, old_state: str, new_state: str) -> bool:
    """Record that the file, valid at store state `old_state`, is valid at `new_state` too (after
    writes that left the analysis data alone: `snapshot.carry_over`). Best effort, as `restamp`."""
    return _record_state(store, key, new_state, "state", old_state)


def _record_state(store: str | Path, key: str, state: str, where: str, equals: str) -> bool:
    """Set the file's recorded state to `state` if its `where` column (stamp or state) is `equals`."""
    try:
        with opened_for_update(store, key) as kept:
            done = kept.execute(f"UPDATE {META_TABLE} SET state = ? WHERE {where} = ? RETURNING 1",
                                [state, equals]).fetchall()
            kept.execute(f"CHECKPOINT {ALIAS}")
        return bool(done)
    except (duckdb.Error, OSError):  # no file (FileNotFoundError), a reader's lock, a read-only folder
        return False


@contextlib.contextmanager
def opened_for_update(store: str | Path, key: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new connection whose default database is the store's kept file, open for writing.

    For updates in place (`snapshot_append`, `restamp`), each in a transaction of its own. Any WAL the
    update leaves is created 0600 too. Raises duckdb.Error if the file cannot be opened so (another
    process reading it holds its lock, another key, a damaged file); FileNotFoundError if there is
    no file.
    """
    path = path_for(store)
    if not path.exists():
        raise FileNotFoundError(path)
    old_umask = os.umask(0o077)
    kept = db.memory_connection()
    try:
        kept.execute("RESET memory_limit")  # sized by the data, as a build is
        kept.execute(f"ATTACH {_quote(str(path))} AS {ALIAS} (ENCRYPTION_KEY {_quote(key)})")
        kept.execute(f"USE {ALIAS}")
        yield kept
    finally:
        kept.close()
        os.umask(old_umask)


KEPT_TABLES_QUERY = f"""
SELECT table_name FROM duckdb_tables() WHERE database_name = '{ALIAS}' AND table_name <> '{META_TABLE}'
"""


def _views_of_kept_tables(snap: duckdb.DuckDBPyConnection) -> None:
    """A view in the in-memory snapshot for each kept table, so queries find them by their own names.

    Nothing is copied: a query reads (and decrypts) only the columns and row groups it needs, so a
    CLI command that reads the needing rows does not pay for loading 2M calls. Tables built later
    (the volunteer tables) go to the in-memory database, as the kept file is opened read-only.
    """
    for (name,) in snap.execute(KEPT_TABLES_QUERY).fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        snap.execute(f"CREATE VIEW {quoted} AS SELECT * FROM {ALIAS}.main.{quoted}")


def discard(store: str | Path) -> None:
    """Delete the store's snapshot file (after an erasure or retention run, or a compaction)."""
    _remove(path_for(store))


def _remove(path: Path) -> None:
    for candidate in (path, Path(f"{path}.wal")):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()


__all__ = [
    "discard", "file_key", "kept_stamp", "load", "opened_for_update", "path_for", "restamp", "restamp_state",
    "save",
]
