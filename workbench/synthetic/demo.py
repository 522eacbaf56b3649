"""The demo store: a synthetic organisation in an encrypted store with the published passphrase.

Rebuilding replaces the file, so it refuses to touch a store that is not itself a demo store:
a real organisation's data must never be overwritten by a training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import InputError, StoreError
from workbench.store import db, settings
from workbench.store.state import transaction

if TYPE_CHECKING:
    from workbench.synthetic import Organisation


def is_demo_store(path: Path) -> bool:
    """True if the file is a store built from synthetic data with the demo passphrase."""
    try:
        con = db.connect(path, db.DEMO_PASSPHRASE, read_only=True)
    except StoreError:
        return False
    try:
        return con.execute("SELECT count(*) FROM meta WHERE key = 'synthetic'").fetchone()[0] == 1
    finally:
        con.close()


def rebuild(path: str | Path, org: Organisation, *, actor: str = "workbench demo") -> dict[str, int]:
    """Replace the demo store at `path` with `org`; return row counts.

    Raises:
        InputError: a file is there that is not a demo store.
    """
    path = Path(path)
    if path.exists():
        if not is_demo_store(path):
            raise InputError(
                f"{path} exists and is not a demo store; refusing to overwrite it. "
                "Choose another path with --db."
            )
        path.unlink()
        Path(f"{path}.wal").unlink(missing_ok=True)
    db.init_store(path, db.DEMO_PASSPHRASE)
    con = db.connect(path, db.DEMO_PASSPHRASE)
    try:
        from workbench import privacy, synthetic
        from workbench.privacy import optouts

        with transaction(con):
            counts = synthetic.build_store(con, org)
            # The demo goes through the same opt-out path as a real import of "do not call" outcomes.
            counts["optouts"] = optouts.record_from_calls(con, actor=actor)
            # The calls are from 2020: count waiting up to just after the last round, not to today.
            last_call = con.execute("SELECT CAST(max(called_at) AS DATE) + 3 FROM calls").fetchone()[0]
            if last_call is not None:
                settings.set(con, "as_of", last_call.isoformat(), actor=actor)
            built = {"members": counts.get("members", 0), "calls": counts.get("calls", 0)}
            privacy.audit(
                con, "demo.build", actor=actor, object_id=f"{org.preset}:{org.seed}", counts=built
            )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts
