"""What every subcommand shares: store options, the passphrase, the actor, and printing tables."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import pandas as pd

from workbench.errors import InputError, StoreError
from workbench.store import db


def add_command(
    sub, name: str, handler, help: str, example: str, store: bool = True
) -> argparse.ArgumentParser:
    """A subcommand whose help ends with a worked example, with the store options if it uses one."""
    parser = sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"Example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if store:
        add_store_options(parser)
    parser.set_defaults(handler=handler)
    return parser


def add_store_options(parser: argparse.ArgumentParser, *, with_actor: bool = True) -> None:
    """--db and --passphrase-file; and --by (the audit actor) unless the command uses --by itself."""
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the store file (default: $WORKBENCH_DB or data/workbench.duckdb)",
    )
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        default=None,
        help="read the store's passphrase from this file (default: $WORKBENCH_PASSPHRASE, or a prompt)",
    )
    if with_actor:
        parser.add_argument(
            "--by",
            default=None,
            help="who is doing this, for the audit log (default: $WORKBENCH_USER, or your login name)",
        )


def actor(args: argparse.Namespace) -> str:
    """Who is acting: --by, WORKBENCH_USER, or the login name."""
    return getattr(args, "by", None) or os.environ.get("WORKBENCH_USER") or getpass.getuser()


def passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str | None:
    """--passphrase-file, else WORKBENCH_PASSPHRASE, else None (the caller may prompt)."""
    if getattr(args, "passphrase_file", None):
        try:
            text = Path(args.passphrase_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise InputError(
                f"Cannot read the passphrase file {args.passphrase_file}: {error.strerror}."
            ) from None
        if not text:
            raise InputError(f"The passphrase file {args.passphrase_file} is empty.")
        return text
    return db.env_passphrase()


def prompt_passphrase(confirm: bool = False) -> str:
    """Ask at the terminal; refuse when there is no terminal to ask at."""
    if not sys.stdin.isatty():
        raise StoreError(
            "The store is encrypted and no passphrase was given: set WORKBENCH_PASSPHRASE "
            "or use --passphrase-file."
        )
    first = getpass.getpass("Store passphrase: ")
    if confirm and getpass.getpass("Again, to confirm: ") != first:
        raise InputError("The two passphrases differ; nothing was created.")
    return first


def open_store(args: argparse.Namespace, *, read_only: bool = False, into=None):
    """A connection to the store named by the options; prompts for the passphrase if needed.

    `into`: a connection that already holds a file read for import (see `db.connect`).
    """
    secret = passphrase(args)
    try:
        return db.connect(args.db, secret, read_only=read_only, into=into)
    except StoreError as error:
        if secret is None and "is encrypted" in str(error):
            return db.connect(args.db, prompt_passphrase(), read_only=read_only, into=into)
        raise


def print_table(frame: pd.DataFrame, fmt: str = "table") -> None:
    """Print a DataFrame as an aligned table, or as CSV for piping."""
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif frame.empty:
        print("(nothing to show)")
    else:
        print(aligned(frame))


def aligned(frame: pd.DataFrame) -> str:
    """The frame as right-aligned text columns, as `DataFrame.to_string(index=False)` lays them out.

    Built with plain string operations: `to_string` took 6 s for a national needs queue (50,000 rows).
    """
    columns = []
    for name in frame.columns:
        values = frame[name]
        shown = values.astype(object).where(values.notna(), "NaN" if values.dtype.kind == "f" else "None")
        cells = [str(name), *map(str, shown.tolist())]
        width = max(map(len, cells))
        columns.append([cell.rjust(width) for cell in cells])
    return "\n".join(map(" ".join, zip(*columns, strict=True)))


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "csv"], default="table", help="table (default) or csv")
