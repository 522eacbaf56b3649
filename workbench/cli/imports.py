"""Import subcommands: `workbench import members|calls|services FILE`."""

from __future__ import annotations

import argparse
import sys
from contextlib import closing, nullcontext
from pathlib import Path

from workbench import ingest
from workbench.cli.common import actor, add_command, open_store
from workbench.ingest import oruk, profiles
from workbench.ingest.boundaries import import_boundaries

SHOWN_PROBLEMS = 20
FUNCTIONS = {
    "members": ingest.import_members,
    "calls": ingest.import_calls,
    "services": ingest.import_services,
}
EXAMPLES = {
    "members": "workbench import members exports/members.csv --dry-run",
    "calls": "workbench import calls callhub_call_report.csv --round 'Spring 2020' --mapping survey.toml",
    "services": "workbench import services council-directory/ --by ana",
}
HELP = {
    "members": "Create or update members from a membership export (CSV, XLSX or Parquet).",
    "calls": "Add call outcomes from a phone-banking export; do-not-call outcomes join the opt-out register.",
    "services": "Create or update the community services directory (the community map) from a file, or "
    "from an Open Referral UK folder of tables or its datapackage.json.",
}


def register(sub) -> None:
    """Add `workbench import ...` to the parser."""
    parser = sub.add_parser(
        "import",
        help="Load member lists, call outcomes or services, all or nothing.",
        description="Load an export into the store. One invalid row means nothing is "
        "written, unless --skip-invalid. The format (NationBuilder, CallHub, VAN, Spoke, a council "
        "log, or a plain export) is recognised from the headers; --profiles lists them.",
        epilog=f"Example:\n  {EXAMPLES['calls']}\n  workbench import --profiles",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profiles", action="store_true", help="list the export formats recognised, and what identifies each"
    )
    kinds = parser.add_subparsers(dest="import_kind", metavar="KIND")
    for kind in ingest.KINDS:
        p = add_command(kinds, kind, cmd_import, HELP[kind], EXAMPLES[kind])
        p.add_argument(
            "file",
            type=Path,
            help="the export: .csv, .tsv, .txt, .xls (text), .xlsx, .parquet, or a .zip holding one",
        )
        p.add_argument(
            "--mapping",
            type=Path,
            default=None,
            help='TOML file naming your headers, e.g. [columns] membership_number = "Member Ref"',
        )
        p.add_argument("--sheet", default=None, help="workbook sheet to read (default: the first)")
        p.add_argument("--dry-run", action="store_true", help="check and count everything; write nothing")
        p.add_argument(
            "--skip-invalid",
            action="store_true",
            help="load the valid rows; write the rest, with reasons, to a rejects file (mode 0600)",
        )
        p.add_argument(
            "--rejects",
            type=Path,
            default=None,
            help="where to write every rejected row, as .csv or .xlsx (default: beside FILE, as "
            "NAME.rejects.csv); an existing file there is refused unless --force",
        )
        p.add_argument("--force", action="store_true",
                       help="replace a file or symbolic link already at --rejects (default: refuse)")
        p.add_argument(
            "--profile",
            default=None,
            metavar="NAME",
            help="read the file as this format instead of recognising it (see: workbench import --profiles)",
        )
        if kind == "calls":
            p.add_argument(
                "--round",
                dest="round_name",
                default=None,
                metavar="NAME",
                help="the round for every call (default: the file's round or campaign column, else one "
                "round named from the first and last call dates)",
            )
            p.add_argument(
                "--date",
                dest="call_date",
                default=None,
                metavar="DD/MM/YYYY",
                help="the day the calls were made, for rows with no date (an export such as Spoke's "
                "carries none)",
            )
        p.set_defaults(kind=kind)
    _register_boundaries(kinds)
    parser.set_defaults(handler=lambda args: cmd_profiles() if args.profiles else (parser.print_help(), 2)[1])


def cmd_profiles() -> int:
    """Print the known export formats and what identifies each."""
    for name, title, kinds, identified in profiles.listing():
        print(f"{name:<24}{title}\n{'':<24}imports: {kinds}; recognised by: {identified}")
    return 0


def _register_boundaries(kinds) -> None:
    p = add_command(
        kinds,
        "boundaries",
        cmd_import_boundaries,
        "Load ward boundaries (GeoJSON or a zipped shapefile, e.g. ONS Wards December 2020) for maps; "
        "wards match the store's by code or name, and the unmatched are listed.",
        "workbench import boundaries Wards_December_2020_UK_BGC.geojson --code-field WD20CD",
    )
    p.add_argument("file", type=Path, help="the boundaries: .geojson, .json or .zip (a zipped shapefile)")
    p.add_argument("--name-field", default=None, help="the ward name field (default: found, e.g. WD20NM)")
    p.add_argument("--code-field", default=None, help="the ward code field (default: found, e.g. WD20CD)")
    p.add_argument("--dry-run", action="store_true", help="match and report; write nothing")


def cmd_import_boundaries(args) -> int:
    with closing(open_store(args)) as con:
        result = import_boundaries(con, args.file, code_field=args.code_field, name_field=args.name_field,
                                   dry_run=args.dry_run, actor=actor(args))
    print(result.summary())
    return 0


def cmd_import(args) -> int:
    # The file is read and checked before the store is opened, so a slow or hostile file never
    # holds the store's lock: `workbench info` and the notebooks carry on meanwhile. An Open Referral
    # UK folder (or its datapackage.json) is read table by table inside the import.
    folder = args.kind == "services" and oruk.is_directory(Path(args.file))
    with (nullcontext() if folder else ingest.read(args.file, sheet=args.sheet)) as source, closing(
        open_store(args, into=source.connection if source else None)
    ) as con:
        try:
            result = FUNCTIONS[args.kind](
                con,
                source or args.file,
                mapping=args.mapping,
                sheet=args.sheet,
                dry_run=args.dry_run,
                skip_invalid=args.skip_invalid,
                actor=actor(args),
                rejects=args.rejects,
                progress=None,
                profile=args.profile,
                force_rejects=args.force,
                **(
                    {"round_name": args.round_name, "call_date": args.call_date}
                    if args.kind == "calls"
                    else {}
                ),
            )
        except ingest.ImportRejected as rejected:
            _print_problems(rejected)
            return 1
    print(result.summary())
    return 0


def _print_problems(rejected: ingest.ImportRejected) -> None:
    result = rejected.result
    n = len(result.problems)
    # An Open Referral UK folder's problems are in one of its tables: name it beside the folder.
    tables = set(result.problems["file"]) - {result.file} if "file" in result.problems else set()
    where = f"{result.file}/{tables.pop()}" if len(tables) == 1 else result.file
    print(
        f"workbench: {where}: {n:,} problem{'s' if n != 1 else ''} in {result.rejected:,} of "
        f"{result.rows_read:,} rows, so nothing was imported.",
        file=sys.stderr,
    )
    # One problem a line, whole: as a table, the long texts (a fix listing the accepted labels) were cut.
    for row, column, value, problem, fix in result.problems.head(SHOWN_PROBLEMS)[
            ["row", "column", "value", "problem", "fix"]].itertuples(index=False):
        shown = f' "{value}"' if isinstance(value, str) and value else ""
        print(f"  row {row}, {column}{shown} {str(problem).rstrip('.')}. Fix: {str(fix).rstrip('.')}.",
              file=sys.stderr)
    if n > SHOWN_PROBLEMS:
        print(f"... and {n - SHOWN_PROBLEMS:,} more.", file=sys.stderr)
    print(
        "Fix the file and import it again, or add --skip-invalid to load the valid rows and write the rest "
        "to a rejects file.",
        file=sys.stderr,
    )


__all__ = ["register"]
