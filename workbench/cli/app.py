"""`workbench app`: the dashboard as a web page on this computer."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.cli.common import add_command
from workbench.store import db
from workbench.widgets import server


def register(sub) -> None:
    """Add `workbench app` to the parser."""
    p = add_command(
        sub,
        "app",
        cmd_app,
        "Serve the dashboard (outreach, needs, services, follow-up lists) as a "
        "web page on 127.0.0.1 only; the page asks for the store's passphrase.",
        "workbench app --db data/demo.duckdb --port 8866",
        store=False,
    )
    p.add_argument(
        "--db", default=None, help="the store file (default: $WORKBENCH_DB or data/workbench.duckdb)"
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", server.DEFAULT_PORT)),
        help=f"the port on 127.0.0.1 (default: $PORT or {server.DEFAULT_PORT})",
    )


def cmd_app(args) -> int:
    return server.serve(Path(args.db) if args.db else db.default_path(), args.port)


__all__ = ["register"]
