"""Analysis views: `workbench outreach`, `needs`, `services gaps|usage`, `volunteers`.

Each opens the store read-only, calls one library function and prints its table. None prints a
name, phone number, email or note: the library returns member keys and counts only.
"""

from __future__ import annotations

import sys

import pandas as pd
import pyarrow.compute as pc

from workbench.analysis import needs, outreach, services, volunteers
from workbench.cli.common import add_command, add_format_option, add_store_options, open_store, print_table


def register(sub) -> None:
    """Add this area's subcommands to the parser."""
    p = add_command(
        sub,
        "outreach",
        cmd_outreach,
        "Attempts, members reached, contact rate and outcome mix.",
        "workbench outreach --by week --branch Ashcombe --db data/demo.duckdb",
        store=False,
    )
    add_store_options(p, with_actor=False)  # --by groups here; these views only read
    p.add_argument(
        "--by",
        dest="group",
        choices=list(outreach.GROUPS),
        default="round",
        help="group by day, week, branch, ward, round (default) or caller (pseudonyms, no ranking)",
    )
    _add_place_filters(p)
    p.add_argument("--round", default=None, help="only this calling round")
    p.add_argument(
        "--unreached",
        type=int,
        metavar="N",
        default=None,
        help="instead, list member keys still unreached after N attempts in --round (default latest)",
    )
    add_format_option(p)

    p = add_command(
        sub,
        "needs",
        cmd_needs,
        "The triage queue: member keys, ward, categories, urgency and "
        "days waiting, most urgent first. No identity.",
        "workbench needs --branch Ashcombe --db data/demo.duckdb",
    )
    _add_place_filters(p)
    p.add_argument("--category", default=None, help="only needs in this category, e.g. food")
    p.add_argument(
        "--as-of",
        default=None,
        metavar="YYYY-MM-DD",
        help="count days waiting up to this date (default: now)",
    )
    add_format_option(p)

    p = add_command(
        sub,
        "services",
        cmd_services_help,
        "Services referenced on calls, and signposting gaps.",
        "workbench services gaps --db data/demo.duckdb",
        store=False,
    )
    inner = p.add_subparsers(dest="services_command", metavar="ACTION")
    q = add_command(
        inner,
        "usage",
        cmd_services_usage,
        "How often each service was referenced.",
        "workbench services usage --by ward --db data/demo.duckdb",
        store=False,
    )
    add_store_options(q, with_actor=False)
    q.add_argument(
        "--by",
        dest="group",
        default="service",
        help=f"comma-separated groups from: {', '.join(services.USAGE_GROUPS)} (default service)",
    )
    _add_place_filters(q)
    add_format_option(q)
    q = add_command(
        inner,
        "gaps",
        cmd_services_gaps,
        "Signposting gaps: needs with no service, wards the map does not cover, unlisted service names.",
        "workbench services gaps --branch Ashcombe --db data/demo.duckdb",
    )
    _add_place_filters(q)
    add_format_option(q)

    p = add_command(
        sub,
        "volunteers",
        cmd_volunteers,
        "Keen members by ward and skill, or suggested matches to needs nearby (member keys only).",
        "workbench volunteers --matches --branch Ashcombe --db data/demo.duckdb",
    )
    _add_place_filters(p)
    p.add_argument("--matches", action="store_true", help="list suggested volunteer matches for needs")
    add_format_option(p)


def _add_place_filters(parser) -> None:
    parser.add_argument("--branch", default=None, help="only this branch")
    parser.add_argument("--ward", default=None, help="only this ward")


def _show(frame: pd.DataFrame, fmt: str, excluded: dict | None = None) -> None:
    print_table(frame, fmt)
    if excluded:
        # Counts only, on stderr, so CSV output stays clean.
        left_out = ", ".join(f"{n} {reason}" for reason, n in excluded.items())
        print(f"Left out by the opt-out register: {left_out}.", file=sys.stderr)


def _rates_as_percent(frame: pd.DataFrame, fmt: str) -> pd.DataFrame:
    if fmt != "table":
        return frame
    out = frame.copy()
    for column in [c for c in out.columns if c.endswith("_rate") or c == "share"]:
        out[column] = out[column].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    return out


def cmd_outreach(args) -> int:
    con = open_store(args, read_only=True)
    try:
        if args.unreached is not None:
            frame = outreach.unreached(con, args.round, args.unreached, branch=args.branch, ward=args.ward)
            _show(frame, args.format, frame.attrs["excluded"])
            return 0
        frame = outreach.summary(con, by=args.group, branch=args.branch, ward=args.ward, round=args.round)
    finally:
        con.close()
    _show(_rates_as_percent(frame, args.format), args.format)
    return 0


QUEUE_COLUMNS = ["member_key", "ward", "categories", "urgency", "days_waiting", "escalated", "score", "state"]


def cmd_needs(args) -> int:
    con = open_store(args, read_only=True)
    try:
        queue, excluded = needs.queue_arrow(
            con, branch=args.branch, ward=args.ward, category=args.category, as_of=args.as_of
        )
    finally:
        con.close()
    # Categories joined in Arrow: a national queue's 50,000 lists never become Python lists.
    joined = pc.fill_null(pc.binary_join(queue.column("categories"), "; "), "")
    queue = queue.set_column(queue.column_names.index("categories"), "categories", joined)
    _show(queue.select(QUEUE_COLUMNS), args.format, excluded)
    return 0


def cmd_services_help(args) -> int:
    print(
        "workbench services: choose an action, usage or gaps, e.g. workbench services gaps", file=sys.stderr
    )
    return 2


def cmd_services_usage(args) -> int:
    con = open_store(args, read_only=True)
    try:
        groups = [g.strip() for g in args.group.split(",") if g.strip()]
        frame = services.usage(con, groups, branch=args.branch, ward=args.ward)
    finally:
        con.close()
    _show(frame, args.format)
    return 0


def cmd_services_gaps(args) -> int:
    con = open_store(args, read_only=True)
    try:
        found = services.gaps(con, branch=args.branch, ward=args.ward)
    finally:
        con.close()
    sections = [
        ("Needs recorded with no service referenced", _rates_as_percent(found.no_service, args.format)),
        ("Wards where a need occurs but no service in the directory covers it", found.uncovered),
        ("Service names not in the directory", found.unlisted),
    ]
    for title, frame in sections:
        if args.format == "csv":
            print(f"# {title}")
        else:
            print(f"\n{title}:")
        print_table(frame, args.format)
    return 0


def cmd_volunteers(args) -> int:
    con = open_store(args, read_only=True)
    try:
        if args.matches:
            frame = volunteers.matches(con, branch=args.branch, ward=args.ward)
            excluded = {
                f"{who}: {reason}": n
                for who, counts in frame.attrs["excluded"].items()
                for reason, n in counts.items()
            }
            _show(frame, args.format, excluded)
            return 0
        keen = volunteers.keen(con, branch=args.branch, ward=args.ward)
    finally:
        con.close()
    _show(volunteers.by_ward(keen), args.format, keen.attrs["excluded"])
    return 0


__all__ = ["register", "add_store_options"]
