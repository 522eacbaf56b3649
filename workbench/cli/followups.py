"""Follow-up lists, the list registry and breach reports: `workbench followups ...`, `lists`, `breach`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from workbench.cli.common import (
    actor,
    add_command,
    add_force_option,
    add_format_option,
    open_store,
    print_table,
)
from workbench.errors import InputError
from workbench.lists import breach, briefing, followups, protection, registry, returns

EXPORT_EXAMPLE = (
    'workbench followups export --branch Ashcombe --purpose "welfare call-backs" '
    '--recipient "Ashcombe branch secretary" --out ashcombe-callbacks.xlsx'
)


def register(sub) -> None:
    """Add this area's subcommands to the parser."""
    parent = sub.add_parser(
        "followups",
        help="Branch follow-up lists: export one, import its results, or make the next round's call list.",
        description="Branch follow-up lists: export one, import its results, or make "
        "the next round's call list.",
        epilog=f"Example:\n  {EXPORT_EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    area = parent.add_subparsers(dest="followups_command", metavar="COMMAND")
    _register_export(area)
    _register_import(area)
    _register_next_round(area)
    _register_lists(sub)
    _register_breach(sub)
    _register_briefing(sub)


def _add_list_options(p: argparse.ArgumentParser, fmt_required: bool = False) -> None:
    p.add_argument("--purpose", required=True, help="why the list is given out; printed on it")
    p.add_argument("--recipient", required=True, help="who it is given to; printed on it")
    p.add_argument(
        "--format",
        dest="list_format",
        choices=list(followups.LIST_FORMATS),
        default=None,
        help="xlsx (encrypted; to fill in and send back) or pdf (encrypted; to print), each opened with "
        "a passphrase shown once; csv or html only with --unprotected. Default: from --out, else xlsx",
    )
    p.add_argument("--out", type=Path, required=True,
                   help="the file to write (mode 0600; an existing file is refused unless --force)")
    p.add_argument(
        "--unprotected",
        metavar="REASON",
        default=None,
        help="write the list without encryption (csv, html, or a plain xlsx/pdf), saying why; the reason "
        "is recorded in the list registry and the audit log",
    )
    p.add_argument(
        "--shred-after-days",
        type=int,
        default=None,
        help="days until it must be shredded (default: the setting shred_after_days, 14)",
    )
    add_force_option(p)


def _register_export(area) -> None:
    p = add_command(
        area,
        "export",
        cmd_export,
        "Write a branch's welfare follow-up list (opt-outs removed), "
        "with its data-protection notice, and record it in the list registry.",
        EXPORT_EXAMPLE,
    )
    p.add_argument("--branch", required=True, help="the branch the list is for")
    p.add_argument("--ward", default=None, help="only this ward")
    p.add_argument("--category", default=None, help="only this need category (food, medicine, ...)")
    p.add_argument("--limit", type=int, default=None, help="at most this many people, most urgent first")
    p.add_argument(
        "--include-membership-number",
        action="store_true",
        help="add the membership number (only when the branch really needs it)",
    )
    _add_list_options(p)


def _register_import(area) -> None:
    p = add_command(
        area,
        "import-results",
        cmd_import,
        "Read a returned follow-up list (XLSX or CSV with the "
        "Outcome column filled in) and record its outcomes; all or nothing, safe to repeat. A "
        "password-protected XLSX is opened with its passphrase (asked for, or --list-passphrase-file).",
        "workbench followups import-results ashcombe-callbacks.xlsx --by ana",
    )
    p.add_argument("file", type=Path, help="the returned .xlsx or .csv")
    p.add_argument(
        "--list-passphrase-file",
        type=Path,
        default=None,
        help="a file holding the passphrase the list was sent with (default: ask for it when needed)",
    )


def _register_next_round(area) -> None:
    p = add_command(
        area,
        "next-round",
        cmd_next_round,
        "Write the next calling round's list for the calling "
        "tool: members still unreached after N attempts, or due a repeat check-in; opt-outs removed.",
        'workbench followups next-round --attempts 3 --checkin-after-days 28 --purpose "round 3" '
        '--recipient "calling team" --out round3.xlsx',
    )
    p.add_argument("--branch", default=None, help="only this branch")
    p.add_argument("--ward", default=None, help="only this ward")
    p.add_argument("--round", default=None, help="judge 'unreached' in this round (default: the latest)")
    p.add_argument("--attempts", type=int, default=3, help="unreached after at least this many attempts (3)")
    p.add_argument(
        "--checkin-after-days",
        type=int,
        default=28,
        help="due a check-in when last answered more than this many days ago (28)",
    )
    p.add_argument(
        "--wellbeing-at-most",
        type=int,
        default=2,
        help="or when wellbeing (1-5) at the last answered call was this low or lower (2)",
    )
    p.add_argument(
        "--as-of", default=None, help="judge 'days ago' from this date, YYYY-MM-DD (default: today)"
    )
    _add_list_options(p)


def _register_lists(sub) -> None:
    p = add_command(
        sub,
        "lists",
        cmd_lists,
        "Show the lists that left the building: those still out, and those "
        "past their shred-by date; or record that one was destroyed.",
        "workbench lists --outstanding   |   workbench lists destroyed FU-20200415-KQXRT --by ana",
    )
    p.add_argument("action", nargs="?", choices=["destroyed"], help="record a list's destruction")
    p.add_argument("list_id", nargs="?", help="the list's ID, with `destroyed`")
    p.add_argument("--outstanding", action="store_true", help="only lists not yet recorded destroyed")
    add_format_option(p)


def _register_breach(sub) -> None:
    p = add_command(
        sub,
        "breach",
        cmd_breach,
        "Write the breach report for a lost or stolen list: what it was, "
        "who had it, how many people, which data, what to do next. No identities unless asked.",
        "workbench breach FU-20200415-KQXRT --out breach-FU-20200415-KQXRT.md --by ana",
    )
    p.add_argument("list_id", help="the lost list's ID")
    p.add_argument(
        "--out", type=Path, default=None, help="write it here (.md or .html, mode 0600); default: print it"
    )
    p.add_argument(
        "--with-identities",
        action="store_true",
        help="add who was on the list, for the data-protection team (needs --out; audited)",
    )
    add_force_option(p)


def _register_briefing(sub) -> None:
    p = add_command(
        sub,
        "briefing",
        cmd_briefing,
        "Write the callers' briefing for a branch: a printable A4 sheet with the active local services "
        "by need, the steps of the call, answers to members' questions, and the labels to record. "
        "It holds no member's data.",
        'workbench briefing --branch Ashcombe --round "round 3" --out ashcombe-briefing.pdf',
    )
    p.add_argument("--branch", required=True, help="the branch whose callers it is for")
    p.add_argument("--ward", default=None, help="only this ward's services")
    p.add_argument("--round", default=None, help="the calling round it is for, printed on it")
    p.add_argument("--out", type=Path, required=True, help="the file to write (.html or .pdf)")
    p.add_argument(
        "--format",
        dest="briefing_format",
        choices=list(briefing.FORMATS),
        default=None,
        help="html or pdf (pdf needs Chromium); default: from --out",
    )


def _left_out(excluded: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in sorted(excluded.items())) or "nobody"


def _print_exported(done: followups.Exported) -> None:
    r = done.record
    print(f"Wrote {done.path} ({r.row_count} people; list {r.list_id}; shred by {r.shred_by:%d/%m/%Y}).")
    print(f"Left out: {_left_out(done.excluded)}.")
    print(f"When it is destroyed: workbench lists destroyed {r.list_id} --by NAME")
    if done.passphrase:
        print(f"\nPassphrase to open it (shown this once, kept nowhere): {done.passphrase}")
        print(protection.ADVICE)
    elif r.protection is not None:
        print(f"NOT encrypted; reason recorded: {r.protection.reason}")


def cmd_export(args) -> int:
    with open_store(args) as con:
        done = followups.export(
            con,
            branch=args.branch,
            ward=args.ward,
            category=args.category,
            purpose=args.purpose,
            recipient=args.recipient,
            fmt=args.list_format,
            out=args.out,
            actor=actor(args),
            shred_after_days=args.shred_after_days,
            include_membership_number=args.include_membership_number,
            limit=args.limit,
            unprotected=args.unprotected,
            force=args.force,
        )
    _print_exported(done)
    return 0


def cmd_next_round(args) -> int:
    with open_store(args) as con:
        done = followups.next_round(
            con,
            branch=args.branch,
            ward=args.ward,
            round=args.round,
            attempts=args.attempts,
            checkin_after_days=args.checkin_after_days,
            wellbeing_at_most=args.wellbeing_at_most,
            purpose=args.purpose,
            recipient=args.recipient,
            fmt=args.list_format,
            out=args.out,
            actor=actor(args),
            shred_after_days=args.shred_after_days,
            as_of=args.as_of,
            unprotected=args.unprotected,
            force=args.force,
        )
    _print_exported(done)
    return 0


def _list_passphrase(args) -> str | None:
    """The passphrase for a protected returned list: from --list-passphrase-file, else asked for."""
    if not returns.needs_passphrase(args.file):
        return None
    if args.list_passphrase_file is not None:
        try:
            return args.list_passphrase_file.read_text(encoding="utf-8-sig").strip()  # Notepad: a BOM
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(
                f"Cannot read the passphrase file {args.list_passphrase_file.name} ({type(error).__name__})."
            ) from None
    if not sys.stdin.isatty():
        raise InputError(
            f"{args.file.name} is password-protected: give --list-passphrase-file PATH, or run this in a "
            "terminal to be asked for the passphrase."
        )
    return getpass.getpass(f"Passphrase for {args.file.name} (not shown as you type): ")


def cmd_import(args) -> int:
    # Read and checked before the store is opened: a slow or hostile file never holds its lock.
    sent = returns.read(args.file, passphrase=_list_passphrase(args))
    with open_store(args) as con:
        result = returns.import_results(con, sent, actor=actor(args))
    if result.already_imported:
        print(f"{result.file_name} was already imported ({result.import_id}); nothing changed.")
        return 0
    changed = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in result.changed.items()) or "none"
    print(
        f"Imported {result.file_name}: {result.rows_read} rows "
        f"from {', '.join(result.list_ids) or 'no list'}."
    )
    print(
        f"Recorded: {changed}. Already recorded: {result.unchanged}. Not yet called: {result.not_called}. "
        f"Erased since: {result.erased}."
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_lists(args) -> int:
    if args.action == "destroyed":
        if not args.list_id:
            raise InputError("Say which list: workbench lists destroyed LIST_ID --by NAME")
        with open_store(args) as con:
            record = registry.mark_destroyed(con, args.list_id, actor=actor(args))
        print(
            f"Recorded: list {record.list_id} destroyed by {record.destroyed_by} on "
            f"{record.destroyed_at:%d/%m/%Y %H:%M}."
        )
        return 0
    if args.list_id:
        raise InputError(
            f'Unexpected "{registry.safe_id(args.list_id)}". To record a destruction: '
            "workbench lists destroyed LIST_ID --by NAME"
        )
    with open_store(args, read_only=True) as con:
        frame = registry.lists(con, outstanding=args.outstanding)
    shown = frame[
        [
            "list_id",
            "kind",
            "recipient",
            "created_at",
            "shred_by",
            "rows",
            "returned",
            "protection",
            "status",
            "days_overdue",
        ]
    ].copy()
    shown["created_at"] = shown["created_at"].dt.strftime("%d/%m/%Y")
    shown["shred_by"] = shown["shred_by"].map(lambda d: f"{d:%d/%m/%Y}")
    print_table(shown, args.format)
    overdue = int((frame["status"] == "PAST SHRED-BY").sum())
    if overdue and args.format == "table":
        print(
            f"\n{overdue} list(s) PAST SHRED-BY: ask the recipient to shred them, then record it with "
            "`workbench lists destroyed LIST_ID --by NAME`."
        )
    return 0


def cmd_breach(args) -> int:
    if args.with_identities and args.out is None:
        raise InputError(
            "--with-identities writes names and phone numbers: give --out PATH (a .md or .html "
            "file, mode 0600); they are never printed to the terminal."
        )
    with open_store(args) as con:
        if args.out is not None:
            breach.write_breach(
                con, args.list_id, args.out, actor=actor(args), with_identities=args.with_identities,
                force=args.force,
            )
        else:
            text = breach.render_breach(breach.breach(con, args.list_id, actor=actor(args)))
    if args.out is None:
        sys.stdout.write(text + "\n")
    else:
        print(f"Wrote {args.out} (mode 0600){' with identities' if args.with_identities else ''}.")
    return 0


def cmd_briefing(args) -> int:
    with open_store(args, read_only=True) as con:
        path = briefing.write_briefing(
            con, args.out, branch=args.branch, ward=args.ward, round=args.round, fmt=args.briefing_format
        )
    print(f"Wrote {path}: the callers' briefing for {args.branch} (no member's data; print it on A4).")
    return 0
