"""What every subcommand shares: store options, the passphrase, the actor, printing tables, and the
terminal guard that keeps control sequences from data off the screen."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import exports
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
            text = Path(args.passphrase_file).read_text(encoding="utf-8-sig").strip()  # Notepad: a BOM
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


def print_table(frame: pd.DataFrame | pa.Table, fmt: str = "table") -> None:
    """Print a DataFrame or Arrow table as an aligned table, or as CSV for piping (the safe writer: no
    live formula)."""
    if fmt == "csv":
        exports.write_csv_to(sys.stdout, frame.to_pandas() if isinstance(frame, pa.Table) else frame)
    elif len(frame) == 0:
        print("(nothing to show)")
    else:
        print(aligned_table(frame) if isinstance(frame, pa.Table) else aligned(frame))


def aligned(frame: pd.DataFrame) -> str:
    """The frame as right-aligned text columns, as `DataFrame.to_string(index=False)` lays them out.

    Built with plain string operations: `to_string` took 6 s for a national needs queue (50,000 rows).
    """
    columns = []
    for name in frame.columns:
        values = frame[name]
        cells = [str(name), *map(str, values.tolist())]
        if values.hasnans:  # NaN, None, NA and NaT shown as to_string shows them in an object column
            missing = "NaN" if values.dtype.kind == "f" else "None"
            gaps = values.isna().tolist()
            cells[1:] = [missing if gap else cell for cell, gap in zip(cells[1:], gaps, strict=True)]
        width = max(map(len, cells))
        columns.append([cell.rjust(width) for cell in cells])
    return "\n".join(map(" ".join, zip(*columns, strict=True)))


def aligned_table(table: pa.Table) -> str:
    """`aligned` for an Arrow table, laid out by Arrow's own string kernels: text, whole numbers and
    true/false as Python writes them (a missing one as None); other columns via Python's `str`.

    A national needs queue (50,000 rows): 150 ms in `aligned`, 25 ms here.
    """
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        text = _as_text(column)
        width = max(len(str(name)), pc.max(pc.utf8_length(text)).as_py() or 0)
        columns.append((str(name).rjust(width), pc.utf8_lpad(text, width)))
    header = " ".join(head for head, _ in columns)
    lines = pc.binary_join_element_wise(*(cells for _, cells in columns), " ")
    return "\n".join([header, *lines.to_pylist()])


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = column
    elif pa.types.is_integer(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "True", "False")
    else:  # Arrow writes floats, dates and lists otherwise than Python does
        missing = "NaN" if pa.types.is_floating(kind) else "None"
        text = pa.chunked_array([pa.array([missing if v is None else str(v) for v in column.to_pylist()],
                                          pa.string())])
    return pc.fill_null(text.cast(pa.string()), "None")


def add_force_option(parser: argparse.ArgumentParser, what: str = "a file or symbolic link") -> None:
    """--force: replace what is already at --out (without it, an existing file or symlink is refused).

    A symbolic link is replaced itself, never followed.
    """
    parser.add_argument("--force", action="store_true",
                        help=f"replace {what} already at --out (default: refuse)")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "csv"], default="table", help="table (default) or csv")


# ---- the terminal guard -------------------------------------------------------------------------
# A name, ward or service can hold escape sequences (`\x1b[2J` clears the screen) or bidirectional
# overrides that reorder what is shown. Everything the CLI prints to a terminal passes through one
# stream wrapper that shows such characters as visible escapes (`\x1b`, `\u202e`); the data itself
# is unchanged. Output redirected to a file or a pipe is the data as stored: `--format csv > f.csv`
# must hold the ward's name, not four characters standing for its escape (exports' own rule, that no
# cell starts a formula, applies wherever the CSV goes).

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_HIDDEN = {c for c in range(0x20) if chr(c) not in "\n\t\r"} | {0x7F} | set(range(0x80, 0xA0))
_VISIBLE = {c: f"\\x{c:02x}" for c in _HIDDEN} | {ord(c): f"\\u{ord(c):04x}" for c in BIDI_CONTROLS}
# A carriage return is harmless before a newline, and at the start of a write it redraws the line
# (how tqdm draws its progress bar); anywhere else it would let text overwrite what was printed.
_LONE_CR = re.compile(r"(?<!^)\r(?!\n)")


def terminal_text(text: str) -> str:
    r"""Text safe to print: C0, C1 and bidirectional controls shown as visible escapes.

    Examples:
        >>> terminal_text("\x1b[2J\x1b[HAll rows imported OK")
        '\\x1b[2J\\x1b[HAll rows imported OK'
        >>> terminal_text("abc\u202edcba\n")
        'abc\\u202edcba\n'
    """
    if text.replace("\n", "").isprintable():
        # Every character shown as an escape is unprintable (Cc or Cf), so printable text needs no
        # change: this test takes a tenth of the time of `translate` on a national table.
        return text
    return _LONE_CR.sub(r"\\r", text.translate(_VISIBLE))


class TerminalStream:
    """Wraps stdout or stderr so that everything written passes through `terminal_text`."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_text(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)  # flush, isatty, fileno, encoding, close, ...


@contextlib.contextmanager
def guarded_terminal():
    """While inside, sys.stdout and sys.stderr escape control characters (see `terminal_text`), each
    only if it is a terminal; redirected to a file or a pipe, it is left as it is."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (TerminalStream(s) if _is_terminal(s) else s for s in saved)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no stream, a closed one, or one that cannot say
        return False
