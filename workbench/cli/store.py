"""Store and demo subcommands: init, info, synth, demo, config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from workbench.cli.common import (
    actor,
    add_command,
    add_store_options,
    open_store,
    passphrase,
    prompt_passphrase,
)
from workbench.errors import InputError
from workbench.store import db, settings
from workbench.store.state import transaction

DEMO_PATH = Path("data") / "demo.duckdb"


def register(sub) -> None:
    p = add_command(
        sub,
        "init",
        cmd_init,
        "Create an empty, encrypted store.",
        "WORKBENCH_PASSPHRASE='long passphrase' workbench init --db data/northvale.duckdb",
    )
    p.add_argument(
        "--no-encryption",
        action="store_true",
        help="create an UNENCRYPTED store (only for throwaway test data)",
    )

    add_command(
        sub,
        "info",
        cmd_info,
        "Show a store's path, schema version, encryption and row counts.",
        "workbench info --db data/demo.duckdb",
    )

    p = add_command(
        sub,
        "synth",
        cmd_synth,
        "Write a synthetic organisation's exports (fake people only).",
        "workbench synth --out synthetic_data/demo --preset demo --seed 2020 --format xlsx",
        store=False,
    )
    _add_size_options(p)
    p.add_argument("--out", type=Path, required=True, help="folder to write the export files into")
    p.add_argument("--format", choices=["csv", "xlsx", "parquet"], default="csv")

    p = add_command(
        sub,
        "demo",
        cmd_demo,
        "Build the demo store from synthetic data (passphrase 'demo'), then open JupyterLab on it.",
        "workbench demo --preset demo --no-launch",
        store=False,
    )
    _add_size_options(p)
    p.add_argument("--db", type=Path, default=None, help=f"where to build it (default: {DEMO_PATH})")
    p.add_argument("--no-launch", action="store_true", help="build the store only; do not start JupyterLab")
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8888")),
        help="JupyterLab's port on 127.0.0.1 (default: $PORT or 8888)",
    )

    p = add_command(
        sub,
        "config",
        cmd_config,
        "Read or change a setting, such as the data-protection contact.",
        "workbench config set dp_contact dataprotection@example.org",
    )
    p.add_argument("action", choices=["get", "set", "list"])
    p.add_argument("key", nargs="?", choices=sorted(settings.KNOWN))
    p.add_argument("value", nargs="?")


def _add_size_options(parser) -> None:
    parser.add_argument(
        "--preset",
        default="demo",
        help="organisation size: tiny, demo (default, about 2,000 members), branch or national",
    )
    parser.add_argument(
        "--members", type=int, default=None, help="exact number of members instead of a preset"
    )
    parser.add_argument("--calls", type=int, default=None, help="approximate number of calls, with --members")
    parser.add_argument("--seed", type=int, default=2020, help="same seed, same organisation (default 2020)")


def _generate(args):
    # Imported here: Faker is slow to import, and only these commands need it.
    from workbench import synthetic

    if args.preset not in synthetic.PRESETS:
        raise InputError(f'Unknown preset "{args.preset}". Choose one of: {", ".join(synthetic.PRESETS)}.')
    if args.calls is not None and args.members is None:
        raise InputError("--calls needs --members as well, e.g. --members 5000 --calls 20000.")
    if args.members is not None and args.members < 1:
        raise InputError(f"--members must be at least 1, not {args.members}.")
    preset = None if args.members else args.preset
    return synthetic.generate(preset, members=args.members, calls=args.calls, seed=args.seed, progress=True)


def cmd_init(args) -> int:
    secret = None if args.no_encryption else (passphrase(args) or prompt_passphrase(confirm=True))
    if args.no_encryption:
        print(
            "workbench: WARNING: creating an UNENCRYPTED store. Anyone who can read the file can read "
            "every member's data. Use this only for throwaway test data.",
            file=sys.stderr,
        )
    info = db.init_store(args.db, secret, encrypted=not args.no_encryption)
    print(
        f"Created {info.path} (schema {info.schema_version}, "
        f"{'encrypted' if info.encrypted else 'NOT encrypted'})."
    )
    return 0


def cmd_info(args) -> int:
    con = open_store(args)
    try:
        info = db.store_info(con, args.db or db.default_path())
    finally:
        con.close()
    print(f"store:          {info.path}")
    print(f"schema version: {info.schema_version}")
    print(f"encrypted:      {'yes' if info.encrypted else 'NO - anyone who can read the file can read it'}")
    print("rows:")
    for table, count in info.row_counts.items():
        print(f"  {table:<16}{count:>10,}")
    return 0


def cmd_synth(args) -> int:
    from workbench import synthetic

    org = _generate(args)
    paths = synthetic.write_exports(org, args.out, args.format)
    for path in paths:
        print(f"wrote {path}")
    print(
        f"{len(org.members):,} fake members, {len(org.calls):,} fake calls. Every phone number is in "
        "Ofcom's drama ranges; every email is on an example domain."
    )
    return 0


def cmd_demo(args) -> int:
    from workbench.synthetic import demo

    path = Path(args.db or DEMO_PATH)
    org = _generate(args)
    counts = demo.rebuild(path, org, actor=actor(args))
    print(
        f"Built the demo store {path} (passphrase '{db.DEMO_PASSPHRASE}'): "
        f"{counts.get('members', 0):,} members, {counts.get('calls', 0):,} calls. All of it is fake."
    )
    if args.no_launch:
        return 0
    return launch_lab(path, args.port)


def launch_lab(store: Path, port: int) -> int:
    """JupyterLab on 127.0.0.1 only, opened on the start-here notebook, pointed at the store."""
    lab = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    env = dict(os.environ, WORKBENCH_DB=str(store.resolve()))
    env.setdefault("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    command = [
        lab,
        "lab",
        "notebooks/00_start_here.ipynb",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--no-browser",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root
    print(f"Starting JupyterLab at http://127.0.0.1:{port}/lab (Ctrl+C to stop).")
    return subprocess.call(command, env=env)


def cmd_config(args) -> int:
    con = open_store(args, read_only=args.action != "set")
    try:
        if args.action == "set":
            if not args.key or args.value is None:
                raise InputError(
                    "Usage: workbench config set KEY VALUE, e.g. "
                    "workbench config set dp_contact dataprotection@example.org"
                )
            with transaction(con):
                settings.set(con, args.key, args.value, actor=actor(args))
            print(f"{args.key} = {args.value}")
        elif args.action == "get":
            if not args.key:
                raise InputError(f"Name a setting: one of {', '.join(sorted(settings.KNOWN))}.")
            print(settings.get(con, args.key))
        else:
            for key, value in settings.all(con).items():
                print(f"{key} = {value}")
    finally:
        con.close()
    return 0


__all__ = ["register", "add_store_options"]
