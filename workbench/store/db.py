"""Open and create the encrypted store, apply the schema, and hold connections briefly.

The store is one DuckDB file, encrypted at rest with DuckDB's own AES-GCM database encryption.
DuckDB writes encrypted files only with its httpfs extension loaded; the project pins the
`duckdb-ext-httpfs` wheel that ships the signed extension, so this works with no network.

DuckDB allows one writing process at a time. Every caller (CLI, notebooks, web app) opens a
connection, does one piece of work and closes it, and views open read-only. When the store is
held by another process we wait a little, then say who holds it and what to do.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import duckdb

from workbench.errors import InputError, StoreError
from workbench.exports import protect
from workbench.store.state import transaction

SCHEMA_VERSION = 6
ALIAS = "wb"
DEFAULT_PATH = Path("data") / "workbench.duckdb"
DEMO_PASSPHRASE = "demo"  # noqa: S105 - published on purpose: the demo store holds only fake people


def key_number_sql(key: str) -> str:
    """SQL: the member_key in `key` as the number its 16 lowercase hex digits spell, else NULL.

    Only exactly 16 lowercase digits are read, so no two keys give one number: "abc" and
    "0000000000000abc" would otherwise both be 2748, and one member's identity found for another.

    Examples:
        >>> key_number_sql("k")
        "CASE WHEN regexp_full_match(k, '[0-9a-f]{16}') THEN ('0x' || k)::UBIGINT END"
    """
    return f"CASE WHEN regexp_full_match({key}, '[0-9a-f]{{16}}') THEN ('0x' || {key})::UBIGINT END"


# Each entry upgrades a store from version N-1 to N. schema.sql (all CREATE ... IF NOT EXISTS)
# runs after them, so new tables need no migration; changed columns do.
MIGRATIONS: dict[int, str] = {
    # 2: member id aliases (NationBuilder, VAN, external) on the identity row; a service's status.
    2: """
    ALTER TABLE identities ADD COLUMN IF NOT EXISTS nationbuilder_id VARCHAR;
    ALTER TABLE identities ADD COLUMN IF NOT EXISTS van_id VARCHAR;
    ALTER TABLE identities ADD COLUMN IF NOT EXISTS external_id VARCHAR;
    ALTER TABLE services ADD COLUMN IF NOT EXISTS status VARCHAR DEFAULT 'active';
    """,
    3: "SELECT 1",  # version 3 adds ward_boundaries, a new table: schema.sql creates it
    # 4: calls and their needs and skills lose their primary-key indexes. An index on 2 million
    # random call ids made a national import's insert and commit 3x slower; the import itself keeps
    # each call once (ingest.calls drops calls already held and repeats within the file). DuckDB
    # cannot drop a key in place, so each table is rebuilt, rows and NOT NULLs kept.
    4: """
    CREATE TABLE calls_v4 (
        call_id VARCHAR NOT NULL, member_key VARCHAR NOT NULL, round VARCHAR NOT NULL, caller VARCHAR,
        called_at TIMESTAMP NOT NULL, outcome VARCHAR NOT NULL, wellbeing INTEGER, needs_support BOOLEAN,
        urgency VARCHAR, keen_to_volunteer BOOLEAN, dp_query VARCHAR, notes VARCHAR, import_id VARCHAR
    );
    INSERT INTO calls_v4 SELECT * FROM calls;
    DROP TABLE calls;
    ALTER TABLE calls_v4 RENAME TO calls;
    CREATE TABLE call_needs_v4 (call_id VARCHAR NOT NULL, category VARCHAR NOT NULL);
    INSERT INTO call_needs_v4 SELECT * FROM call_needs;
    DROP TABLE call_needs;
    ALTER TABLE call_needs_v4 RENAME TO call_needs;
    CREATE TABLE call_skills_v4 (call_id VARCHAR NOT NULL, skill VARCHAR NOT NULL);
    INSERT INTO call_skills_v4 SELECT * FROM call_skills;
    DROP TABLE call_skills;
    ALTER TABLE call_skills_v4 RENAME TO call_skills;
    """,
    # 5: calls keep their ids and member keys uncompressed (see schema.sql), so imports stop paying
    # for compression that barely shrinks digests. A column's compression is fixed when its table
    # is created, so the table is rebuilt again, rows and NOT NULLs kept.
    5: """
    CREATE TABLE calls_v5 (
        call_id VARCHAR NOT NULL USING COMPRESSION uncompressed,
        member_key VARCHAR NOT NULL USING COMPRESSION uncompressed,
        round VARCHAR NOT NULL, caller VARCHAR,
        called_at TIMESTAMP NOT NULL, outcome VARCHAR NOT NULL, wellbeing INTEGER, needs_support BOOLEAN,
        urgency VARCHAR, keen_to_volunteer BOOLEAN, dp_query VARCHAR, notes VARCHAR, import_id VARCHAR
    );
    INSERT INTO calls_v5 SELECT * FROM calls;
    DROP TABLE calls;
    ALTER TABLE calls_v5 RENAME TO calls;
    """,
    # 6: each identity keeps its member_key as a number too (schema.sql says why).
    6: f"""
    ALTER TABLE identities ADD COLUMN IF NOT EXISTS key_number UBIGINT;
    UPDATE identities SET key_number = {key_number_sql("member_key")};
    """,
}

KEY_NAMES = ("member", "suppression", "record")  # record: cell-key perturbation


@dataclass(frozen=True)
class StoreInfo:
    """What `workbench info` prints about a store."""

    path: Path
    schema_version: int
    encrypted: bool
    row_counts: dict[str, int]


def default_path() -> Path:
    """The store path: WORKBENCH_DB if set, else data/workbench.duckdb."""
    return Path(os.environ.get("WORKBENCH_DB") or DEFAULT_PATH)


def env_passphrase() -> str | None:
    """The passphrase from WORKBENCH_PASSPHRASE, or None."""
    return os.environ.get("WORKBENCH_PASSPHRASE") or None


def _httpfs_extension() -> Path:
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("DuckDB's httpfs extension is missing; install it with: pip install -e .")
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), platform.machine()
    )
    root = Path(list(spec.submodule_search_locations)[0]) / "extensions"
    path = root / f"v{duckdb.__version__}" / f"linux_{arch}" / "httpfs.duckdb_extension"
    if not path.exists():
        raise StoreError(
            f"DuckDB's httpfs extension for {duckdb.__version__} is missing at {path}; "
            "reinstall with: pip install -e ."
        )
    return path


# The extension file whose signature DuckDB has checked in this process: (path, inode, size, mtime).
# Checking means reading and hashing all 25 MB of it, ~35 ms on every connection, and a dashboard
# opens one per filter change. The same unchanged file is loaded without the check again; a file
# changed in any way is checked again.
_CHECKED_EXTENSION: tuple | None = None


def new_connection() -> duckdb.DuckDBPyConnection:
    """A connection to no store yet: work done in it (such as reading an import's file into
    temporary tables) holds no lock, and `connect(..., into=it)` attaches the store later.
    """
    return _new_connection()


def _new_connection() -> duckdb.DuckDBPyConnection:
    global _CHECKED_EXTENSION
    path = _httpfs_extension()
    info = path.stat()
    identity = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    checked = identity == _CHECKED_EXTENSION
    # No autoloading: nothing may be fetched from the network at run time.
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if checked:
        config["allow_unsigned_extensions"] = True  # this very file passed DuckDB's check already
    con = duckdb.connect(config=config)
    try:
        con.execute(f"LOAD '{path}'")
        if checked:
            con.execute("SET allow_unsigned_extensions = false")  # for this connection's lifetime
    except BaseException:
        con.close()
        raise
    _CHECKED_EXTENSION = identity
    con.execute(f"SET memory_limit = '{_memory_limit()}'")
    return con


MEMORY_LIMIT_MB = 2000  # what DuckDB may hold before it spills to disk; WORKBENCH_MEMORY_LIMIT overrides
MEMORY_LIMIT = f"{MEMORY_LIMIT_MB}MB"
# An import's working tables take about eight times its file's bytes: a 507 MB union calls file
# (6M rows) spills under 2 GB and takes 21.6 s with 8 GB, 23.5 s with 4 GB, 27 s with 2 GB.
IMPORT_BYTES_PER_FILE_BYTE = 8


def _memory_limit() -> str:
    return os.environ.get("WORKBENCH_MEMORY_LIMIT", MEMORY_LIMIT)


@contextlib.contextmanager
def memory_for_import(con: duckdb.DuckDBPyConnection, file_bytes: int) -> Iterator[None]:
    """Let an import of a large file hold more than MEMORY_LIMIT: eight times the file, at most half
    the machine's memory. A national calls file (169 MB) stays within 2 GB; a union's (507 MB) gets
    4 GB rather than spilling. Nothing changes when WORKBENCH_MEMORY_LIMIT is set: the user chose."""
    wanted = min(IMPORT_BYTES_PER_FILE_BYTE * file_bytes, _physical_memory() // 2)
    if "WORKBENCH_MEMORY_LIMIT" in os.environ or wanted <= MEMORY_LIMIT_MB * 10**6:
        yield
        return
    con.execute(f"SET memory_limit = '{wanted // 10**6}MB'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): keep the usual limit
        return 0


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, data, prefix: str = "_data") -> Iterator[str]:
    """A DataFrame or Arrow table visible to SQL under a unique name for the length of the block."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    con.register(name, data)
    try:
        yield name
    finally:
        con.unregister(name)


def memory_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the httpfs extension loaded, so it can read and write encrypted files."""
    return _new_connection()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attach(con: duckdb.DuckDBPyConnection, path: Path, passphrase: str | None, read_only: bool) -> None:
    options = []
    if passphrase:
        options.append(f"ENCRYPTION_KEY {_quote(passphrase)}")
    if read_only:
        options.append("READ_ONLY")
    suffix = f" ({', '.join(options)})" if options else ""
    con.execute(f"ATTACH {_quote(str(path))} AS {ALIAS}{suffix}")
    con.execute(f"USE {ALIAS}")


def _explain_attach_error(path: Path, error: duckdb.Error, has_passphrase: bool) -> StoreError | None:
    text = str(error)
    if "Wrong encryption key" in text:
        return StoreError(f"{path}: wrong passphrase. Check WORKBENCH_PASSPHRASE or the passphrase file.")
    if "without a key" in text:
        return StoreError(
            f"{path} is encrypted: give its passphrase with WORKBENCH_PASSPHRASE, "
            "--passphrase-file, or at the prompt."
        )
    if "is not encrypted" in text and has_passphrase:
        return StoreError(
            f"{path} is not encrypted, but a passphrase was given. "
            "Unset WORKBENCH_PASSPHRASE to open it, or re-create it encrypted."
        )
    if "Conflicting lock" in text or "Could not set lock" in text:
        holder = re.search(r"held in (\S+) \(PID (\d+)\)", text)
        who = f"process {holder.group(2)} ({Path(holder.group(1)).name})" if holder else "another program"
        return StoreError(
            f"{path} is busy: {who} has it open (to read or to write). Wait for that command to "
            "finish, or close the notebook or app that holds it (restart its kernel), "
            "then try again."
        )
    if "not a valid DuckDB database" in text or "Unable to open" in text:
        return StoreError(f"{path} is not a workbench store. Create one with: workbench init --db {path}")
    return None


def connect(
    path: str | Path | None = None,
    passphrase: str | None = None,
    *,
    read_only: bool = False,
    busy_timeout: float = 10.0,
    into: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an existing store. Close it soon: other processes are waiting.

    Args:
        path: the store file; default `default_path()`.
        passphrase: the store's passphrase, or None for an unencrypted store.
        read_only: open for reading only (views, reports); several readers may share the file.
        busy_timeout: seconds to wait while another process holds the store.
        into: a connection from `new_connection()` to attach the store to, keeping its temporary
            tables (an import reads its file there first, so a slow file never holds the lock).
            It is left open if the store cannot be opened.

    Raises:
        StoreError: missing, locked, wrong passphrase, or written by a newer version.
    """
    path = Path(path) if path else default_path()
    if not path.exists():
        raise StoreError(
            f"No store at {path}. Create one with: workbench init --db {path} "
            "(or build the demo store with: workbench demo --no-launch)"
        )
    con = _open(path, passphrase, read_only, busy_timeout, into)
    try:
        _check_version(con, path, read_only)
    except BaseException:
        if into is None:
            con.close()
        else:
            con.execute("USE memory")
            con.execute(f"DETACH {ALIAS}")
        raise
    return con


def _open(
    path: Path,
    passphrase: str | None,
    read_only: bool,
    busy_timeout: float,
    into: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + busy_timeout
    while True:
        con = into if into is not None else _new_connection()
        try:
            _attach(con, path, passphrase, read_only)
            return con
        except duckdb.Error as error:
            if into is None:
                con.close()
            explained = _explain_attach_error(path, error, bool(passphrase))
            busy = explained is not None and "is busy" in str(explained)
            if busy and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            if explained is not None:
                raise explained from None
            raise StoreError(f"{path}: could not open the store ({type(error).__name__}).") from None


@contextlib.contextmanager
def session(
    path: str | Path | None = None,
    passphrase: str | None = None,
    *,
    read_only: bool = False,
    into: duckdb.DuckDBPyConnection | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one piece of work, closed (and so released) afterwards (`into`: see `connect`).

    Examples:
        >>> with session("data/workbench.duckdb", "demo", read_only=True) as con:  # doctest: +SKIP
        ...     con.sql("select count(*) from members").fetchone()
    """
    con = connect(path, passphrase, read_only=read_only, into=into)
    try:
        yield con
    finally:
        con.close()


def init_store(
    path: str | Path | None = None, passphrase: str | None = None, *, encrypted: bool = True
) -> StoreInfo:
    """Create an empty store with its schema and keys; file mode 0600.

    Raises:
        InputError: the file already exists, or encryption was asked for with no passphrase.
    """
    path = Path(path) if path else default_path()
    if path.exists():
        raise InputError(f"{path} already exists. Use it as it is, or choose another --db path.")
    if encrypted and not passphrase:
        raise InputError(
            "An encrypted store needs a passphrase: set WORKBENCH_PASSPHRASE or use "
            "--passphrase-file. (--no-encryption creates an unencrypted store.)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # umask 077 while DuckDB creates the file and its WAL, so they are never readable by others.
    old_umask = os.umask(0o077)
    try:
        con = _new_connection()
        _attach(con, path, passphrase if encrypted else None, read_only=False)
        _apply_schema(con)
        _set_meta(con, "schema_version", str(SCHEMA_VERSION))
        _set_meta(con, "created_at", datetime.now().isoformat(timespec="seconds"))
        for name in KEY_NAMES:
            ensure_key(con, name)
        con.execute("CHECKPOINT")
        info = store_info(con, path)
        con.close()
    finally:
        os.umask(old_umask)
    protect(path)
    return info


def _apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(resources.files("workbench.store").joinpath("schema.sql").read_text(encoding="utf-8"))


def _set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def _stored_version(con: duckdb.DuckDBPyConnection) -> int:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:
        return -1
    return int(row[0]) if row else -1


def _check_version(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    version = _stored_version(con)
    if version < 0:
        raise StoreError(f"{path} is a DuckDB file but not a workbench store.")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer workbench (schema {version}; this version "
            f"understands up to {SCHEMA_VERSION}). Upgrade the workbench to open it."
        )
    if read_only:
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{path} needs upgrading to schema {SCHEMA_VERSION}; open it once for "
                "writing (for example: workbench info) to migrate it."
            )
        return
    with transaction(con):
        for step in range(version + 1, SCHEMA_VERSION + 1):
            con.execute(MIGRATIONS[step])
        _apply_schema(con)
        _set_meta(con, "schema_version", str(SCHEMA_VERSION))


def ensure_key(con: duckdb.DuckDBPyConnection, name: str) -> bytes:
    """The secret called `name`, created with `secrets` the first time it is asked for."""
    row = con.execute("SELECT secret FROM keys WHERE name = ?", [name]).fetchone()
    if row:
        return bytes(row[0])
    secret = secrets.token_bytes(32)
    con.execute("INSERT INTO keys VALUES (?, ?, now())", [name, secret])
    return secret


def key(con: duckdb.DuckDBPyConnection, name: str) -> bytes:
    """A secret that must already exist (read-only connections cannot create one)."""
    row = con.execute("SELECT secret FROM keys WHERE name = ?", [name]).fetchone()
    if not row:
        raise StoreError(f"The store has no '{name}' key; open it once for writing to create it.")
    return bytes(row[0])


TABLES_QUERY = """
SELECT table_name FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
ORDER BY table_name
"""


def store_info(con: duckdb.DuckDBPyConnection, path: str | Path | None = None) -> StoreInfo:
    """Path, schema version, encryption and row counts per table."""
    encrypted = con.execute(
        "SELECT encrypted FROM duckdb_databases() WHERE database_name = ?", [ALIAS]
    ).fetchone()[0]
    tables = [row[0] for row in con.execute(TABLES_QUERY).fetchall()]
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables if t != "keys"}
    return StoreInfo(Path(path) if path else default_path(), _stored_version(con), bool(encrypted), counts)
