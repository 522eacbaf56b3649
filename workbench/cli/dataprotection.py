"""Data-protection subcommands: audit, sar, erase, retention, dp-queries."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

from workbench import privacy
from workbench.cli.common import (
    actor,
    add_command,
    add_force_option,
    add_format_option,
    open_store,
    passphrase,
    print_table,
    prompt_passphrase,
)
from workbench.errors import InputError, StoreError
from workbench.privacy import retention
from workbench.store import db, settings


def register(sub) -> None:
    """Add this area's subcommands to the parser."""
    p = add_command(sub, "audit", cmd_audit, "List the audit log, or verify its hash chain.",
                    "workbench audit --verify")
    p.add_argument("--verify", action="store_true", help="check every entry; name the first bad one")
    p.add_argument("--action", help="only actions starting with this, e.g. optout")
    p.add_argument("--limit", type=int, default=50, help="newest entries to show (default 50)")
    add_format_option(p)

    p = add_command(sub, "sar", cmd_sar, "Subject access: write everything held about one person "
                    "(JSON and a readable HTML page, mode 0600).",
                    "workbench sar --membership-number SYN0000042 --out /secure/sar-42 --by ana")
    _identify(p)
    p.add_argument("--out", type=Path, required=True, help="where to write OUT.json and OUT.html")
    add_force_option(p)

    p = add_command(sub, "erase", cmd_erase, "Erase one member: identity, calls, notes, needs, follow-ups. "
                    "Keeps their suppression so they are never called again; rewrites the file.",
                    "workbench erase --membership-number SYN0000042 --reason subject_request --yes --by ana")
    _identify(p)
    p.add_argument("--reason", help=f"why: {', '.join(privacy.ERASURE_REASONS)}")
    p.add_argument("--yes", action="store_true", help="do it; without this, only say what would be erased")

    p = add_command(sub, "retention", cmd_retention, "Apply the retention policy: a dry run unless --apply.",
                    "workbench retention --older-than 90 --apply --by ana")
    p.add_argument("--older-than", type=int, default=retention.DETAILS_AFTER_DAYS,
                   help=f"strip call details this many days after a campaign's last call "
                        f"(default {retention.DETAILS_AFTER_DAYS})")
    p.add_argument("--inactive-after", type=int, default=retention.INACTIVE_AFTER_DAYS,
                   help="flag members with no activity for this many days "
                        f"(default {retention.INACTIVE_AFTER_DAYS})")
    p.add_argument("--apply", action="store_true", help="delete, compact the file, and audit")

    p = add_command(sub, "dp-queries", cmd_dp_queries, "Data-protection queries raised on calls, and status.",
                    "workbench dp-queries --set-status CALL-0042 passed_to_dp_team --by ana")
    p.add_argument("--status", default="open", help="open (default), passed_to_dp_team, closed, or any")
    p.add_argument("--set-status", nargs=2, metavar=("CALL_ID", "STATUS"), help="move one query to STATUS")
    add_format_option(p)


def _identify(parser) -> None:
    parser.add_argument("--membership-number", help="the member's membership number")
    parser.add_argument("--phone", help="the member's phone number (UK); refused if several members share it")


def cmd_audit(args) -> int:
    with closing(open_store(args, read_only=True)) as con:
        if args.verify:
            result = privacy.verify(con)
        else:
            print_table(privacy.log(con, action=args.action, limit=args.limit), args.format)
            return 0
    if result.ok:
        print(f"Audit log intact: {result.entries:,} entries, every hash checks.")
        return 0
    print(f"workbench: audit log FAILED verification at entry {result.bad_seq}: {result.problem}.",
          file=sys.stderr)
    return 1


def cmd_sar(args) -> int:
    with closing(open_store(args)) as con:
        result = privacy.subject_access(con, args.out, actor=actor(args),
                                               membership_number=args.membership_number, phone=args.phone,
                                               force=args.force)
    held = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in result.counts.items() if n) or "identity only"
    print(f"Wrote {result.json_path} and {result.html_path} (mode 0600): {held}. "
          "Send them securely and delete your copy once sent.")
    return 0


def cmd_erase(args) -> int:
    if not args.yes:
        raise InputError("Erasure cannot be undone. Check the member with `workbench sar` first, "
                         "then add --yes.")
    con, secret = _open_with_secret(args)
    with closing(con):
        result = privacy.erase(con, actor=actor(args), reason=args.reason,
                                      membership_number=args.membership_number, phone=args.phone)
    privacy.compact(args.db or db.default_path(), secret)
    removed = (", ".join(f"{n} {t}" for t, n in result.removed.items() if t != "list_rows_kept")
               or "no other rows")
    print(f"Erased member {result.member_key}: removed {removed}; kept their suppression, and "
          f"{result.removed.get('list_rows_kept', 0)} list row(s) as counts. The file was rewritten.")
    return 0


def cmd_retention(args) -> int:
    days = {"older_than_days": args.older_than, "inactive_after_days": args.inactive_after}
    if not args.apply:
        with closing(open_store(args, read_only=True)) as con:
            _print_retention(privacy.plan_retention(con, **days))
        return 0
    con, secret = _open_with_secret(args)
    with closing(con):
        result = privacy.apply_retention(con, actor=actor(args), **days)
    if result.calls_to_strip:
        privacy.compact(args.db or db.default_path(), secret)
    _print_retention(result)
    return 0


def _print_retention(result) -> None:
    verb = "Removed" if result.applied else "Would remove (dry run; add --apply to do it)"
    rounds = ", ".join(result.expired_rounds) or "none"
    print(f"Campaigns ended more than {result.older_than_days} days ago: {rounds}.")
    print(f"{verb}: details of {result.calls_to_strip:,} calls, {result.notes_to_delete:,} with notes; "
          + ", ".join(f"{n:,} {t} rows" for t, n in result.detail_rows.items()) + ".")
    print(f"Flagged: {result.inactive_members:,} members inactive for {result.inactive_after_days} days; "
          f"{result.lists_overdue:,} lists past their shred-by date and not marked destroyed.")


def cmd_dp_queries(args) -> int:
    if args.set_status:
        with closing(open_store(args)) as con:
            privacy.set_dp_query_status(con, args.set_status[0], args.set_status[1], actor=actor(args))
        print(f"{args.set_status[0]}: {args.set_status[1]}")
        return 0
    with closing(open_store(args, read_only=True)) as con:
        frame = privacy.dp_queries(con, status=None if args.status == "any" else args.status)
        contact = settings.get(con, "dp_contact")
    print_table(frame, args.format)
    if args.format == "table":
        print(f"Data-protection contact: {contact} (change it with: workbench config set dp_contact EMAIL)")
    return 0


def _open_with_secret(args):
    """A writable connection, and the passphrase that opened it (compaction needs it again)."""
    secret = passphrase(args)
    try:
        return db.connect(args.db, secret), secret
    except StoreError as error:
        if secret is None and "is encrypted" in str(error):
            secret = prompt_passphrase()
            return db.connect(args.db, secret), secret
        raise


__all__ = ["register"]
