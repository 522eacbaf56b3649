"""Load member lists, call outcomes and services directories from messy CSV, Excel or Parquet.

All or nothing: every row is checked first, and one bad row means nothing is written (unless
`skip_invalid`, which loads the good rows and writes the bad ones to a 0600 rejects file). The
same file twice changes nothing (recognised by SHA-256); an overlapping later export adds only
the calls not already held. The heavy work is SQL inside DuckDB; Python touches only each
distinct phone number and membership number once.

Examples:
    >>> result = import_members(con, "members.csv", actor="ana")          # doctest: +SKIP
    >>> result.loaded, result.warnings                                     # doctest: +SKIP
    (2000, [])
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
from tqdm.auto import tqdm

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import calls as ingest_calls
from workbench.ingest import fields as ingest_fields
from workbench.ingest import files as ingest_files
from workbench.ingest import formats, headers, oruk, profiles
from workbench.ingest import members as ingest_members
from workbench.ingest import problems as ingest_problems
from workbench.ingest import services as ingest_services
from workbench.ingest import workbooks as ingest_workbooks
from workbench.privacy import masking, pseudonymise
from workbench.store import db, snapshot_append
from workbench.store.state import transaction

KINDS = ("members", "calls", "services")


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do). `problems` is a DataFrame to display."""

    kind: str
    file: str
    sha256: str
    import_id: str | None = None
    rows_read: int = 0
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0  # members held already, of whom the file said nothing new
    rejected: int = 0
    skipped_duplicate: int = 0
    already_imported: bool = False
    dry_run: bool = False
    members_created: int = 0
    erased_skipped: int = 0
    optouts_recorded: int = 0
    source_optouts: int = 0
    profile: str = "plain"
    profile_title: str = ""
    columns: dict[str, tuple[str, float]] = field(default_factory=dict)  # field -> (header, score)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    problems: pd.DataFrame = field(default_factory=ingest_problems.empty)
    rejects_path: Path | None = None

    def summary(self) -> str:
        """A few lines for a person: what was read, loaded, updated, rejected and why."""
        if self.already_imported:
            return "\n".join(self.warnings)
        verb = "would load" if self.dry_run else "loaded"
        noun = self.kind if self.loaded != 1 else self.kind.rstrip("s")
        lines = [
            f"{self.file}: read as {self.profile_title} (profile {self.profile}; --profile NAME to choose "
            "another).",
            f"{self.file}: read {self.rows_read:,} rows; {verb} {self.loaded:,} new {noun}, "
            f"updated {self.updated:,}, "
            + (f"unchanged {self.unchanged:,}, " if self.unchanged else "")
            + f"rejected {self.rejected:,}"
            + (f", {self.skipped_duplicate:,} already held" if self.skipped_duplicate else "")
            + "."
        ]
        def will(n: int) -> str:
            return "would be" if self.dry_run else ("was" if n == 1 else "were")

        if self.members_created:
            lines.append(
                f"{_count(self.members_created, 'member')} {will(self.members_created)} created from the "
                "call export."
            )
        if self.optouts_recorded:
            lines.append(
                f"{_count(self.optouts_recorded, 'do-not-call outcome')} {will(self.optouts_recorded)} added "
                "to the opt-out register."
            )
        if self.source_optouts:
            lines.append(
                f"{_count(self.source_optouts, 'member')} marked do-not-call in the file "
                f"{will(self.source_optouts)} added to the opt-out register."
            )
        if self.dry_run and self.columns:
            lines.append("Columns used (field <- column, match score out of 100):")
            lines += [f"  {name} <- {_shown_header(h)} ({s:.0f})" for name, (h, s) in self.columns.items()]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.rejects_path:
            lines.append(
                f"Rejected rows, with reasons, are in {self.rejects_path} (readable only by you; "
                "delete it once fixed)."
            )
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class ImportRejected(InputError):
    """The file has invalid rows, so nothing was written. `.result.problems` lists them all."""

    def __init__(self, result: ImportResult):
        self.result = result
        n = len(result.problems)
        more = "+" if n >= ingest_problems.MAX_PROBLEMS else ""  # the report is capped; the count is not
        super().__init__(
            f"{result.file}: {n:,}{more} problem{'s' if n != 1 else ''} in {result.rejected:,} of "
            f"{result.rows_read:,} rows, so nothing was imported.\n"
            f"{ingest_problems.summary(result.problems)}\n"
            "Fix the file and import it again, or use --skip-invalid to load the valid rows and write the "
            "rest to a rejects file."
        )


def import_members(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    actor: str = "unknown",
    rejects: str | Path | None = None,
    progress: bool | None = False,
    profile: str | None = None,
    force_rejects: bool = False,
) -> ImportResult:
    """Create or update members (and their identities) from a membership export.

    Args:
        con: a read-write connection to the store.
        path: the CSV, TSV, XLSX or Parquet file (or a zip holding one); or a `Source` from `read()`,
            read before the store was opened, so a slow or hostile file never holds its lock.
        mapping: a TOML file mapping fields to this file's headers (see workbench.ingest.headers).
        sheet: the workbook sheet to read (default: the first).
        dry_run: check and count everything, write nothing.
        skip_invalid: load the valid rows; write the others, with reasons, to a 0600 rejects file.
        actor: who is importing, for the audit log.
        rejects: where to write every rejected row: a .csv or .xlsx name (default: beside the file,
            NAME.rejects.csv, or NAME.rejects-2.csv and so on if an earlier run left one).
            A file (or symbolic link) already at a `rejects` name given is refused unless `force_rejects`.
        progress: show a progress bar (None: only on a terminal).
        profile: the format to read it as (see ingest.profiles); by default recognised from its headers.

    Returns:
        An ImportResult.

    Raises:
        ImportRejected: invalid rows and no skip_invalid; nothing was written.
        InputError: the file cannot be read or is beyond the limits (see `ingest.limits`), a required
            column is missing, or the rejects name is neither .csv nor .xlsx, or is taken (without
            `force_rejects`).
    """
    return _import(
        "members", con, path, mapping, sheet, dry_run, skip_invalid, actor, rejects, progress,
        profile=profile, force_rejects=force_rejects,
    )


def import_calls(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    actor: str = "unknown",
    rejects: str | Path | None = None,
    progress: bool | None = False,
    profile: str | None = None,
    round_name: str | None = None,
    call_date: dt.date | str | None = None,
    force_rejects: bool = False,
) -> ImportResult:
    """Add the new calls from a call-outcomes export (and create or update the members it carries).

    Do-not-call outcomes go onto the opt-out register (source "call") in the same transaction, and
    so do members the source system marks do-not-call (source "import"). Rows are matched to
    members by membership number, by another id (NationBuilder, VAN, external), or by phone
    number and first name.

    Args:
        round_name: the round for every call (--round); by default the file's round or campaign
            column, else one round named from the first and last call dates.
        call_date: the day of every call whose row has no date (--date), for exports that carry
            none (Spoke's); a date, or text written dd/mm/yyyy or yyyy-mm-dd. A row whose date
            cannot be read keeps its problem.

    Other arguments, result and errors as `import_members`.
    """
    return _import(
        "calls", con, path, mapping, sheet, dry_run, skip_invalid, actor, rejects, progress,
        profile=profile, round_name=round_name, call_date=_call_date(call_date), force_rejects=force_rejects,
    )


def _call_date(value: dt.date | str | None) -> dt.date | None:
    """--date as a date: day first, not in the future. Raises InputError, naming the value."""
    if value is None or isinstance(value, dt.date):
        day = value
    else:
        text = str(value).strip()
        day = None
        for form in ("%d/%m/%Y", "%Y-%m-%d"):
            with contextlib.suppress(ValueError):
                day = dt.datetime.strptime(text, form).date()
        if day is None:
            raise InputError(
                f'--date "{text}" is not a date we can read; write it as dd/mm/yyyy, e.g. 03/04/2020.'
            )
    if day is not None and day > dt.date.today():
        raise InputError(f"--date {day:%d/%m/%Y} is in the future; give the day the calls were made.")
    return day


def import_services(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    actor: str = "unknown",
    rejects: str | Path | None = None,
    progress: bool | None = False,
    profile: str | None = None,
    force_rejects: bool = False,
) -> ImportResult:
    """Create or update the community services directory (the community map).

    `path` may be a services file, or an Open Referral UK directory: its folder of tables or its
    datapackage.json (see `ingest.oruk`); services are then keyed by their ORUK id, and inactive
    or defunct ones are kept but never offered for signposting.

    Arguments, result and errors as `import_members`.
    """
    return _import(
        "services", con, path, mapping, sheet, dry_run, skip_invalid, actor, rejects, progress,
        profile=profile, force_rejects=force_rejects,
    )


PRIOR_IMPORT = """
SELECT import_id, strftime(imported_at, '%d/%m/%Y %H:%M'), rows_read FROM imports
WHERE sha256 = ? AND kind = ? ORDER BY imported_at LIMIT 1
"""


def _import(
    kind, con, path, mapping, sheet, dry_run, skip_invalid, actor, rejects, progress, *, profile=None,
    round_name=None, call_date=None, force_rejects=False,
) -> ImportResult:
    # `path` may be a file already read by `read()`, before the store was opened (see files.read).
    source = path if isinstance(path, ingest_files.Source) else None
    path = source.path if source else Path(path)
    if rejects is not None:  # refuse a rejects name we cannot write, before anything
        ingest_problems.rejects_format(rejects)
        exports.check_target(Path(rejects), force_rejects)
    mapping_data = headers.load_mapping(mapping)
    # An Open Referral UK folder of tables, rather than one file.
    directory = source is None and kind == "services" and oruk.is_directory(path)
    if source is None and not directory and not path.is_file():
        raise InputError(f"No file at {path}. Check the path.")
    if not directory:
        ingest_files.file_format(path)
    digest = (
        source.sha256 if source
        else oruk.sha256(path, mapping_data) if directory
        else ingest_files.sha256(path)
    )
    if kind != "services":  # a file of people: keyed, so its digest cannot be matched to a guess
        digest = pseudonymise.file_digest(con, digest)
    result = ImportResult(kind, path.name, digest, dry_run=dry_run)
    prior = con.execute(PRIOR_IMPORT, [result.sha256, kind]).fetchone()
    if prior:
        result.already_imported, result.import_id, result.skipped_duplicate = True, prior[0], prior[2]
        result.warnings.append(
            f"{path.name} was already imported on {prior[1]} (import {prior[0]}); nothing changed."
        )
        return result
    bar = tqdm(
        total=4, desc=f"import {kind}", unit="step", disable=True if progress is False else None, leave=False
    )
    try:
        with db.memory_for_import(con, 0 if directory else path.stat().st_size):
            try:
                if directory:
                    staged = None  # staged table by table in `_checked_import`
                elif source is not None and source.connection is con:
                    staged = source.staged
                else:  # read here, holding whatever lock `con` holds; or a source read for another connection
                    staged = ingest_files.stage(con, path, sheet=source.sheet if source else sheet)
                return _checked_import(
                    kind, con, path, staged, mapping_data, skip_invalid, actor, rejects, progress, result,
                    bar, profile=profile, round_name=round_name, call_date=call_date,
                    force_rejects=force_rejects,
                )
            finally:
                # Before the memory limit falls back: DuckDB would first write the import's working
                # tables to disk to fit under it (2.7 s for a union's calls file).
                _drop_temp_tables(con)
    finally:
        bar.close()


def _default_rejects(path: Path) -> Path:
    """NAME.rejects.csv beside the file, or NAME.rejects-2.csv, ... if an earlier run left one: a
    default name never replaces a file (the safe writer would refuse it, and the user named none)."""
    for n in range(1, 1000):
        target = path.with_name(f"{path.stem}.rejects{'' if n == 1 else f'-{n}'}.csv")
        if not target.exists() and not target.is_symlink():
            return target
    raise InputError(f"Too many rejects files beside {path.name}; name one with --rejects.")


def _checked_import(
    kind, con, path, staged, mapping_data, skip_invalid, actor, rejects, progress, result, bar, *,
    profile=None, round_name=None, call_date=None, force_rejects=False,
):
    shown_name = path.name  # the file row problems name
    if staged is None:  # an Open Referral UK folder: its tables are staged as one
        directory = oruk.stage(con, path, mapping_data)
        staged, profile = directory.staged, "open_referral_uk"
        result.warnings += _unmapped_terms(directory.unmapped_terms)
        shown_name = directory.services_file  # its rows are services.csv's
    if kind == "calls":  # a file of one row per answer becomes one row per contact
        staged, profile, widened = formats.widen(con, kind, staged, profile)
        result.notes += widened
    result.rows_read = staged.rows
    result.warnings += staged.warnings
    bar.update()
    # With --date, a file need not have a date column.
    optional = ("called_at",) if call_date is not None else ()
    try:
        understood = _match(con, kind, staged, mapping_data, path.name, profile, optional)
    except InputError as error:
        # The wrong sheet is the likeliest reason none of its columns fit: say which was read.
        sheets = [w for w in staged.warnings if w.startswith(ingest_workbooks.SHEET_NOTE)]
        if sheets:
            raise InputError(f"{error} {' '.join(sheets)}") from None
        raise
    matched = understood.match
    result.profile, result.profile_title = understood.profile.name, understood.profile.title
    result.columns = {f: (h, matched.scores.get(f, 100.0)) for f, h in matched.columns.items()}
    result.notes += understood.notes
    result.warnings += matched.weak
    result.extra_columns = matched.extra
    if matched.extra:
        result.warnings.append(
            f"{len(matched.extra)} column{'s' if len(matched.extra) > 1 else ''} not used: "
            + ", ".join(_shown_header(h) for h in matched.extra[:12])
            + "."
        )
    checks = _stage_rows(kind, con, staged, understood)
    if kind == "calls":
        notes, warnings = formats.prepare_calls(con, "ingest_stage", understood, round_name, call_date)
        result.notes, result.warnings = result.notes + notes, result.warnings + warnings
    elif kind == "members":
        result.warnings += formats.prepare_dates(con, "ingest_stage", understood)
    bar.update()
    if ingest_problems.has_any(con, "ingest_stage", checks):
        result.problems = ingest_problems.collect(
            con, "ingest_stage", staged.table, checks, matched.columns, shown_name
        )
        # Counted in full: the problem report is capped, the count and the rejects file never are.
        result.rejected = ingest_problems.count_rejected(con, "ingest_stage", checks)
        if not skip_invalid:
            raise ImportRejected(result)
    valid = "(" + " AND ".join(f"p__{c.field} IS NULL" for c in checks) + ")"
    result.warnings += _formula_warning(con, matched.columns)
    if result.rejected and not result.dry_run:
        # Written before the store changes, so a rejects file that cannot be written stops the import.
        target = Path(rejects) if rejects else _default_rejects(path)
        result.rejects_path = ingest_problems.write_rejects(
            con, "ingest_stage", staged.table, staged.headers, checks, matched.columns, target,
            force=force_rejects and rejects is not None,
        )
    # The file as read is needed only to show problems and write rejects, both done: freeing it
    # before the write keeps a national import's peak within its 2 GB.
    con.execute(f"DROP TABLE IF EXISTS temp.{ingest_files.quote(staged.table)}")
    try:
        _write(kind, con, valid, actor, result, progress, matched.columns)
    except BaseException:
        if result.rejects_path:
            result.rejects_path.unlink(missing_ok=True)  # the import did not happen
        raise
    bar.update()
    bar.update()
    return result


def _unmapped_terms(terms: list[str]) -> list[str]:
    if not terms:
        return []
    shown = ", ".join(f'"{t[:40]}"' for t in terms[:10]) + (", …" if len(terms) > 10 else "")
    return [
        f"{len(terms):,} taxonomy term{'s' if len(terms) > 1 else ''} matched no need category, so "
        f"services with only those were filed under other: {shown}. Map them with a mapping file's "
        '[categories] table ("Term name" = "food").'
    ]


def _match(
    con, kind: str, staged: ingest_files.SourceFile, mapping_data: dict, name: str, profile: str | None,
    optional: tuple[str, ...] = (),
) -> formats.Understanding:
    if staged.rows == 0:
        raise InputError(f"{name} has a header row but no data rows: there is nothing to import.")
    guess = headers.guess_kind(staged.headers)
    if guess == "calls" and kind != "calls":
        raise InputError(
            f"{name} looks like a call-outcomes export (it has outcome and date columns), not a "
            f"{kind} file. Import it with: workbench import calls {name}"
        )
    return formats.understand(con, kind, staged, mapping_data, name, profile, optional)


def _shown_header(header: str) -> str:
    return f'"{formats.short_header(header)}"'


def _stage_rows(kind, con, staged, understood: formats.Understanding) -> list[ingest_problems.Check]:
    serials, date1904 = staged.fmt == "xlsx", staged.date1904
    columns, mapping_data, profile = understood.columns, understood.mapping, understood.profile
    by_number = understood.identity() == "membership_number"
    member_rules = functools.partial(
        ingest_fields.member_rules, serials, month_first=understood.month_first("joined_on"),
        date1904=date1904,
    )
    rules = {
        "members": member_rules,
        "calls": lambda: (
            ingest_fields.call_rules(
                serials, mapping_data, has_round="round" in columns,
                month_first=understood.month_first("called_at"), date1904=date1904,
            )
            + [
                r
                for r in member_rules()
                if r.field not in ("membership_number", "phone")
            ]
            + [
                # The phone's problem column carries "no member has this phone and first name".
                ingest_fields.Rule("phone", problem="CAST(NULL AS VARCHAR)", fix=_MEMBER_FIX),
                ingest_fields.Rule(
                    "membership_number",
                    value=ingest_fields.membership_number_value(),
                    # Without it, a blank number is filled in from the member's other ids.
                    problem=ingest_fields.membership_number_problem(
                        "is blank; every call needs the member''s membership number" if by_number else None
                    ),
                    fix=ingest_fields.MEMBERSHIP_NUMBER_FIX if by_number else _MEMBER_FIX,
                ),
            ]
        ),
        "services": ingest_fields.service_rules,
    }[kind]()
    checks = ingest_fields.stage(
        con, staged.table, "ingest_stage", rules, columns, nul_free=staged.nul_free,
        strip_apostrophe=profile.strip_apostrophe,
    )
    if kind == "members":
        _mark_duplicate_members(con)
    elif kind == "calls":
        ingest_calls.mark_duplicate_ids(con, "ingest_stage")
    else:
        ingest_services.mark_duplicate_ids(con, "ingest_stage")
    return checks


_MEMBER_FIX = "add the member's membership number (or their id from the member list), or remove the row"

DUPLICATE_MEMBERS = """
UPDATE temp.ingest_stage_rows s
SET p__membership_number = 'is the same membership number as row ' || d.first_row || '; list each member once'
FROM (SELECT membership_number, min(row) AS first_row FROM temp.ingest_stage
      WHERE membership_number IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d
WHERE s.membership_number = d.membership_number AND s.row > d.first_row AND s.p__membership_number IS NULL
"""


def _mark_duplicate_members(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DUPLICATE_MEMBERS)


FORMULA_CELLS = "SELECT count(*) FROM temp.ingest_stage WHERE {any}"
FORMULA_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "address",
    "notes",
    "caller",
    "name",
    "contact",
    "ward",
    "branch",
    "round",
)


# = and @, and every character a spreadsheet may read as them (full-width ＝ and ＠, small ﹦ and ﹫,
# super- and subscript =): text that starts with one is a formula to some spreadsheet. (+ and - also
# start numbers and phone numbers, so they are not counted, though exports neutralise them too.)
FORMULA_LEADS = ("=", "@", "\u207c", "\u208c", "\ufe66", "\ufe6b", "\uff1d", "\uff20")


def _formula_warning(con: duckdb.DuckDBPyConnection, columns: dict[str, str]) -> list[str]:
    fields = [f for f in FORMULA_FIELDS if f in columns]
    if not fields:
        return []
    # The text is trimmed already. starts_with compares bytes: a third of the time of left(), which
    # decodes a character, and a fraction of a regular expression's.
    cond = " OR ".join(f"starts_with(t__{f}, '{lead}')" for f in fields for lead in FORMULA_LEADS)
    n = con.execute(FORMULA_CELLS.format(any=cond)).fetchone()[0]
    return (
        [
            f"{n:,} {'rows hold' if n > 1 else 'row holds'} text starting with = or @ (or a character "
            "read as one, such as ＝), which a spreadsheet could run as a formula. It was stored as plain "
            "text; the workbench's exports neutralise it."
        ]
        if n
        else []
    )


def _write(kind, con, valid, actor, result: ImportResult, progress, columns: dict[str, str]) -> None:
    result.import_id = f"imp{result.sha256[:8]}{uuid.uuid4().hex[:8]}"
    # Calls are made ready in temporary tables before the transaction opens (`ingest.calls.stage`).
    staged = _stage_calls(con, valid, result, progress, columns) if kind == "calls" else None
    # A dry run does everything, to count it exactly, then undoes it.
    with transaction(con, keep=not result.dry_run):
        if staged is not None:
            _write_calls(con, valid, actor, result, columns, staged)
        else:
            {"members": _write_members, "services": _write_services}[kind](
                con, valid, actor, result, progress, columns
            )
        _record(con, actor, result)
    if staged is not None and result.loaded and not result.dry_run:
        # Most calls imports only add calls: the analysis copy kept beside the store is brought up to
        # date now, so the next report need not rebuild it (it checks that nothing else changed).
        snapshot_append.calls_appended(con, result.import_id, result.loaded)


def _write_members(con, valid, actor, result: ImportResult, progress, columns) -> None:
    ingest_members.register_keys(con, "ingest_stage", valid)
    ingest_members.gather(con, "ingest_stage", valid, progress=progress)
    counts = ingest_members.write(con, "ingest_stage", valid)
    result.loaded, result.updated, result.unchanged, result.erased_skipped = (
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.erased_skipped,
    )
    _member_warnings(counts, result)
    if "do_not_call" in columns:
        result.source_optouts = formats.source_optouts(
            con, "ingest_stage", valid, actor=actor, sha256=result.sha256
        )


def _member_warnings(counts: ingest_members.MemberCounts, result: ImportResult) -> None:
    if counts.phones_unreadable:
        rows = ", ".join(str(r) for r in counts.phone_rows)
        header = result.columns.get("phone", ("",))[0]
        column = f"column {_shown_header(header)}, " if header else ""
        result.warnings.append(
            f"{counts.phones_unreadable:,} phone number{'s' if counts.phones_unreadable > 1 else ''}"
            f" could not be read as a phone number ({column}rows {rows}"
            f"{', …' if counts.phones_unreadable > len(counts.phone_rows) else ''}); "
            "those members were loaded without a phone (one already held keeps the phone on record). "
            "A number a spreadsheet shows as 7.70E+09 has "
            "lost digits: format the column as text and export it again."
        )
    if counts.erased_skipped:
        result.warnings.append(
            f"{counts.erased_skipped:,} member{'s' if counts.erased_skipped > 1 else ''} in the "
            "file were erased earlier; their details were not restored."
        )


def _unmatched_numbers(con, created: int, dry_run: bool) -> list[str]:
    """A warning when most of a calls file's membership numbers match no member held.

    A calls file may bring members the member list lacks, but when most of its numbers are new to a
    store that holds members, they are more likely written differently there (a prefix, leading zeros
    dropped), and each such call now belongs to a new, empty member. Counted, never quoted: a
    membership number identifies a person.
    """
    if not created:
        return []
    numbers = con.execute(ingest_members.FILE_NUMBERS).fetchone()[0]
    held = con.execute("SELECT count(*) FROM members").fetchone()[0] - created
    if not held or created * 2 <= numbers:
        return []
    made = "would be made" if dry_run else ("was made" if created == 1 else "were made")
    return [
        f"{created:,} of the {numbers:,} membership numbers in this file match no member held ({held:,} "
        f"member{'s' if held != 1 else ''} held), so {'it' if created == 1 else 'they'} {made} new "
        "members, with their calls. If this file writes membership numbers differently from your member "
        "list (a prefix, spaces, leading zeros dropped), correct it before importing: once imported, "
        "those calls belong to the new members, not to the people they were made to."
    ]


def _stage_calls(con, valid, result: ImportResult, progress, columns) -> ingest_calls.StagedCalls:
    """Everything of a calls import that only reads the store, in temporary tables, before the write
    transaction (`ingest.calls.stage`); a failure here has written nothing."""
    ingest_members.register_keys(con, "ingest_stage", valid)
    # Rows matched by another id or by phone and first name belong to members already held, whose
    # details came from their own member list: nothing to gather from the call export (which saves
    # sorting every row by member, ~10 s on 400,000 CallHub rows).
    matched = "membership_number" not in columns
    if not matched and set(columns) & (set(headers.MEMBER_FIELDS) - {"membership_number"}):
        ingest_members.gather(
            con, "ingest_stage", valid, latest="called_at DESC, row DESC", progress=progress
        )
    else:
        ingest_members.gather_numbers_only(con)
    return ingest_calls.stage(
        con, "ingest_stage", valid, has_call_ids="call_id" in columns,
        # A file of survey answers (VAN's) completes the calls its contact history brought in.
        answers_for_held=bool(profiles.BY_NAME[result.profile].long_answers),
    )


def _write_calls(con, valid, actor, result: ImportResult, columns, staged: ingest_calls.StagedCalls) -> None:
    members = ingest_members.write(con, "ingest_stage", valid)
    result.members_created = members.created
    _member_warnings(
        ingest_members.MemberCounts(0, 0, 0, members.phones_unreadable, members.phone_rows), result
    )
    if "membership_number" in columns:
        result.warnings += _unmatched_numbers(con, members.created, result.dry_run)
    counts = ingest_calls.write(con, staged, result.import_id, actor)
    result.loaded, result.skipped_duplicate = counts.loaded, counts.already_held
    result.updated = counts.answered_held
    if counts.answered_held:
        result.notes.append(
            f"{counts.answered_held:,} contact{'s' if counts.answered_held > 1 else ''} matched a call "
            "already held (same member, day and caller): the answers were added to that call, filling "
            "only what it did not yet record."
        )
    result.erased_skipped, result.optouts_recorded = counts.erased_skipped, counts.optouts_recorded
    if "do_not_call" in columns:
        result.source_optouts = formats.source_optouts(
            con, "ingest_stage", valid, actor=actor, sha256=result.sha256
        )
    if counts.erased_skipped:
        result.warnings.append(
            f"{counts.erased_skipped:,} call{'s' if counts.erased_skipped > 1 else ''} belong to "
            "members erased earlier; they were not loaded."
        )
    if counts.unlisted_count:
        # Typed-in names can hold a person's name or number: masked before they are shown.
        names = ", ".join(f'"{n[:40]}"' for n in masking.mask(con, counts.unlisted_services))
        result.warnings.append(
            f"{counts.unlisted_count:,} service name{'s' if counts.unlisted_count > 1 else ''} "
            f"referenced on calls are not in the services directory (kept as unlisted): {names}"
            f"{', …' if counts.unlisted_count > len(counts.unlisted_services) else ''}. "
            "Add them to the community map with: workbench import services FILE."
        )


def _write_services(con, valid, actor, result: ImportResult, progress, columns) -> None:
    counts = ingest_services.write(con, "ingest_stage", valid)
    result.loaded, result.updated = counts.created, counts.updated
    if counts.uncategorised:
        result.warnings.append(
            f"{counts.uncategorised:,} service{'s' if counts.uncategorised > 1 else ''} had no "
            "category; filed under other."
        )
    if counts.relinked:
        result.warnings.append(f"{counts.relinked:,} earlier call references now match a listed service.")
    if counts.same_name:
        result.warnings.append(
            f"{len(counts.same_name):,} new service{'s have' if len(counts.same_name) > 1 else ' has'} the "
            "name of an active service already held under another id: "
            f"{_first_five(counts.same_name, 60)}. Both are offered to callers now. If they are the same "
            "service, retire the older entry: import a services file listing its id and name with status "
            "inactive."
        )
    if counts.nowhere:
        shown = _first_five(counts.unknown_areas, 40)
        some, they = ("services name", "they are") if counts.nowhere > 1 else ("service names", "it is")
        result.warnings.append(
            f"{counts.nowhere:,} active {some} only areas that are no ward of the members ({shown}), "
            f"so {they} offered to callers in no ward. List the wards each serves in its areas (as the "
            "members file names them), or leave areas empty for a service open to every ward."
        )
    # A council's directory lists all of its services: one it no longer lists was removed upstream.
    if counts.not_listed and result.profile == "open_referral_uk":
        result.warnings.append(
            f"{counts.not_listed:,} active service{'s' if counts.not_listed > 1 else ''} in the store "
            f"{'are' if counts.not_listed > 1 else 'is'} not in this directory (removed from it since an "
            "earlier import, or from another file); still offered to callers. To retire one, import a "
            "services file listing its id and name with status inactive."
        )


def _first_five(names: list[str], width: int) -> str:
    """Names for a warning: the first five, quoted and cut to `width`, then how many more."""
    shown = ", ".join(f'"{name[:width]}"' for name in names[:5])
    return shown + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")


INSERT_IMPORT = "INSERT INTO imports VALUES (?, ?, ?, ?, now(), ?, ?, ?, ?, ?)"


def _record(con: duckdb.DuckDBPyConnection, actor: str, result: ImportResult) -> None:
    from workbench import privacy  # the audit log; imported late like the opt-out register

    con.execute(
        INSERT_IMPORT,
        [
            result.import_id,
            result.kind,
            result.file,
            result.sha256,
            actor,
            result.rows_read,
            result.loaded,
            result.updated,
            result.rejected,
        ],
    )
    privacy.audit(
        con,
        "import",
        actor=actor,
        object_id=result.import_id,
        counts={
            "kind": result.kind,
            "sha256": result.sha256,
            "rows_read": result.rows_read,
            "loaded": result.loaded,
            "updated": result.updated,
            "rejected": result.rejected,
            "already_held": result.skipped_duplicate,
            "members_created": result.members_created,
            "erased_skipped": result.erased_skipped,
            "optouts_recorded": result.optouts_recorded,
            "source_optouts": result.source_optouts,
            "profile": result.profile,
        },
    )


TEMP_VIEWS = "SELECT view_name FROM duckdb_views() WHERE temporary AND view_name LIKE 'ingest%'"
TEMP_TABLES = "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'ingest%'"


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    for (name,) in con.execute(TEMP_VIEWS).fetchall():  # views first: they read the tables
        con.execute(f"DROP VIEW IF EXISTS temp.{ingest_files.quote(name)}")
    for (name,) in con.execute(TEMP_TABLES).fetchall():
        con.execute(f"DROP TABLE IF EXISTS temp.{ingest_files.quote(name)}")


read = ingest_files.read
Source = ingest_files.Source

__all__ = [
    "ImportResult",
    "ImportRejected",
    "Source",
    "read",
    "import_members",
    "import_calls",
    "import_services",
    "KINDS",
]
