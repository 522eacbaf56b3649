"""Pseudonymised reports: tables, charts and an optional row-level extract, released only when safe.

`build` runs in this order, so a failure at any step leaves nothing behind:

1. check the inputs (branch, dates, an empty period, the output folder);
2. compute every table from the analysis library and put it through disclosure control;
3. for `extract=True`, generalise the row-level extract and run the risk gate (blocked: audited, stop);
4. write every file into a private staging folder beside the output folder;
5. scan every file written for phone numbers, emails, full postcodes, and any name, membership
   number, caller id or note held in the store (found: delete the staging folder, audit, stop);
6. rename the staging folder to the output folder (one atomic step) and audit the release.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import duckdb
import pandas as pd

from workbench import exports, pages
from workbench.analysis import maps, needs, outreach
from workbench.errors import DisclosureError, InputError
from workbench.privacy import pseudonymise
from workbench.reports import cellkey, disclosure, ledger, page, risk
from workbench.scoring import age_band_sql
from workbench.store import record_keys, snapshot
from workbench.store.audit import audit
from workbench.store.filters import check_filters, where
from workbench.store.state import fingerprint, transaction
from workbench.vocabulary import NEED_CATEGORIES, OUTCOMES, URGENCIES

AREA_LEVELS = ("sector", "district", "ward", "branch")   # finest to coarsest
NEEDS_DETAIL = ("categories", "any")
EXTRACT_FILE = "extract.csv"
MANIFEST_FILE = "manifest.json"
HTML_FILE = "report.html"


@dataclass(frozen=True)
class Table:
    """One published table: protected counts ready to show, and how it was made."""

    name: str
    title: str
    description: str
    frame: pd.DataFrame          # protected: Int64 counts with <NA> where suppressed
    chart: tuple[str, str, list[str]] | None = None   # (kind, category column, value columns)
    map_column: str | None = None   # a ward table's column drawn as a ward map (its published cells)

    @property
    def suppressed_cells(self) -> int:
        return int(self.frame.select_dtypes("Int64").isna().sum().sum())


@dataclass(frozen=True)
class ReportResult:
    """What a build released (or, with released False, what it would have)."""

    release_id: str
    out_dir: Path
    paths: tuple[Path, ...]
    released: bool
    metrics: dict | None = None
    manifest: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Options:
    """The validated parameters of one build, as written to the manifest."""

    profile: disclosure.Profile
    date_from: str | None
    date_to: str | None
    branch: str | None
    extract: bool
    area: str
    period: str
    needs: str
    link_to: str | None
    as_of: datetime
    # Results several tables share (the branch summary), computed once per build.
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def extract_settings(self) -> dict | None:
        if not self.extract:
            return None
        return {"area": self.area, "period": self.period, "needs": self.needs, "linked_to": self.link_to}

    def filters(self) -> dict:
        return {k: v for k, v in (("branch", self.branch), ("date_from", self.date_from),
                                  ("date_to", self.date_to)) if v is not None}

    def as_dict(self) -> dict:
        return {"profile": self.profile.name, "rounding": self.profile.rounding, "date_from": self.date_from,
                "date_to": self.date_to, "branch": self.branch, "extract": self.extract,
                "extract_area": self.area if self.extract else None,
                "extract_period": self.period if self.extract else None,
                "extract_needs": self.needs if self.extract else None, "linked_to": self.link_to,
                "as_of": self.as_of.isoformat(timespec="minutes")}


def build(con: duckdb.DuckDBPyConnection, out_dir: str | Path, *, profile: str = "internal",
          date_from: str | None = None, date_to: str | None = None, branch: str | None = None,
          extract: bool = False, actor: str, rounding: bool = True, area: str | None = None,
          period: str | None = None, needs_detail: str = "categories", link_to: str | None = None,
          as_of: datetime | str | None = None, allow_overlap: str | None = None,
          force: bool = False) -> ReportResult:
    """Build, check and release a pseudonymised report into `out_dir` (which must not exist yet).

    Args:
        con: a read-write connection (the release key and the audit entry are written).
        out_dir: the folder to create; report.html, one CSV per table, manifest.json (and extract.csv).
        profile: "internal" (NHS Digital rules) or "public" (ONS 10-5).
        date_from, date_to: YYYY-MM-DD, inclusive.
        branch: one branch only.
        extract: also release a row-level pseudonymised extract, if it passes the risk gate.
        actor: who is releasing it, for the audit log.
        rounding: False shows unrounded (still perturbed) counts, protected by secondary suppression
            instead; internal only, recorded, and never over a scope a public release covers.
        area, period: the extract's generalisation: area sector|district|ward|branch (default by
            profile: sector internal, district public); period week|month|quarter (week / month).
        needs_detail: "categories" (each need listed) or "any" (yes/no) in the extract.
        link_to: reuse that release's pseudonym key so the two extracts can be linked.
        as_of: when "waiting" is measured to (default: the start of the day after the scope's last
            call, or of today if sooner: the same data gives the same figures whenever it is released).
        allow_overlap: the reason an internal release may be a narrow slice of an earlier one
            (see `ledger`); recorded with the release.
        force: replace what is at `out_dir` (a folder with files, a file or a symlink), once the new
            report is whole; without it only a missing or empty folder is accepted.

    Returns:
        ReportResult with the paths released, the risk metrics (extract only) and the manifest.

    Raises:
        InputError: an unknown branch, a date that is not a date, date_from after date_to, a period
            with no calls, an output folder that already holds files, or an unknown option.
        DisclosureError: the release ledger, the risk gate or the release scan blocked the release;
            nothing was written.
    """
    before = fingerprint(con)
    options = _options(con, profile, rounding, date_from, date_to, branch, extract, area, period,
                       needs_detail, link_to, as_of)
    try:
        out = _check_out_dir(out_dir, force)
        release_id = new_release_id()
        options.cache["ledger"] = admit(con, options, release_id, actor=actor, allow_overlap=allow_overlap)
        tables = report_tables(con, options)
    finally:
        release_record_keys(con, options)
    rows, metrics = (None, None)
    if options.extract:
        rows, metrics = _gated_extract(con, options, release_id, actor)
    result = _release(con, out, release_id, options, tables, rows, metrics, actor, force=force)
    # A release writes its ledger entry, keys and audit entry, never analysis data: the next process
    # may open the kept snapshot without checking the data again.
    snapshot.carry_over(con, before, let_go=True)
    return result


@dataclass(frozen=True)
class Preview:
    """What a report would hold, protected, before anything is written or audited."""

    tables: list[Table]
    metrics: risk.RiskMetrics | None  # the risk gate's figures, for an extract only
    options: Options


def preview(con: duckdb.DuckDBPyConnection, *, profile: str = "internal", date_from: str | None = None,
            date_to: str | None = None, branch: str | None = None, extract: bool = False,
            rounding: bool = True, area: str | None = None, period: str | None = None,
            needs_detail: str = "categories", as_of: datetime | str | None = None) -> Preview:
    """The protected tables (and an extract's risk metrics) that `build` would release; writes nothing.

    Takes the same options as `build`, checked the same way; a read-only connection will do.

    Raises:
        InputError: as for `build`.
    """
    options = _options(con, profile, rounding, date_from, date_to, branch, extract, area, period,
                       needs_detail, None, as_of)
    metrics = None
    if options.extract:
        prof = options.profile
        metrics = risk.assess(extract_rows(con, options), k=prof.threshold, l=prof.l_min)
    try:
        return Preview(report_tables(con, options), metrics, options)
    finally:
        release_record_keys(con, options)


def scope(con: duckdb.DuckDBPyConnection, *, profile: str = "internal", date_from: str | None = None,
          date_to: str | None = None, branch: str | None = None, rounding: bool = True) -> Options:
    """The checked options of a tables-only release over one scope (for `admit` and single tables).

    Raises:
        InputError: as for `build`.
    """
    return _options(con, profile, rounding, date_from, date_to, branch, False, None, None, "categories", None,
                    None)


def new_release_id() -> str:
    """A release id such as "20200612-kqzfpw": the date, then random letters (no long digit runs,
    which the audit log would take for a phone number)."""
    letters = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz") for _ in range(6))
    return f"{datetime.now(UTC):%Y%m%d}-{letters}"


# -- inputs ------------------------------------------------------------------------------------------


def _options(con, profile, rounding, date_from, date_to, branch, extract, area, period, needs_detail, link_to,
             as_of) -> Options:
    if not rounding and profile == "public":
        raise InputError("--no-rounding is for internal releases only; a public release is always rounded. "
                         "Leave out --no-rounding, or use --profile internal.")
    prof = disclosure.profile(profile, rounding=rounding)
    chosen = check_filters(con, branch=branch, date_from=date_from, date_to=date_to)
    start, end = chosen.get("date_from"), chosen.get("date_to")
    if start and end and start > end:
        raise InputError(f"--from {start} is later than --to {end}; swap them, or widen the period.")
    area = area or prof.area
    period = period or prof.period
    _check_choice("area", area, AREA_LEVELS)
    _check_choice("period", period, disclosure.PERIODS)
    _check_choice("needs detail", needs_detail, NEEDS_DETAIL)
    when = _as_of(con, as_of, start, end, chosen.get("branch"))
    options = Options(prof, start, end, chosen.get("branch"), bool(extract), area, period, needs_detail,
                      link_to, when)
    _check_not_empty(con, options)
    return options


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f'Unknown {name} "{value}". Expected one of: {", ".join(allowed)}.')


def _as_of(con, as_of, start: str | None, end: str | None, branch: str | None) -> datetime:
    """The moment the waiting table is counted to: `as_of` if given, else the start of the day after
    the scope's last call, or the start of today if that is sooner.

    Never "now" to the second, nor the end of a window padded with days without calls: a release made
    again on the same data must show the same figures, or the people whose wait crossed a bucket's edge
    in between would be the cells that moved (and the ledger records this moment, to compare).
    """
    if as_of is not None:
        return needs.reference_time(con, as_of)
    today = datetime.combine(needs.reference_time(con).date(), datetime.min.time())
    scope = {k: v for k, v in (("branch", branch), ("date_from", start), ("date_to", end)) if v is not None}
    body, params = where(scope, members="c")
    with snapshot.get(con).cursor() as cursor:
        last = cursor.execute(LAST_CALL_QUERY.format(where=body), params).fetchone()[0]
    if last is None:
        return today
    return min(today, datetime.combine(last + timedelta(days=1), datetime.min.time()))


LAST_CALL_QUERY = "SELECT max(c.called_at)::DATE FROM calls c WHERE c.known AND {where}"


# Every (ward, branch) pair of the geography. Ward names repeat across councils ("Central", "Abbey"),
# so a ward is always counted within its branch: keyed by the pair, never by its name alone.
WARD_BRANCH_QUERY = "SELECT DISTINCT ward, branch FROM members WHERE ward IS NOT NULL"
# A ward's branch in the key queries: calls of members with no ward are one "unknown" row, as in
# the summary.
KEY_BRANCH = "CASE WHEN {a}.ward IS NULL THEN 'unknown' ELSE {a}.branch END AS branch"

# Cell keys are computed on the analysis snapshot, like the counts they go with: its calls carry an
# integer member id (`mid`) and the member's branch and ward, so no query joins members or groups by
# the 16-character member_key. Each member's record key is looked up by `mid` in `record_keys`,
# registered on the build's own cursor of the snapshot (`keyed_cursor`).

# The record key of every member the snapshot knows, by mid: one SHA-256 per member, once per snapshot.
# (A member_key that calls hold but members does not gets its key too, so a table that counts such
# calls, the period table with no branch, keys them as it counts them.)
RECORD_KEYS_QUERY = "SELECT mid, {record_key} AS rk FROM members"

# The cell keys of the ward summary's counts: per member first (attempts and outcomes count with the
# member's record key once per call), then per ward. Its scope is the summary's own.
WARD_KEYS_QUERY = """
WITH per_member AS (
    SELECT c.mid, any_value(c.branch) AS branch, any_value(c.ward) AS ward, count(*) AS attempts,
           bool_or(c.outcome = 'answered') AS reached, {outcome_counts}
    FROM calls c
    WHERE c.known AND {where}
    GROUP BY c.mid
)
SELECT {branch}, coalesce(p.ward, 'unknown') AS ward, sum(p.attempts * r.rk)::BIGINT AS attempts_cellkey,
       sum(r.rk)::BIGINT AS members_called_cellkey,
       coalesce(sum(r.rk) FILTER (WHERE p.reached), 0)::BIGINT AS reached_cellkey, {outcome_keys}
FROM per_member p JOIN record_keys r USING (mid) GROUP BY ALL
"""

# The same keys in one pass over the calls, for a scope that keeps all of a member's calls or none
# (no window): the snapshot's "first call" bits mark one call per member, and one answered call per
# member, so no grouping by member is needed (as in outreach.summary). The calls are summed by
# (ward, outcome, first bits) first, and those few hundred rows spread into columns: thirteen
# filtered sums over 2M calls took three times as long (national: 230 -> 80 ms).
FAST_WARD_KEYS_QUERY = """
WITH parts AS (
    SELECT c.branch, c.ward, c.outcome, c.firsts & {marks} AS firsts, sum(r.rk) AS rk
    FROM calls c JOIN record_keys r USING (mid)
    WHERE c.known AND {where}
    GROUP BY ALL
)
SELECT {branch}, coalesce(p.ward, 'unknown') AS ward, sum(p.rk)::BIGINT AS attempts_cellkey,
       coalesce(sum(p.rk) FILTER (WHERE p.firsts & {first} <> 0), 0)::BIGINT AS members_called_cellkey,
       coalesce(sum(p.rk) FILTER (WHERE p.firsts & {first_answered} <> 0), 0)::BIGINT AS reached_cellkey,
       {outcome_keys}
FROM parts p
GROUP BY ALL
"""


def _whole_members(options: Options) -> bool:
    """Whether the scope keeps all of a member's calls or none (a branch may be set, a window not)."""
    return options.date_from is None and options.date_to is None


def keyed_cursor(con, options: Options) -> duckdb.DuckDBPyConnection:
    """The build's own cursor of the analysis snapshot, with every member's record key as `record_keys`.

    The keys (mid, rk) come from the snapshot's kept build when it made them under the store's record
    secret (`Snapshot.kept_record_keys`), else they are hashed here; either way they are held with the
    snapshot in memory under a digest of the secret, so a warm build hashes nothing. The build's
    cursor copies them into a temporary table of its own, which it sees only while the build runs
    (`release_record_keys`): its queries join 2M calls to them, and a DuckDB table joins in two
    thirds of the time a registered Arrow table does (national: 270 -> 190 ms a query).
    """
    if "cursor" not in options.cache:
        secret = options.cache.setdefault("record_secret", pseudonymise.record_secret(con))
        sql = RECORD_KEYS_QUERY.format(record_key=pseudonymise.record_key_sql(secret, "member_key"))
        snap = snapshot.get(con)

        def make(cursor):
            kept = snap.kept_record_keys(secret)
            return kept if kept is not None else cursor.execute(sql).fetch_arrow_table()

        keys = snap.derived(("record keys", record_keys.secret_id(secret)), make)
        cursor = snap.cursor()
        cursor.register("record_keys_made", keys)
        cursor.execute("CREATE TEMP TABLE record_keys AS SELECT mid, rk FROM record_keys_made")
        cursor.unregister("record_keys_made")
        options.cache["cursor"] = cursor
    return options.cache["cursor"]


def release_record_keys(con, options: Options) -> None:
    """Close the build's snapshot cursor, and with it its view of the record keys."""
    cursor = options.cache.pop("cursor", None)
    if cursor is not None:
        cursor.close()


def _keyed(con, options: Options, sql: str, params: list) -> pd.DataFrame:
    """Run one of the build's key queries on its snapshot cursor."""
    return keyed_cursor(con, options).execute(sql, params).df()


def ward_summary(con, options: Options) -> pd.DataFrame:
    """outreach.summary by ward, with each ward's branch and cell keys, computed once per build.

    Every member is in one ward and one branch, so the branch table, the outcome mix and the totals
    are sums of these rows: one pass over the calls serves them all. Every ward of the geography
    (within the branch asked for) has a row, with zeros where nobody was called: a table's shape
    must not depend on the data.
    """
    if "ward" not in options.cache:
        wards = con.execute(WARD_BRANCH_QUERY).df()
        if options.branch:
            wards = wards[wards["branch"] == options.branch]
        frame = _counts_by_ward(con, options, wards)
        frame = frame.merge(_ward_keys(con, options), on=["branch", "ward"], how="left")
        frame = wards.merge(frame, on=["branch", "ward"], how="outer").fillna({"branch": "unknown"})
        counts = [c for c in frame.columns if c not in ("ward", "branch", "contact_rate")]
        frame[counts] = frame[counts].fillna(0).astype("int64")
        options.cache["ward"] = frame.sort_values(["branch", "ward"]).reset_index(drop=True)
    return options.cache["ward"]


def _counts_by_ward(con, options: Options, wards: pd.DataFrame) -> pd.DataFrame:
    """outreach.summary by ward, with each ward's branch (`wards`: the scope's (ward, branch) pairs).
    A ward name found in several branches is counted branch by branch (one small query each), so its
    calls are never given to one of them."""
    frame = outreach.summary(con, by="ward", **options.filters()).fillna({"ward": "unknown"})
    named = wards.dropna(subset=["branch"])
    branches = named.groupby("ward")["branch"].agg(sorted)
    shared = branches[branches.map(len) > 1]
    alone = frame[~frame["ward"].isin(shared.index)]
    frame = alone.merge(named.drop_duplicates("ward"), on="ward", how="left")
    frame.loc[frame["ward"] == "unknown", "branch"] = "unknown"
    parts = [outreach.summary(con, by="ward", **{**options.filters(), "branch": b, "ward": w})
             .assign(branch=b) for w, names in shared.items() for b in names]
    return pd.concat([frame, *parts], ignore_index=True) if parts else frame


def _ward_keys(con, options: Options) -> pd.DataFrame:
    body, params = where(options.filters(), members="c")
    keys = [cellkey.key_column(o) for o in OUTCOMES]
    if _whole_members(options):
        first, first_answered = snapshot.first_bit("ward"), snapshot.first_bit("ward", True)
        sql = FAST_WARD_KEYS_QUERY.format(
            where=body, branch=KEY_BRANCH.format(a="p"), marks=first | first_answered, first=first,
            first_answered=first_answered,
            outcome_keys=", ".join(f"coalesce(sum(p.rk) FILTER (WHERE p.outcome = '{o}'), 0)::BIGINT AS {k}"
                                   for o, k in zip(OUTCOMES, keys, strict=True)))
    else:
        sql = WARD_KEYS_QUERY.format(
            where=body, branch=KEY_BRANCH.format(a="p"),
            outcome_counts=", ".join(f"count(*) FILTER (WHERE c.outcome = '{o}') AS n_{o}" for o in OUTCOMES),
            outcome_keys=", ".join(f"sum(p.n_{o} * r.rk)::BIGINT AS {k}"
                                   for o, k in zip(OUTCOMES, keys, strict=True)))
    return _keyed(con, options, sql, params)


def branch_summary(con, options: Options) -> pd.DataFrame:
    """The ward summary summed by branch."""
    frame = ward_summary(con, options)
    counts = [c for c in frame.columns if c not in ("ward", "branch", "contact_rate")]
    return frame.groupby("branch", sort=True)[counts].sum().reset_index()


def totals(con, options: Options) -> dict[str, int]:
    """Attempts, members called and members reached in the report's scope (raw).

    Every member is in one branch, so these are the sums of the branch summary: no extra query.
    """
    frame = branch_summary(con, options)
    return {column: int(frame[column].sum()) for column in [*COUNTS, *map(cellkey.key_column, COUNTS)]}


# Calls in a report's scope, counted on the analysis snapshot as outreach.summary counts them (a call
# whose member_key has no members row drops out), so it equals totals()["attempts"]. The empty-period
# check and the ledger need only this count: a request the ledger refuses never pays for the tables.
SCOPE_CALLS_QUERY = "SELECT count(*) FROM calls c WHERE c.known AND {where}"


def scope_calls(con, options: Options) -> int:
    """How many call attempts the report's scope holds (one small query, computed once per build)."""
    if "calls" not in options.cache:
        body, params = where(options.filters(), members="c")
        with snapshot.get(con).cursor() as cursor:
            count = cursor.execute(SCOPE_CALLS_QUERY.format(where=body), params).fetchone()[0]
        options.cache["calls"] = int(count)
    return options.cache["calls"]


CALLS_BY_DAY_QUERY = """
SELECT c.called_at::DATE::VARCHAR, count(*) FROM calls c WHERE c.known AND {where} GROUP BY 1
"""


def calls_on_days(con) -> ledger.CallsOn:
    """The ledger's view of the data: a branch scope's calls on each day, read once per branch."""
    read: dict[str | None, dict[str, int]] = {}

    def calls_on(branch: str | None) -> dict[str, int]:
        if branch not in read:
            body, params = where({"branch": branch}, members="c")
            with snapshot.get(con).cursor() as cursor:
                read[branch] = dict(cursor.execute(CALLS_BY_DAY_QUERY.format(where=body), params).fetchall())
        return read[branch]

    return calls_on


def ledger_request(con, options: Options) -> ledger.Request:
    """What the release ledger compares and records for this build."""
    return ledger.request(con, profile=options.profile.name, rounding=options.profile.rounding,
                          date_from=options.date_from, date_to=options.date_to, branch=options.branch,
                          extract=options.extract_settings(), calls=scope_calls(con, options),
                          as_of=options.as_of.isoformat(timespec="seconds"))


def admit(con, options: Options, release_id: str, *, actor: str, allow_overlap: str | None = None) -> dict:
    """Check a release against the ledger; a refusal is audited (with the request) and raised.

    Returns:
        What the release's audit entry records for the ledger: the request, and any approval with
        its reason and the overlaps it covers.

    Raises:
        DisclosureError, InputError: as `ledger.check`.
    """
    request = ledger_request(con, options)
    try:
        approved = ledger.check(con, request, allow_overlap=allow_overlap, calls_on=calls_on_days(con))
    except DisclosureError:
        _audit(con, "report.blocked", actor, release_id, {"reason": "release ledger",
                                                           "ledger": request.as_dict()})
        raise
    return {"ledger": request.as_dict(),
            **({"allow_overlap": allow_overlap.strip(), "overlaps": approved} if approved else {})}


def _check_not_empty(con, options: Options) -> None:
    if scope_calls(con, options) == 0:
        where = f" in branch {options.branch}" if options.branch else ""
        span = f"from {options.date_from or 'the start'} to {options.date_to or 'the end'}"
        raise InputError(f"No calls {span}{where}, so there is nothing to report. Widen --from/--to "
                         "or choose another --branch.")


def _check_out_dir(out_dir: str | Path, force: bool = False) -> Path:
    # Absolute but not resolved: a symlink at the target is the target, never followed.
    out = Path(os.path.abspath(Path(out_dir).expanduser()))
    taken = out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir())))
    if taken and not force:
        what = "is a symbolic link" if out.is_symlink() else "already exists and is not an empty folder"
        raise InputError(f"{out} {what}; a release never overwrites files. Choose a new --out folder, "
                         "or add --force to replace it.")
    if not out.parent.is_dir():
        raise InputError(f"Cannot write {out}: the folder {out.parent} does not exist. Create it first.")
    return out


# -- tables ------------------------------------------------------------------------------------------


def report_tables(con: duckdb.DuckDBPyConnection, options: Options) -> list[Table]:
    """Every table of the report, each already through disclosure control."""
    return [outreach_by_period(con, options), outreach_by_branch(con, options),
            outreach_by_ward(con, options), outcome_mix(con, options), needs_by_ward(con, options),
            waiting(con, options), services_usage(con, options), signposting_gaps(con, options)]


# The period table needs months as well as ISO weeks, which outreach.summary does not group by.
# Two stages, as in outreach.summary: per member and period first, then per period; the label is
# formatted on the few period rows, not on every call.
# On the snapshot, as the key queries (see `keyed_cursor`). Without a branch, calls of a member_key
# with no members row count too, as the store's query without a join to members counted them.
OUTREACH_PERIOD_QUERY = """
WITH per_member AS (
    SELECT date_trunc('{unit}', c.called_at) AS start, c.mid, count(*) AS attempts,
           bool_or(c.outcome = 'answered') AS reached
    FROM calls c
    WHERE {known} {where}
    GROUP BY ALL
)
SELECT {label} AS period, sum(p.attempts)::BIGINT AS attempts, count(*) AS members_called,
       count(*) FILTER (WHERE p.reached) AS reached, sum(p.attempts * r.rk)::BIGINT AS attempts_cellkey,
       sum(r.rk)::BIGINT AS members_called_cellkey,
       coalesce(sum(r.rk) FILTER (WHERE p.reached), 0)::BIGINT AS reached_cellkey
FROM per_member p JOIN record_keys r USING (mid) GROUP BY p.start ORDER BY p.start
"""

# The same by ISO week in one pass, for a scope with no window: the snapshot's week bits mark each
# member's first call, and first answered call, of each week. Summed by (week, bits) first, then
# spread into columns, as the ward keys are.
FAST_OUTREACH_WEEK_QUERY = """
WITH parts AS (
    SELECT date_trunc('week', c.called_at) AS start, c.firsts & {marks} AS firsts, count(*) AS n,
           sum(r.rk) AS rk
    FROM calls c JOIN record_keys r USING (mid)
    WHERE {known} {where}
    GROUP BY ALL
), weeks AS (
    SELECT start, sum(n)::BIGINT AS attempts,
           coalesce(sum(n) FILTER (WHERE firsts & {first} <> 0), 0)::BIGINT AS members_called,
           coalesce(sum(n) FILTER (WHERE firsts & {first_answered} <> 0), 0)::BIGINT AS reached,
           sum(rk)::BIGINT AS attempts_cellkey,
           coalesce(sum(rk) FILTER (WHERE firsts & {first} <> 0), 0)::BIGINT AS members_called_cellkey,
           coalesce(sum(rk) FILTER (WHERE firsts & {first_answered} <> 0), 0)::BIGINT AS reached_cellkey
    FROM parts GROUP BY start
)
SELECT {label} AS period, attempts, members_called, reached, attempts_cellkey, members_called_cellkey,
       reached_cellkey
FROM weeks ORDER BY start
"""

COUNTS = ["attempts", "members_called", "reached"]


def outreach_by_period(con, options: Options) -> Table:
    """Attempts, members called and reached per ISO week (internal) or month (public)."""
    body, params = where(options.filters(), members="c")
    unit = options.profile.period
    known = "c.known AND" if options.branch else ""
    if unit == "week" and _whole_members(options):
        first, first_answered = snapshot.first_bit("week"), snapshot.first_bit("week", True)
        sql = FAST_OUTREACH_WEEK_QUERY.format(known=known, where=body, marks=first | first_answered,
                                              first=first, first_answered=first_answered,
                                              label=disclosure.period_sql("start", unit))
    else:
        sql = OUTREACH_PERIOD_QUERY.format(unit=unit, known=known, where=body,
                                           label=disclosure.period_sql("p.start", unit))
    raw = _every_period(con, options, _keyed(con, options, sql, params))
    frame = _with_rates(_protect_rows(raw, "period", COUNTS, totals(con, options), options.profile),
                        options.profile)
    return Table("outreach_by_period", f"Outreach by {options.profile.period}",
                 "Call attempts, members called and members reached. A member called in two periods counts "
                 "in both, so the total counts each member once.", frame,
                 ("bar", "period", ["members_called", "reached"]))


# Every period a report's window touches, in order (the window the ledger records, `ledger.window`).
PERIODS_QUERY = """
SELECT {label} AS period FROM (SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY)) AS day)
GROUP BY 1 ORDER BY min(day)
"""


def _every_period(con, options: Options, raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` with a row of zeros for each period of the window without calls: a period shown only when
    it had calls would say so, whatever its cells show."""
    span = ledger.window(con, options.date_from, options.date_to)
    if span is None:
        return raw
    label = disclosure.period_sql("day", options.profile.period)
    periods = con.execute(PERIODS_QUERY.format(label=label), list(span)).df()
    full = periods.merge(raw, on="period", how="outer", sort=False)
    counts = [c for c in full.columns if c != "period"]
    return full.fillna({c: 0 for c in counts}).astype({c: "int64" for c in counts})


def outreach_by_branch(con, options: Options) -> Table:
    """Outreach per branch (outreach.summary)."""
    raw = branch_summary(con, options)[["branch", *COUNTS, *map(cellkey.key_column, COUNTS)]]
    frame = _with_rates(_protect_additive(raw, ["branch"], COUNTS, options.profile), options.profile)
    return Table("outreach_by_branch", "Outreach by branch", "Members belong to one branch, so rows add up "
                 "to the total before rounding.", frame, ("bar", "branch", ["members_called", "reached"]))


def outreach_by_ward(con, options: Options) -> Table:
    """Outreach per ward, within its branch (outreach.summary), with branch subtotals."""
    raw = ward_summary(con, options)[["branch", "ward", *COUNTS, *map(cellkey.key_column, COUNTS)]]
    frame = _with_rates(_protect_additive(raw, ["branch", "ward"], COUNTS, options.profile), options.profile)
    return Table("outreach_by_ward", "Outreach by ward", "Wards within their branch, with branch subtotals.",
                 frame, map_column="contact_rate_%")


def outcome_mix(con, options: Options) -> Table:
    """Call attempts by outcome and branch (outreach.summary's outcome columns)."""
    raw = branch_summary(con, options)[["branch", *OUTCOMES, *map(cellkey.key_column, OUTCOMES)]]
    long = raw.melt(id_vars="branch", value_vars=list(OUTCOMES), var_name="outcome", value_name="attempts")
    keys = raw.melt(id_vars="branch", value_vars=[cellkey.key_column(o) for o in OUTCOMES],
                    value_name=cellkey.key_column("attempts"))
    long[cellkey.key_column("attempts")] = keys[cellkey.key_column("attempts")].to_numpy()
    frame = disclosure.protect_table(long, "outcome", "branch", "attempts", options.profile)
    frame = _order(frame, "outcome", list(OUTCOMES))
    return Table("outcome_mix", "Outcome of every call attempt, by branch",
                 "Each attempt counts once, under its outcome.", frame, ("bar", "outcome", ["Total"]))


# One row per (member, category) among members whose answered calls in the period recorded a need.
NEEDS_QUERY = """
WITH needing AS (
    SELECT DISTINCT c.branch, coalesce(c.ward, 'unknown') AS ward, c.category, c.mid
    FROM needs_recorded c WHERE {where}
)
SELECT n.branch, n.ward, n.category, count(*) AS members, sum(r.rk)::BIGINT AS members_cellkey
FROM needing n JOIN record_keys r USING (mid) GROUP BY ALL
"""


def needs_by_ward(con, options: Options) -> Table:
    """Members with a need recorded in the period, by category and ward (computed once per build)."""
    if "needs_by_ward" not in options.cache:
        options.cache["needs_by_ward"] = _needs_by_ward(con, options)
    return options.cache["needs_by_ward"]


def _needs_by_ward(con, options: Options) -> Table:
    body, params = where(options.filters(), members="c")
    long = _keyed(con, options, NEEDS_QUERY.format(where=body), params)
    # Every ward of the geography and every category, whatever its count (an empty window included).
    wards = ward_summary(con, options)[["branch", "ward"]]
    long = _complete(long, "category", NEED_CATEGORIES, ["branch", "ward"], "members", keys=wards)
    frame = disclosure.protect_table(long, ["branch", "ward"], "category", "members", options.profile)
    frame = frame[["branch", "ward", *NEED_CATEGORIES, "Total"]]
    return Table("needs_by_ward", "Needs recorded, by category and ward",
                 "Members whose answered call in the period recorded a need. A member with two needs counts "
                 "under both; the Total column counts needs, not people.", frame,
                 ("bar", "category", []), map_column="Total")


# The waiting people counted in DuckDB, each once with their record key (`record_key_sql`, as every
# other count's keys): hashing in Python and converting every list of needs cost ~1 s for a union.
WAITING_QUERY = """
SELECT coalesce(urgency, 'unknown') AS urgency, CASE WHEN escalated THEN ? ELSE ? END AS status,
       count(*) AS members, sum({record_key})::BIGINT AS members_cellkey
FROM {queue} GROUP BY ALL
"""


def waiting(con, options: Options) -> Table:
    """People waiting for help now (needs.queue, opt-outs removed), by urgency and escalation."""
    queue, _ = needs.queue_arrow(con, as_of=options.as_of, columns=("urgency", "escalated"),
                                 **options.filters())
    days = needs.escalation_days(con)
    labels = (f"waiting {days} days or less", f"waiting over {days} days")
    secret = options.cache.setdefault("record_secret", pseudonymise.record_secret(con))
    cursor = keyed_cursor(con, options)
    name = f"waiting_{secrets.token_hex(8)}"
    cursor.register(name, queue.select(["member_key", "urgency", "escalated"]))
    try:
        sql = WAITING_QUERY.format(queue=name, record_key=pseudonymise.record_key_sql(secret, "member_key"))
        long = cursor.execute(sql, [labels[1], labels[0]]).df()
    finally:
        cursor.unregister(name)
    long = _complete(long, "status", labels, ["urgency"], "members")
    long = _complete(long, "urgency", (*reversed(URGENCIES), "unknown"), ["status"], "members")
    frame = disclosure.protect_table(long, "urgency", "status", "members", options.profile)
    frame = _order(frame, "urgency", [*reversed(URGENCIES), "unknown"])
    return Table("waiting", "People waiting for help", f"Members with an open need as of "
                 f"{options.as_of:%d %B %Y}, by recorded urgency; escalated after {days} days. People who "
                 "opted out are not counted.", frame, ("bar", "urgency", list(frame.columns[1:-1])))


# services.usage by category, with cell keys: a reference counts with its member's record key. The
# Total row counts each member once (a member may be referred to two kinds of service).
SERVICES_QUERY = """
WITH refs AS (
    SELECT coalesce(s.category, 'unlisted') AS category, c.mid
    FROM services_named c LEFT JOIN services s ON s.service_id = c.service_id
    WHERE {where}
), per_member AS (
    SELECT category, mid, count(*) AS n FROM refs GROUP BY ALL
)
SELECT p.category, count(*) AS members, sum(p.n)::BIGINT AS "references",
       sum(r.rk)::BIGINT AS members_cellkey, sum(p.n * r.rk)::BIGINT AS references_cellkey
FROM per_member p JOIN record_keys r USING (mid) GROUP BY GROUPING SETS ((p.category), ())
"""
CATEGORIES_QUERY = "SELECT DISTINCT category FROM services WHERE category IS NOT NULL ORDER BY category"


def services_usage(con, options: Options) -> Table:
    """Members referred to a service, by the service's category; never a typed-in name.

    Every category of the directory (and "unlisted") has a row, whatever its count.
    """
    body, params = where(options.filters(), members="c")
    counted = _keyed(con, options, SERVICES_QUERY.format(where=body), params)
    # The grand-total grouping set gives one row even over no references, with NULL sums there.
    total = counted[counted["category"].isna()].fillna({c: 0 for c in counted.columns if c != "category"})
    if total.empty:
        total = pd.DataFrame([dict.fromkeys(counted.columns, 0)])
    # A member counts once in the total: their references, and their key, once per category summed.
    sql = SERVICES_TOTAL_QUERY.format(where=body)
    per_member = keyed_cursor(con, options).execute(sql, params).fetchone()
    totals = {"members": int(per_member[0]), "references": int(total["references"].iloc[0]),
              "members_cellkey": int(per_member[1] or 0),
              "references_cellkey": int(total["references_cellkey"].iloc[0])}
    categories = [row[0] for row in con.execute(CATEGORIES_QUERY).fetchall() if row[0] != "unlisted"]
    raw = _complete(counted[counted["category"].notna()], "category", [*categories, "unlisted"], [],
                    "members")
    raw = raw.fillna({"references": 0, "references_cellkey": 0}).astype({"references": "int64",
                                                                         "references_cellkey": "int64"})
    frame = _protect_rows(raw, "category", ["members", "references"], totals, options.profile)
    return Table("services_usage", "Services referenced, by category",
                 "References to community services named on calls; names not in the directory count as "
                 "'unlisted'. A member referred to two kinds of service counts under both.", frame,
                 ("bar", "category", ["references"]))


SERVICES_TOTAL_QUERY = """
WITH referred AS (
    SELECT DISTINCT c.mid FROM services_named c WHERE {where}
)
SELECT count(*) AS members, sum(r.rk)::BIGINT AS members_cellkey FROM referred JOIN record_keys r USING (mid)
"""


# Ward x category combinations the directory does not cover.
GAPS_QUERY = """
WITH wards AS (SELECT DISTINCT branch, ward FROM members WHERE ward IS NOT NULL AND {branch}),
cats AS (SELECT unnest(?::VARCHAR[]) AS category),
cover AS (
    SELECT s.category, lower(trim(a.area)) AS ward_key
    FROM services s, unnest(CASE WHEN len(coalesce(s.areas, [])) = 0 THEN ['*'] ELSE s.areas END) AS a(area)
    WHERE coalesce(s.status, 'active') = 'active'  -- inactive or defunct services cover nothing
)
SELECT w.branch, w.ward, k.category
FROM wards w CROSS JOIN cats k
WHERE NOT EXISTS (SELECT 1 FROM cover v WHERE v.category = k.category
                  AND (v.ward_key = '*' OR v.ward_key = lower(trim(w.ward))))
ORDER BY w.branch, w.ward, k.category
"""


def signposting_gaps(con, options: Options) -> Table:
    """Every ward and need category no listed service covers, with how many members needed it.

    The rows depend only on the directory, never on who needed help, so a row's presence says
    nothing about a member. Each count is the same cell as in `needs_by_ward` (the members of that
    ward whose calls recorded that need), so it is taken from that table as published there: the
    same figure, or the same ``*`` (a zero hidden there is hidden here too).
    """
    branch_sql = "branch = ?" if options.branch else "TRUE"
    branch_params = [options.branch] if options.branch else []
    rows = con.execute(GAPS_QUERY.format(branch=branch_sql), [*branch_params, list(NEED_CATEGORIES)]).df()
    published = needs_by_ward(con, options).frame.melt(id_vars=["branch", "ward"], var_name="category",
                                                       value_vars=list(NEED_CATEGORIES), value_name="members")
    # A ward the needs table does not show under this branch (none should be) stays suppressed.
    frame = rows.merge(published, on=["branch", "ward", "category"], how="left")
    frame["members"] = frame["members"].astype("Int64")
    return Table("signposting_gaps", "Signposting gaps: needs no listed service covers",
                 "Each ward and need category for which no service in the directory covers the ward, with "
                 "the members whose calls recorded that need.", frame)


def _protect_rows(raw: pd.DataFrame, label: str, counts: list[str], totals: dict | None,
                  prof: disclosure.Profile) -> pd.DataFrame:
    """Rows whose total is not their sum (members span periods): the total comes from `totals`, raw."""
    if totals is not None:
        keyed = [c for c in map(cellkey.key_column, counts) if c in totals]
        total = pd.DataFrame([{label: "Total", **{c: totals[c] for c in [*counts, *keyed]}}])
        raw = pd.concat([raw, total], ignore_index=True)
    out = disclosure.protect_counts(raw, counts, prof)
    # Each column with its total is one line: secondary suppression (without rounding) and hiding the
    # zeros beside a suppressed count (internal) both work along it.
    lines = [list(range(len(raw)))] if totals is not None else []
    values = {column: disclosure.perturbed(raw, column).to_numpy() for column in counts}
    for column, hidden in disclosure.linked_masks(values, prof, lines).items():
        out[column] = out[column].mask(hidden)
    return out


def _protect_additive(raw: pd.DataFrame, index: list[str], counts: list[str],
                      prof: disclosure.Profile) -> pd.DataFrame:
    """Each count column as a protected table with totals (and subtotals for a two-level index), the
    counts' zeros hidden together (no attempts, nobody called or reached)."""
    return disclosure.protect_columns(raw, index, counts, prof)


def _with_rates(frame: pd.DataFrame, prof: disclosure.Profile) -> pd.DataFrame:
    out = frame.copy()
    # The shown (rounded) figures decide: a rounded base of 10 or more means a raw n of 8 or more.
    out["contact_rate_%"] = disclosure.percentage(out["reached"], out["members_called"],
                                                  out["members_called"].fillna(0), prof)
    return out


def _complete(long: pd.DataFrame, column: str, values, others: list[str], count: str,
              keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add zero rows so every value of `column` appears (a table's shape must not depend on the data).

    `keys` lists every combination of `others` to show (default: those in `long`).
    """
    if keys is None:
        keys = long[others].drop_duplicates() if others else pd.DataFrame(index=[0])
    full = keys.drop_duplicates().merge(pd.DataFrame({column: list(values)}), how="cross")
    merged = full.merge(long, on=[*others, column], how="outer")
    filled = [c for c in (count, cellkey.key_column(count)) if c in merged.columns]
    return merged.fillna({c: 0 for c in filled}).astype({c: "int64" for c in filled})


def _order(frame: pd.DataFrame, column: str, order: list[str]) -> pd.DataFrame:
    rank = {value: i for i, value in enumerate([*order, "Total"])}
    return frame.sort_values(column, key=lambda s: s.map(rank).fillna(len(rank)), kind="stable") \
        .reset_index(drop=True)


# -- the row-level extract and its gate --------------------------------------------------------------

# One row per member: their latest call in the period, the needs it recorded, and whether they were
# ever keen to volunteer in the period. Erased members are never in an extract.
EXTRACT_QUERY = """
WITH scoped AS (
    SELECT c.call_id, c.member_key, c.called_at, c.outcome, c.keen_to_volunteer, m.branch, m.ward,
           m.postcode, m.age
    FROM calls c JOIN members m ON m.member_key = c.member_key
    WHERE m.erased_at IS NULL AND {where}
), latest AS (
    SELECT member_key, arg_max(call_id, (called_at, call_id)) AS call_id,
           bool_or(coalesce(keen_to_volunteer, FALSE)) AS volunteer
    FROM scoped GROUP BY member_key
), cats AS (
    SELECT call_id, string_agg(category, '; ' ORDER BY category) AS categories
    FROM call_needs SEMI JOIN latest USING (call_id) GROUP BY call_id
)
SELECT l.member_key, s.branch, s.ward, s.postcode, {age_band} AS age_band, {period} AS period, s.outcome,
       CASE WHEN s.outcome <> 'answered' THEN 'not asked' ELSE coalesce(k.categories, 'none') END AS needs,
       l.volunteer
FROM latest l JOIN scoped s ON s.call_id = l.call_id LEFT JOIN cats k ON k.call_id = l.call_id
"""


def extract_rows(con: duckdb.DuckDBPyConnection, options: Options) -> pd.DataFrame:
    """The generalised extract, before pseudonyms: member_key, area, age_band, period, outcome, needs,
    volunteer.

    People on the opt-out register (any scope) are left out: `attrs["excluded"]` counts them.
    """
    body, params = where(options.filters())
    sql = EXTRACT_QUERY.format(where=body, age_band=age_band_sql("s.age"),
                               period=disclosure.period_sql("s.called_at", options.period))
    raw = con.execute(sql, params).df()
    kept = optouts_suppress(con, raw)
    rows = kept.assign(area=_area(kept, options.area), age_band=kept["age_band"].fillna("unknown"))
    if options.needs == "any":
        rows["needs"] = rows["needs"].map(lambda v: v if v in ("none", "not asked") else "any need")
    rows["volunteer"] = rows["volunteer"].map({True: "yes", False: "no"})
    out = rows[["member_key", "area", "age_band", "period", "outcome", "needs", "volunteer"]] \
        .sort_values(["area", "age_band", "period", "member_key"]).reset_index(drop=True)
    out.attrs["excluded"] = kept.attrs.get("excluded", {})
    return out


def optouts_suppress(con, frame: pd.DataFrame) -> pd.DataFrame:
    """The one choke point: optouts.suppress with scope "all", the strictest, for a list of people."""
    from workbench.privacy import optouts

    suppressed = optouts.suppress(con, frame, scope="all")
    kept = suppressed.kept.reset_index(drop=True)
    kept.attrs["excluded"] = dict(suppressed.excluded)
    return kept


def _area(rows: pd.DataFrame, level: str) -> pd.Series:
    if level in ("sector", "district"):
        area = disclosure.postcode_area(rows["postcode"], level)
    else:
        area = rows[level]
    return area.fillna("unknown").astype(str)


def suggest_coarser(options: Options) -> str:
    """The next coarser settings to try, as CLI options."""
    ideas = []
    if options.area != AREA_LEVELS[-1]:
        ideas.append(f"--area {AREA_LEVELS[AREA_LEVELS.index(options.area) + 1]}")
    if options.period != disclosure.PERIODS[-1]:
        ideas.append(f"--period {disclosure.PERIODS[disclosure.PERIODS.index(options.period) + 1]}")
    if options.needs == "categories":
        ideas.append("--needs any")
    if options.branch or options.date_from or options.date_to:
        ideas.append("a wider --from/--to or no --branch")
    return ", ".join(ideas) or "leave out --extract and release the tables only"


def _gated_extract(con, options: Options, release_id: str,
                   actor: str) -> tuple[pd.DataFrame, risk.RiskMetrics]:
    rows = extract_rows(con, options)
    metrics = risk.assess(rows, k=options.profile.threshold, l=options.profile.l_min)
    if not metrics.passed:
        _audit(con, "report.blocked", actor, release_id, {"reason": "risk gate", **_audit_metrics(metrics)})
        risk.gate(metrics, suggestion=suggest_coarser(options))
    if options.link_to:
        _gate_linked_history(con, options, rows, release_id, actor)
    return rows, metrics


def _gate_linked_history(con, options: Options, rows: pd.DataFrame, release_id: str, actor: str) -> None:
    """Block a linked extract whose pseudonyms would join records that, together, single people out.

    Each extract alone can pass the gate while a series of them, joined on their shared pseudonyms,
    gives every member a history (called in weeks 14, 15 and 18; answered twice; a need once) that
    few others share. So the new rows are assessed with every earlier extract under the same key
    (`ledger.linked_group`), each recomputed from its recorded scope and settings: one record per
    member, each release's columns side by side ("absent" where the member was not in it), under
    the same k and ℓ. A member erased or opted out since is left out, as from any extract now.

    Raises:
        DisclosureError: the linked release is of another profile, or the joined records fail.
        InputError: `link_to` is no extract in the ledger.
    """
    group = ledger.linked_group(ledger.entries(con), options.link_to)
    other = next((e for e in group if e.request.profile != options.profile.name), None)
    if other is not None:
        raise DisclosureError(
            f"Refused: release {other.release_id}'s extract is {other.request.profile} and this one is "
            f"{options.profile.name}; a linked extract would join the two. Link only extracts of one "
            "profile, or leave out --link-to.")
    record = linked_record([rows, *(extract_rows(con, _extract_options(e.request, options)) for e in group)])
    joined = risk.assess(record, k=options.profile.threshold, l=options.profile.l_min, quasi=record.columns)
    if joined.passed:
        return
    _audit(con, "report.blocked", actor, release_id, {"reason": "linked history", "linked": len(group),
                                                       **_audit_metrics(joined)})
    plural = "s" if len(group) > 1 else ""
    raise DisclosureError(
        f"Refused: linked to {options.link_to}, this extract's pseudonyms join {len(group)} earlier "
        f"extract{plural}, and the joined records single people out ({joined.small_group_count} group(s) of "
        f"fewer than {joined.k_required} members, {joined.uniform_group_count} with one need history). "
        "Nothing was written. Leave out --link-to (a new key), or use coarser settings for the whole series.")


def _extract_options(request: ledger.Request, like: Options) -> Options:
    """The options an earlier extract was made with, from its ledger request."""
    settings = request.extract or {}
    start, end = request.window or (None, None)
    return Options(like.profile, start, end, request.branch, True, settings.get("area", like.area),
                   settings.get("period", like.period), settings.get("needs", like.needs), None, like.as_of)


def linked_record(history: list[pd.DataFrame]) -> pd.DataFrame:
    """Extract rows of linked releases as one record per member: each release's columns side by side,
    "absent" where the member was not in it, and their needs as one history (the sensitive value;
    "not asked" when no extract asked).

    Examples:
        >>> a = pd.DataFrame({"member_key": ["m1", "m2"], "area": ["A", "A"], "needs": ["none", "food"]})
        >>> linked_record([a, a.iloc[:1]]).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
        [{'area_0': 'A', 'area_1': 'A', 'needs': 'none|none'},
         {'area_0': 'A', 'area_1': 'absent', 'needs': 'food|absent'}]
    """
    parts = [frame.set_index("member_key").add_suffix(f"_{i}") for i, frame in enumerate(history)]
    joined = pd.concat(parts, axis=1, join="outer").astype("object").fillna("absent").astype(str)
    needs = [f"needs_{i}" for i in range(len(history))]
    joined["needs"] = joined[needs[0]].str.cat([joined[n] for n in needs[1:]], sep="|")
    # A history never asked about needs tells nothing of health, as "not asked" in one extract does.
    never_asked = joined[needs].isin([risk.NOT_ASKED, "absent"]).all(axis=1)
    joined.loc[never_asked, "needs"] = risk.NOT_ASKED
    return joined.drop(columns=needs).reset_index(drop=True)


def _audit_metrics(metrics: risk.RiskMetrics) -> dict:
    data = metrics.as_dict()
    data.pop("quasi_identifiers")
    return data


def _audit(con, action: str, actor: str, release_id: str, counts: dict, member_keys=None) -> None:
    with transaction(con):
        audit(con, action, actor=actor, object_id=f"release {release_id}", counts=counts,
              member_keys=member_keys)


# -- writing, scanning, releasing --------------------------------------------------------------------


def _release(con, out: Path, release_id: str, options: Options, tables: list[Table], rows, metrics,
             actor: str, *, force: bool = False) -> ReportResult:
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
    try:
        with transaction(con):
            paths = _write_all(con, staging, release_id, options, tables, rows, metrics)
            manifest = json.loads((staging / MANIFEST_FILE).read_text(encoding="utf-8"))
            disclosure.check_release(con, paths, allowed_words=_allowed_words(con, tables),
                                     known_safe=[page.plotly_js()])
            counts = {"files": len(paths), "tables": len(tables),
                      "suppressed_cells": manifest["suppressed_cells"], "profile": options.profile.name,
                      **(_audit_metrics(metrics) if metrics else {}), **options.cache.get("ledger", {}),
                      **({"excluded_by_optouts": rows.attrs.get("excluded", {})} if rows is not None else {})}
            audit(con, "report.release", actor=actor, object_id=f"release {release_id}", counts=counts,
                  member_keys=list(rows["member_key"]) if rows is not None else None)
            _move_into_place(staging, out, force)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, DisclosureError):
            _audit(con, "report.blocked", actor, release_id, {"reason": "release scan"})
        raise
    released = tuple(out / p.name for p in paths)
    return ReportResult(release_id, out, released, True, metrics.as_dict() if metrics else None, manifest)


def _move_into_place(staging: Path, out: Path, force: bool = False) -> None:
    old = None
    if force and (out.is_symlink() or out.exists()):
        old = out.with_name(f".{out.name}.replaced-{secrets.token_hex(4)}")
        os.rename(out, old)  # a symlink is moved itself, never followed
    elif out.exists():
        out.rmdir()          # empty (checked before); rename cannot replace a folder on every system
    os.rename(staging, out)  # one step: the folder appears whole or not at all
    os.chmod(out, 0o700)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()


def _write_all(con, staging: Path, release_id: str, options: Options, tables: list[Table], rows,
               metrics) -> list[Path]:
    notice = exports.Notice(f"Pseudonymised report {release_id} ({options.profile.name} profile)",
                            (f"Suppressed counts are shown as {disclosure.SUPPRESSED}.",))
    paths = [exports.write_csv(disclosure.for_display(t.frame), staging / f"{t.name}.csv", notice=notice)
             for t in tables]
    if rows is not None:
        secret = pseudonymise.release_key(con, release_id, link_to=options.link_to)
        released = rows.assign(pseudonym=pseudonymise.release_pseudonyms(secret, rows["member_key"]))
        released = released.drop(columns="member_key")[["pseudonym", *rows.columns[1:]]]
        paths.append(exports.write_csv(released.sort_values("pseudonym"), staging / EXTRACT_FILE,
                                       notice=notice))
    html_path = staging / HTML_FILE
    html_text = page.render(release_id, options, tables, metrics, version(), maps.shapes(con))
    exports.write_text(html_path, html_text)
    paths.append(html_path)
    manifest = _manifest(release_id, options, tables, rows, metrics, paths)
    manifest_path = staging / MANIFEST_FILE
    manifest_text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    exports.write_text(manifest_path, manifest_text)
    return [*paths, manifest_path]


def _manifest(release_id: str, options: Options, tables: list[Table], rows, metrics,
              paths: list[Path]) -> dict:
    prof = options.profile
    return {
        "release_id": release_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "workbench_version": version(),
        "parameters": options.as_dict(),
        "disclosure": {"profile": prof.name, "threshold": prof.threshold,
                       "zeros_suppressed": prof.suppress_zero, "zeros": prof.zero_rule,
                       "rounding_base": prof.base if prof.rounding else None, "rounding": prof.rounding,
                       "secondary_suppression": not prof.rounding, "rules": prof.describe(),
                       "perturbation": {"method": "cell key (ONS Census 2021)",
                                        "key_range": cellkey.KEY_RANGE,
                                        "max_noise": cellkey.MAX_NOISE,
                                        "table": {str(v): dict(map(lambda p: (str(p[0]), p[1]), steps))
                                                  for v, steps in cellkey.PTABLE.items()}}},
        "tables": [{"name": t.name, "file": f"{t.name}.csv", "title": t.title, "rows": len(t.frame),
                    "suppressed_cells": t.suppressed_cells} for t in tables],
        "suppressed_cells": sum(t.suppressed_cells for t in tables),
        "extract": None if rows is None else {
            "file": EXTRACT_FILE, "rows": len(rows), "columns": ["pseudonym", *rows.columns[1:]],
            # Who the opt-out register left out is counted in the audit log only: exact counts of
            # a small scope, compared between releases, would say who opted out.
            "pseudonym": "HMAC-SHA256 of the member key under "
                         + (f"release {options.link_to}'s key (linked)" if options.link_to
                            else "this release's own key"),
            "linked_to": options.link_to, "risk": metrics.as_dict()},
        "release_scan": ["phone numbers (UK and E.164)", "email addresses", "full postcodes",
                         "members' full names and surnames", "membership numbers", "caller ids",
                         "call notes"],
        "files": [{"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in paths],
    }


def version() -> str:
    """The workbench's version, from the installed package metadata."""
    try:
        return metadata.version("workbench")
    except metadata.PackageNotFoundError:
        return "unknown"


# Words a report may use on its own: vocabularies, geography and directory names, and the report's
# own words. A member's surname that is also one of these (a "Ward", a "Green") is only flagged as
# part of a full name; full names, membership numbers, caller ids and notes are always flagged.
VOCABULARY_QUERY = """
SELECT DISTINCT lower(v) FROM (
    SELECT branch AS v FROM members UNION ALL SELECT ward FROM members
    UNION ALL SELECT name FROM services UNION ALL SELECT category FROM services
) WHERE v IS NOT NULL
"""


def _allowed_words(con, tables: list[Table]) -> frozenset[str]:
    texts = [row[0] for row in con.execute(VOCABULARY_QUERY).fetchall()]
    texts += [*OUTCOMES, *NEED_CATEGORIES, *URGENCIES]
    for table in tables:
        texts += [table.title, table.description, *map(str, table.frame.columns)]
    texts += [pages.source(page.TEMPLATE), *(Path(m.__file__).read_text(encoding="utf-8")
                                              for m in (sys.modules[__name__], page, disclosure))]
    return frozenset(w.lower() for text in texts for w in disclosure.WORD.findall(str(text)))


__all__ = ["AREA_LEVELS", "NEEDS_DETAIL", "Options", "ReportResult", "Table", "admit", "build",
           "extract_rows",
           "ledger_request", "new_release_id", "report_tables", "scope", "suggest_coarser", "version"]
