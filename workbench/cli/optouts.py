"""Opt-out subcommands: `workbench optout add|withdraw|list|import`."""

from __future__ import annotations

import argparse
from contextlib import closing
from pathlib import Path

from workbench import ingest
from workbench.cli.common import actor, add_command, add_format_option, open_store, print_table
from workbench.ingest import optout_lists
from workbench.privacy import optouts


def register(sub) -> None:
    """Add `workbench optout ...` to the parser."""
    parser = sub.add_parser("optout", help="The opt-out register: add, withdraw, list, import.",
                            description="The opt-out register: nobody on it appears on any list.",
                            epilog="Example:\n  workbench optout add --membership-number SYN0000042 "
                                   "--reason 'asked not to be called' --by ana",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="optout_action", metavar="ACTION")
    p = add_command(actions, "add", cmd_add, "Put a member (and the phone number they gave) on the register.",
                    "workbench optout add --phone '07700 900123' --reason complaint --scope all --by ana")
    _identify(p)
    p.add_argument("--reason", help=f"why: {', '.join(optouts.REASONS)} (spaces allowed)")
    p.add_argument("--scope", default="calls", help="calls (no more calls; default) or all (no contact)")

    p = add_command(actions, "withdraw", cmd_withdraw, "Record a re-consent; the history is kept.",
                    "workbench optout withdraw --membership-number SYN0000042 --reason re_consented --by ana")
    _identify(p)
    p.add_argument("--reason", help=f"why: {', '.join(optouts.WITHDRAWAL_REASONS)}")

    p = add_command(actions, "list", cmd_list, "Show the register with its history (never a phone number).",
                    "workbench optout list --active")
    p.add_argument("--member-key", help="only entries for this member_key")
    p.add_argument("--active", action="store_true", help="only entries still in force")
    add_format_option(p)

    p = add_command(actions, "import", cmd_import, "Add a CSV or XLSX of phone and/or membership numbers.",
                    "workbench optout import paper_list.xlsx --reason 'asked not to be called' --by ana")
    p.add_argument("file", type=Path, help="CSV or XLSX with a Phone and/or Membership Number column")
    p.add_argument("--reason", default="asked_not_to_be_called", help="for rows without a Reason column")
    p.add_argument("--scope", default="calls", help="for rows without a Scope column: calls (default) or all")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])


def _identify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--membership-number", help="the member's membership number")
    parser.add_argument("--phone", help="the phone number (UK), e.g. 07700 900123")
    parser.add_argument("--member-key", help="the member's pseudonymous key, as shown in lists and reports")


def cmd_add(args) -> int:
    with closing(open_store(args)) as con:
        change = optouts.add(con, actor=actor(args), reason=args.reason, scope=args.scope,
                             membership_number=args.membership_number, phone=args.phone,
                             member_key=args.member_key)
    print(change.message)
    return 0


def cmd_withdraw(args) -> int:
    with closing(open_store(args)) as con:
        change = optouts.withdraw(con, actor=actor(args), reason=args.reason,
                                  membership_number=args.membership_number, phone=args.phone,
                                  member_key=args.member_key)
    print(f"{change.message} The entries stay on the register as history.")
    return 0


def cmd_list(args) -> int:
    with closing(open_store(args, read_only=True)) as con:
        frame = optouts.register(con, member_key=args.member_key, include_withdrawn=not args.active)
    print_table(frame, args.format)
    return 0


def cmd_import(args) -> int:
    # Read and checked before the store is opened: a slow or hostile file never holds its lock.
    with ingest.read(args.file) as source, closing(open_store(args, into=source.connection)) as con:
        result = optout_lists.import_file(con, source, actor=actor(args), reason=args.reason,
                                          scope=args.scope)
    if result.already_imported:
        print(f"{args.file.name} was imported before; nothing changed.")
        return 0
    print(f"{result.entries:,} entries: {result.matched_members:,} members matched, "
          f"{result.unmatched_entries:,} entries matched nobody yet (stored; they suppress anyone who "
          f"arrives later), {result.already_on_register:,} were already on the register.")
    return 0


__all__ = ["register"]
