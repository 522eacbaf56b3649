"""The `workbench` command. It only translates: each subcommand calls one library function,
prints the result, and turns a WorkbenchError into one line on stderr and a non-zero exit.

Subcommands live in small modules beside this one, one per area, each with a `register(sub)`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from workbench.cli import common
from workbench.errors import WorkbenchError

# The areas, in the order `workbench --help` lists their commands.
AREAS = ("store", "imports", "optouts", "dataprotection", "views", "followups", "reports", "app")
# Which area registers each command. `workbench needs` imports the views area alone: importing every
# area, and all they import (pandas, phonenumbers, jinja2, shapely ...), took a second of every command.
COMMAND_AREAS = {
    **dict.fromkeys(("init", "info", "synth", "demo", "config"), "store"),
    "import": "imports",
    "optout": "optouts",
    **dict.fromkeys(("audit", "sar", "erase", "retention", "dp-queries"), "dataprotection"),
    **dict.fromkeys(("outreach", "needs", "services", "volunteers"), "views"),
    **dict.fromkeys(("followups", "lists", "breach", "briefing"), "followups"),
    **dict.fromkeys(("report", "releases", "keys"), "reports"),
    "app": "app",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or for `command` alone when it is one of COMMAND_AREAS."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="The welfare-call workbench: load call outcomes, see who needs support, manage "
        "opt-outs, hand branches safe follow-up lists, and publish pseudonymised reports.",
        epilog="Example:\n  workbench demo --no-launch && workbench info --db data/demo.duckdb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in (COMMAND_AREAS[command],) if command in COMMAND_AREAS else AREAS:
        importlib.import_module(f"workbench.cli.{area}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status. No traceback ever reaches the user.

    Everything it prints to a terminal, on stdout or stderr, shows control characters from data as
    visible escapes (`common.guarded_terminal`), so a value cannot clear the screen or reorder a
    line; output redirected to a file or a pipe is the data as stored.
    """
    with common.guarded_terminal():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The command is the first word: `workbench` has no options of its own before it but --help.
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except WorkbenchError as error:
        print(f"workbench: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `workbench needs | head` closed the pipe early: not an error worth a word.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("workbench: interrupted; nothing was half-written.", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("WORKBENCH_DEBUG"):
            traceback.print_exc()
        # The type only: an exception's text could carry a value from a member's row.
        print(
            f"workbench: unexpected error ({type(error).__name__}). Nothing of your data is shown "
            "here. Run again with WORKBENCH_DEBUG=1 for details, and report it.",
            file=sys.stderr,
        )
        return 2


__all__ = ["build_parser", "main", "common"]
