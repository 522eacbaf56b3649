"""Report subcommands: `workbench report` (pseudonymised report) and `workbench keys` (release keys)."""

from __future__ import annotations

from pathlib import Path

from workbench import reports
from workbench.cli.common import actor, add_command, add_force_option, open_store
from workbench.privacy import pseudonymise
from workbench.reports import disclosure, ledger


def register(sub) -> None:
    """Add this area's subcommands to the parser."""
    p = add_command(sub, "report", cmd_report,
                    "Build a pseudonymised report (HTML, one CSV per table, manifest.json) under disclosure "
                    "control; with --extract, also a row-level extract if it passes the risk gate.",
                    "workbench report --db data/demo.duckdb --out reports/june --profile public "
                    "--from 2020-06-01 --to 2020-06-30")
    p.add_argument("--out", type=Path, required=True,
                   help="folder to create for the report (must not exist, or be empty)")
    add_force_option(p, "a file, folder or symbolic link")
    p.add_argument("--profile", choices=list(disclosure.PROFILES), default="internal",
                   help="internal: NHS Digital rules (1-7 suppressed, round to 5); public: ONS 10-5")
    p.add_argument("--from", dest="date_from", default=None, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", default=None, help="last day, YYYY-MM-DD")
    p.add_argument("--branch", default=None, help="one branch only")
    p.add_argument("--extract", action="store_true", help="also release a pseudonymised row-level extract")
    p.add_argument("--area", choices=list(reports.AREA_LEVELS), default=None,
                   help="the extract's area: sector (internal default), district (public default), ward, "
                        "branch")
    p.add_argument("--period", choices=list(disclosure.PERIODS), default=None,
                   help="the extract's period: week (internal default), month (public default), quarter")
    p.add_argument("--needs", choices=list(reports.NEEDS_DETAIL), default="categories",
                   help="the extract's needs: each category, or only whether there was any")
    p.add_argument("--no-rounding", action="store_true",
                   help="internal only, and recorded: show unrounded (still perturbed) counts, protected by "
                        "secondary suppression instead of rounding")
    p.add_argument("--allow-overlap", default=None, metavar="REASON",
                   help="let an internal release be a narrow slice of an earlier one (see `workbench "
                        "releases`); the reason is recorded in the ledger")
    p.add_argument("--link-to", default=None, metavar="RELEASE_ID",
                   help="reuse that release's pseudonym key, so the two extracts can be linked")

    add_command(sub, "releases", cmd_releases,
                "List the release ledger: every report released, with its profile, period, branch, rounding, "
                "extract, the store's data version and any overlap approved (and why).",
                "workbench releases --db data/demo.duckdb")

    p = add_command(sub, "keys", cmd_keys,
                    "List the release keys held, or rotate them: retire every release key so no earlier "
                    "extract can be linked or re-created (audited).",
                    "workbench keys rotate --db data/demo.duckdb --by ana")
    p.add_argument("action", choices=["list", "rotate"])


def cmd_report(args) -> int:
    con = open_store(args)
    try:
        result = reports.build(con, args.out, profile=args.profile, date_from=args.date_from,
                               date_to=args.date_to, branch=args.branch, extract=args.extract,
                               actor=actor(args), rounding=not args.no_rounding, area=args.area,
                               period=args.period, needs_detail=args.needs, link_to=args.link_to,
                               allow_overlap=args.allow_overlap, force=args.force)
    finally:
        con.close()
    print(f"Released report {result.release_id} to {result.out_dir} "
          f"({result.manifest['suppressed_cells']} cells suppressed):")
    for path in result.paths:
        print(f"  {path.name}")
    if result.metrics:
        m = result.metrics
        print(f"Extract: {m['records']} records, k-min {m['k_min']}, l-diversity {m['l_min']}, "
              f"highest risk {m['max_risk']:.3f}, average {m['avg_risk']:.3f}.")
    return 0


def cmd_releases(args) -> int:
    con = open_store(args, read_only=True)
    try:
        table = ledger.releases(con)
    finally:
        con.close()
    if table.empty:
        print("(no releases in the ledger)")
        return 0
    print(table.fillna("").to_string(index=False))
    return 0


def cmd_keys(args) -> int:
    con = open_store(args, read_only=args.action == "list")
    try:
        if args.action == "rotate":
            retired = pseudonymise.rotate_release_keys(con, actor=actor(args))
            print(f"Retired {retired} release key{'s' if retired != 1 else ''}; earlier extracts can no "
                  "longer be linked. New releases get fresh keys.")
        else:
            held = pseudonymise.release_keys(con)
            print("\n".join(held) if held else "(no release keys held)")
    finally:
        con.close()
    return 0


__all__ = ["register"]
