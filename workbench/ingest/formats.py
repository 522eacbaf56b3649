"""Understand an export before its rows are checked: which format, which column is which field, what
its outcome labels mean; and, once its rows are staged, the format's own ways of writing things.

Everything here works per column or in one SQL statement over the staged rows: recognition reads
headers, value fits read a few hundred distinct values, outcome labels are matched once per
distinct label, and the members a call export names are found with one join.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass, field

import duckdb

from workbench.errors import InputError
from workbench.ingest import dates, headers, labels, limits, profiles
from workbench.ingest import members as ingest_members
from workbench.ingest.fields import lit, norm_sql
from workbench.ingest.files import ROW, ROW_NAME, SourceFile, quote
from workbench.privacy import optouts
from workbench.vocabulary import NEED_CATEGORIES

SAMPLE_ROWS = 5_000  # values read to judge what a column holds
SAMPLE_VALUES = 300
MAX_LABELS = 1_000  # distinct outcome labels considered for matching by meaning


@dataclass
class Understanding:
    """What the workbench took a file to be, for the import and for the person running it."""

    profile: profiles.Profile
    match: headers.HeaderMatch
    mapping: dict  # the mapping file's contents, with the profile's and matched outcome labels added
    notes: list[str] = field(default_factory=list)
    # Shown by the import through `prepare_dates`, which runs once the rows are staged.
    warnings: list[str] = field(default_factory=list)
    # How each judged date column's dates read, by field (`_judge_dates`).
    date_orders: dict[str, dates.DateOrder] = field(default_factory=dict)
    # The date fields a plain export's column shows to be written month first, and so read.
    month_first_columns: set[str] = field(default_factory=set)

    def month_first(self, name: str) -> bool:
        """Whether a date field is read M/D/YYYY: its format writes dates so, or its column shows it."""
        return self.profile.month_first or name in self.month_first_columns

    @property
    def columns(self) -> dict[str, str]:
        return self.match.columns

    def identity(self) -> str:
        """How rows name their member here: membership_number, an alias field, or phone_first_name."""
        if "membership_number" in self.columns:
            return "membership_number"
        for alias in headers.ALIASES:
            if alias in self.columns:
                return alias
        if {"phone", "first_name"} <= set(self.columns):
            return "phone_first_name"
        return "none"


DISTINCT_VALUES = """
SELECT v FROM (SELECT trim(CAST({col} AS VARCHAR)) AS v FROM temp.{raw} LIMIT {rows})
WHERE v IS NOT NULL AND v <> '' GROUP BY v LIMIT {values}
"""
# Every row's value, grouped before it is trimmed: a label column has a handful of distinct values,
# so this trims a handful rather than two million (and a LIMIT would keep the scan on one thread).
ALL_DISTINCT_VALUES = """
SELECT DISTINCT trim(v) AS v FROM (SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM temp.{raw})
WHERE trim(v) <> '' LIMIT {values}
"""


def _values(
    con: duckdb.DuckDBPyConnection, raw: str, header: str, rows: int | None, values: int
) -> list[str]:
    """Up to `values` distinct non-blank values of a column, trimmed: from its first `rows` rows, or
    from every row when `rows` is None."""
    query = (ALL_DISTINCT_VALUES if rows is None else DISTINCT_VALUES).format(
        col=quote(header), raw=raw, rows=rows, values=values
    )
    return [r[0] for r in con.execute(query).fetchall()]


def _fit(con: duckdb.DuckDBPyConnection, raw: str):
    yes_no = {labels.normalise(x) for names in labels.VOCABULARIES["yes_no"].values() for x in names}
    categories = {labels.normalise(x) for names in labels.VOCABULARIES["category"].values() for x in names}
    categories |= {labels.normalise(c) for c in NEED_CATEGORIES}

    @functools.cache
    def fit(header: str, vocabulary: str) -> float:
        values = _values(con, raw, header, SAMPLE_ROWS, SAMPLE_VALUES)
        if not values:
            return 1.0  # an empty column says nothing either way
        if vocabulary == "yes_no":
            hits = [
                labels.normalise(v) in yes_no or labels.normalise_words(v)[:1] in (["yes"], ["no"])
                for v in values
            ]
        else:
            hits = [
                all(labels.normalise(part) in categories for part in _split(v) if part.strip())
                for v in values
            ]
        return sum(hits) / len(hits)

    return fit


def _split(value: str) -> list[str]:
    return value.replace(";", ",").split(",")


# One row per contact: the columns other than the question and the answer say who, when and by
# whom; every answer to one question is kept, joined with "; " (multi-choice answers split on it).
WIDE = """
CREATE OR REPLACE TEMP TABLE {table} AS
PIVOT (
    SELECT {keys}, {question} AS question, {answer} AS answer,
           min({row}) OVER (PARTITION BY {keys}) AS {row}
    FROM temp.{table} WHERE nullif(trim({question}), '') IS NOT NULL
) ON question USING string_agg(answer, '; ' ORDER BY {row}) GROUP BY {keys}, {row}
ORDER BY {row}
"""
QUESTIONS = "SELECT DISTINCT {question} FROM temp.{table} WHERE nullif(trim({question}), '') IS NOT NULL"


def widen(
    con: duckdb.DuckDBPyConnection, kind: str, staged: SourceFile, forced: str | None
) -> tuple[SourceFile, str | None, list[str]]:
    """A file of one row per answer (VAN's survey responses) as one row per contact, in place.

    Each question becomes a column headed by its text, so a mapping file's [columns] names it as
    for any other tool. A contact's rows are numbered by its first answer row.

    Returns:
        (the file as it now is, the profile that must read it now its telltale columns are gone,
        notes for the person importing). Other files come back as they were, with `forced`.

    Raises:
        InputError: the question or answer column is missing, a question repeats another column's
            header, or there are more questions than the column limit.
    """
    profile = profiles.recognise(kind, staged.headers, forced)
    if not profile.long_answers:
        return staged, forced, []
    by_form = {headers.normalise(h): h for h in staged.headers}
    question, answer = (by_form.get(headers.normalise(h)) for h in profile.long_answers)
    if question is None or answer is None:
        raise InputError(
            f'A {profile.title} file needs the columns "{profile.long_answers[0]}" and '
            f'"{profile.long_answers[1]}". Check the export.'
        )
    keys = [h for h in staged.headers if h not in (question, answer)]
    found = con.execute(QUESTIONS.format(question=quote(question), table=staged.table)).fetchall()
    _check_questions([r[0] for r in found], keys, question)
    con.execute(
        WIDE.format(
            table=staged.table, keys=", ".join(map(quote, keys)), question=quote(question),
            answer=quote(answer), row=ROW,
        )
    )
    notes = [
        f"{staged.rows:,} answer rows were read as one row per contact ({', '.join(keys)}), with a "
        f"column for each of its {len(found):,} questions; name them in a mapping file's [columns]."
    ]
    if profile.implied_outcome and not any(headers.normalise(h) in ("outcome", "result") for h in keys):
        outcome = lit(profile.implied_outcome)
        con.execute(f'ALTER TABLE temp.{staged.table} ADD COLUMN "Outcome" VARCHAR DEFAULT {outcome}')
        notes.append(f"every contact's outcome is {profile.implied_outcome}: the file holds its answers.")
    names = [r[0] for r in con.execute(f"DESCRIBE temp.{staged.table}").fetchall() if r[0] != ROW_NAME]
    rows = con.execute(f"SELECT count(*) FROM temp.{staged.table}").fetchone()[0]
    return dataclasses.replace(staged, headers=names, rows=rows), profile.name, notes


def _check_questions(asked: list[str], keys: list[str], question: str) -> None:
    if len(asked) + len(keys) + 1 > limits.MAX_COLUMNS:
        raise InputError(
            f'The column "{question}" holds {len(asked):,} different questions; the workbench reads at '
            f"most {limits.MAX_COLUMNS:,} columns. Export one survey at a time."
        )
    taken = {headers.normalise(k) for k in keys} | {headers.normalise(ROW_NAME)}
    clashes = [q for q in asked if headers.normalise(q) in taken]
    if clashes:
        raise InputError(
            f'A question in "{question}" has the same name as a column of the file '
            f'("{clashes[0][:40]}"), so its answers cannot be told apart. Rename the question in '
            "the export."
        )


def understand(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    staged: SourceFile,
    mapping: dict,
    file_name: str,
    forced: str | None = None,
    optional: tuple[str, ...] = (),
) -> Understanding:
    """Recognise the format, match headers to fields, and learn the outcome labels.

    Args:
        kind: members | calls | services.
        staged: the file as read (ingest.files.stage).
        mapping: the loaded mapping file (may be empty).
        file_name: for messages.
        forced: a profile name from --profile.
        optional: required fields the file may lack (the date, when --date gives it).

    Raises:
        InputError: unknown profile, a required column missing, or an ambiguous column.
    """
    profile = profiles.recognise(kind, staged.headers, forced)
    match = headers.match(
        kind, staged.headers, mapping, file_name, names=profile.columns, fit=_fit(con, staged.table),
        optional=optional,
    )
    merged = {**mapping, "outcomes": {**profile.outcomes, **mapping.get("outcomes", {})}}
    understanding = Understanding(profile, match, merged)
    if kind == "calls" and "outcome" in match.columns:
        found = labels.by_meaning(
            _values(con, staged.table, match.columns["outcome"], None, MAX_LABELS), merged["outcomes"]
        )
        merged["outcomes"].update(found)
        understanding.notes += [f'outcome "{label}" read as {code}' for label, code in sorted(found.items())]
    if not merged["outcomes"]:
        merged.pop("outcomes")
    _judge_dates(con, staged, understanding)
    return understanding


# The date column's cells grouped by their opening (dates.NUMBERED_OPENING characters): 2 million
# dates have a few hundred openings, so judging the whole column costs one grouping rather than a
# regular expression per cell. Only the openings of numbered dates come back.
DATE_OPENINGS = """
SELECT first, cells, first_row FROM (
    SELECT left(CASE WHEN starts_with(v, ' ') THEN ltrim(v) ELSE v END, {opening}) AS opening,
           arg_min(v, {row}) AS first, count(*) AS cells, min({row}) AS first_row
    FROM (SELECT CAST({col} AS VARCHAR) AS v, {row} FROM temp.{raw}) WHERE v IS NOT NULL GROUP BY opening
) WHERE regexp_matches(opening, ?)
"""


DATE_FIELDS = ("called_at", "joined_on")  # the fields read as dates (fields._date), of either kind of file


def _judge_dates(con: duckdb.DuckDBPyConnection, staged: SourceFile, understanding: Understanding) -> None:
    """Judge each date column the file has as a column, not cell by cell (see dates.date_order): the
    call dates, and the joined dates of a member list (or of a call export that carries them).

    A plain export's column that is month first is read month first, with a note: nothing else says
    how it writes dates. A tool's format says day first, so there, and in a column that is mixed or
    unclear, the dates that read either way become row problems in `prepare_dates`, never a guess. A
    format that writes month first is not judged. Each column is judged on its own dates.
    """
    if understanding.profile.month_first:
        return
    for name in DATE_FIELDS:
        if name in understanding.columns:
            _judge_column(con, staged, understanding, name)


def _judge_column(con: duckdb.DuckDBPyConnection, staged: SourceFile, understanding: Understanding,
                  name: str) -> None:
    header = understanding.columns[name]
    query = DATE_OPENINGS.format(opening=dates.NUMBERED_OPENING, row=ROW, col=quote(header), raw=staged.table)
    order = dates.date_order(con.execute(query, [dates.NUMBERED]).fetchall())
    understanding.date_orders[name] = order
    if order.verdict == "month first" and understanding.profile.name == "plain":
        # Reaches the staging rules (`Understanding.month_first`), which read this column month first.
        understanding.month_first_columns.add(name)
        understanding.notes.append(_month_first_note(header, order))
    if staged.fmt == "xlsx":
        understanding.warnings += _excel_order_warning(con, staged, header, order)


def _month_first_note(header: str, order: dates.DateOrder) -> str:
    either = (
        f"The {order.either:,} that read either way (first: {order.example('either')}) were read month first "
        "too."
        if order.either
        else "None reads either way."
    )
    return (
        f'column "{short_header(header)}" was read month first (m/d/yyyy): {order.month_first:,} of its '
        f"dates read only that way (first: {order.example('month_first')}) and none only day first. "
        f"{either} If its dates are meant to be day first, those that read only month first are mistakes: "
        "correct them."
    )


def short_header(header: str) -> str:
    """A header as a message shows it: on one line, cut to 40 characters."""
    text = str(header).replace("\n", " ")
    return text[:40] + "…" if len(text) > 40 else text


# Cells calamine read as dates are staged as ISO text; their day is characters 9 and 10.
DATE_CELLS = """
SELECT count(*), count(*) FILTER (WHERE substr(v, 9, 2) > '12')
FROM (SELECT CAST({col} AS VARCHAR) AS v FROM temp.{raw}) WHERE regexp_matches(v, ?)
"""


def _excel_order_warning(
    con: duckdb.DuckDBPyConnection, staged: SourceFile, header: str, order: dates.DateOrder
) -> list[str]:
    """A warning when a workbook's date column looks like a text file opened in Excel set to the other
    date order: date cells, none with a day over 12, beside text dates that each read only one way.

    Excel makes a date cell of each date it can read its own way, swapping day and month, and leaves
    the rest as text. A column all of date cells, or all of text, is never warned of.
    """
    text_one_way = (order.day_first > 0) != (order.month_first > 0) and not (order.either or order.same)
    if not text_one_way:
        return []
    query = DATE_CELLS.format(col=quote(header), raw=staged.table)
    cells, late = con.execute(query, [dates.ISO_PREFIX]).fetchone()
    if not cells or late:
        return []
    kind = "day_first" if order.day_first else "month_first"
    shown = f'{cells:,} date cell{"s" if cells > 1 else ""}'
    return [
        f'column "{short_header(header)}" holds {shown}, each with a day of 12 or less, beside '
        f"{order.day_first + order.month_first:,} dates written as text that read only "
        f"{kind.replace('_', ' ')} (first: {order.example(kind)}). That is the mark of a file opened in "
        "Excel set to the other date order: Excel made date cells of the dates it could read its own way, "
        "swapping their day and month, and left the rest as text. The date cells were read as Excel holds "
        "them; check them against the original file, or import the original file instead."
    ]


# A single name written "Last, First" (VAN): split on the comma.
LAST_FIRST = """
UPDATE temp.{stage}_rows SET last_name = trim(split_part(full_name, ',', 1)),
       first_name = nullif(trim(substr(full_name, strpos(full_name, ',') + 1)), ''), full_name = NULL
WHERE full_name LIKE '%,%' AND first_name IS NULL AND last_name IS NULL
"""

SKIPPED = "DELETE FROM temp.{stage}_rows WHERE {norm} IN ({labels}) RETURNING row"
# A row never contacted is no call, but a do-not-call mark on it still counts (source_optouts).
SKIPPED_OPTOUTS = """
CREATE OR REPLACE TEMP TABLE ingest_skipped_optouts AS
SELECT DISTINCT membership_number FROM temp.{stage} WHERE {norm} IN ({labels}) AND do_not_call
"""

WITH_TIME = """
UPDATE temp.{stage}_rows SET called_at = CAST(called_at AS DATE) + call_time
WHERE called_at IS NOT NULL AND call_time IS NOT NULL
"""
BAD_TIMES = "SELECT row FROM temp.{stage} WHERE t__call_time IS NOT NULL AND call_time IS NULL ORDER BY row"

SPAN = "SELECT min(called_at), max(called_at) FROM temp.{stage} WHERE called_at IS NOT NULL AND {valid}"
FILL_ROUND = "UPDATE temp.{stage}_rows SET round = ?, t__round = ?"
# --date: only rows with no date text at all; a date that cannot be read keeps its problem.
FILL_DATE = """
UPDATE temp.{stage}_rows SET called_at = CAST(? AS TIMESTAMP), t__called_at = ?, p__called_at = NULL
WHERE t__called_at IS NULL
"""


def prepare_calls(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    understanding: Understanding,
    round_name: str | None,
    call_date: dt.date | None = None,
) -> tuple[list[str], list[str]]:
    """Apply the format's ways to staged call rows: names, skipped rows, times, the round, the member.

    Args:
        stage: the staging table (fields.stage), before its problems are collected.
        round_name: --round, which wins over the file's own round column.
        call_date: --date, the day of every call whose row has no date.

    Returns:
        (notes, warnings) for the person importing: what was derived or skipped; times unread.
    """
    notes, warnings, profile, columns = [], [], understanding.profile, understanding.columns
    if profile.name_order == "last, first" and "full_name" in columns:
        con.execute(LAST_FIRST.format(stage=stage))
    if profile.skip_outcomes and "outcome" in columns:
        wanted = ", ".join(lit(labels.normalise(s)) for s in profile.skip_outcomes)
        if "do_not_call" in columns:
            con.execute(SKIPPED_OPTOUTS.format(stage=stage, norm=norm_sql("t__outcome"), labels=wanted))
        rows = con.execute(SKIPPED.format(stage=stage, norm=norm_sql("t__outcome"), labels=wanted)).fetchall()
        if rows:
            notes.append(
                f"{len(rows):,} rows were never contacted ({', '.join(profile.skip_outcomes)}); "
                "they were not loaded as calls."
            )
    if call_date is not None:
        shown = f"{call_date:%d/%m/%Y}"
        dated = con.execute(FILL_DATE.format(stage=stage) + " RETURNING 1", [call_date, shown])
        if n := len(dated.fetchall()):
            notes.append(f"{n:,} call{'s' if n > 1 else ''} with no date {'were' if n > 1 else 'was'} "
                         f"given {shown} (--date).")
    if "call_time" in columns:
        con.execute(WITH_TIME.format(stage=stage))
        bad = [r[0] for r in con.execute(BAD_TIMES.format(stage=stage)).fetchall()]
        if bad:
            shown = ", ".join(map(str, bad[:10])) + (", …" if len(bad) > 10 else "")
            warnings.append(
                f'{len(bad):,} time{"s" if len(bad) > 1 else ""} in column "{columns["call_time"]}" '
                f"could not be read (rows {shown}); those calls keep their date. Times are read as "
                "14:08, 14.08 or 1408."
            )
    warnings += prepare_dates(con, stage, understanding)
    notes += _fill_round(con, stage, columns, round_name)
    _find_members(con, stage, understanding)
    return notes, warnings


def prepare_dates(con: duckdb.DuckDBPyConnection, stage: str, understanding: Understanding) -> list[str]:
    """Apply the judgement of the file's date columns (`_judge_dates`) to its staged rows, member list
    or call export alike.

    Args:
        stage: the staging table (fields.stage), before its problems are collected.

    Returns:
        Warnings for the person importing: dates made row problems rather than guessed, and date
        columns that look like a file opened in Excel set to the other date order.
    """
    warnings = []
    for name in understanding.date_orders:
        warnings += _unguessed_dates(con, stage, understanding, name)
    return warnings + understanding.warnings


# Dates that read as two different days, in a column that cannot say which order it is written in.
UNGUESSED_DATES = """
UPDATE temp.{stage}_rows SET p__{field} = ? WHERE p__{field} IS NULL AND {either} RETURNING row
"""


def _unguessed_dates(
    con: duckdb.DuckDBPyConnection, stage: str, understanding: Understanding, name: str
) -> list[str]:
    """Make the dates of field `name` that read either way (04/05/2020) row problems, when its column
    holds dates that read only month first but is read day first: a mixed column, or a tool's
    day-first format. Read day first they would be loaded, silently, on the wrong day as often as not.

    Returns:
        A warning naming the column and why, when any date was made a problem.
    """
    order, profile = understanding.date_orders[name], understanding.profile
    if understanding.month_first(name) or order.verdict == "day first":
        return []
    why, fix = _why_unguessed(order, profile)
    problem = f"reads as two different days (day first or month first), and {why}; it is not guessed"
    query = UNGUESSED_DATES.format(stage=stage, field=name, either=dates.either_way_sql(f"t__{name}"))
    n = len(con.execute(query, [problem]).fetchall())
    if not n:
        return []
    header = short_header(understanding.columns[name])
    first = f" (first: {order.example('either')})" if "either" in order.first else ""
    dates_read = "dates read" if n > 1 else "date reads"
    they = "they are row problems" if n > 1 else "it is a row problem"
    return [f'{n:,} {dates_read} as two different days in column "{header}"{first}, so {they}: {why}. {fix}']


def _why_unguessed(order: dates.DateOrder, profile: profiles.Profile) -> tuple[str, str]:
    """Why a column's dates that read either way are not guessed, and what to do, for messages."""
    if order.verdict == "mixed":
        return (
            f"this column holds both kinds: {order.example('day_first')} reads only day first and "
            f"{order.example('month_first')} only month first",
            "Write every date in the column the same way: day first (dd/mm/yyyy), or yyyy-mm-dd.",
        )
    if profile.name == "plain":  # unclear: month first, by too few dates to decide the rest on
        return (
            f"this column may be month first ({order.example('month_first')} reads only that way, and no "
            f"date only day first), but by too few dates to decide the {order.either:,} that read either way",
            "If its dates are day first, correct those that read only month first; if month first, write "
            "them as yyyy-mm-dd.",
        )
    twin = _month_first_twin(profile)
    return (
        f"this column looks month first ({order.example('month_first')} reads only that way, and no "
        f"date only day first), but the {profile.title} format is read day first",
        f"If the export writes dates month first, import it with --profile {twin.name}."
        if twin
        else "Ask for the export with its dates written yyyy-mm-dd.",
    )


def _month_first_twin(profile: profiles.Profile) -> profiles.Profile | None:
    """The profile that reads this one's format with its dates month first (van -> van_us), if any."""
    for other in profiles.PROFILES:
        same_otherwise = dataclasses.replace(
            other, name=profile.name, title=profile.title, telltales=profile.telltales, month_first=False
        )
        if other.month_first and same_otherwise == profile:
            return other
    return None


def _fill_round(con, stage: str, columns: dict[str, str], round_name: str | None) -> list[str]:
    if round_name:
        con.execute(FILL_ROUND.format(stage=stage), [round_name, round_name])
        return [f'every call was given the round "{round_name}" (--round).']
    if "round" in columns:
        return []
    first, last = con.execute(SPAN.format(stage=stage, valid="p__called_at IS NULL")).fetchone()
    if first is None:
        return []
    name = f"{first:%d %b %Y}" if first.date() == last.date() else f"{first:%d %b %Y} to {last:%d %b %Y}"
    con.execute(FILL_ROUND.format(stage=stage), [name, name])
    return [
        f'the file has no round or campaign column, so its calls form one round named "{name}" from '
        "the first and last call dates; give --round NAME to name it yourself."
    ]


ALIAS_MATCH = """
UPDATE temp.{stage}_rows s SET membership_number = m.membership_number,
    p__membership_number = CASE WHEN m.n > 1 THEN 'the {label} in column "' || {header} || '" belongs to '
        || m.n || ' members; correct the member list so each {label} is held once' END
FROM (SELECT {alias} AS alias, min(membership_number) AS membership_number, count(*) AS n
      FROM identities WHERE {alias} IS NOT NULL GROUP BY 1) m
WHERE s.membership_number IS NULL AND s.{alias} = m.alias
"""

# One join: every staged row with a phone and a first name against the identities with that E.164
# phone and that first name (case and spacing aside), counted per phone and name first. Two
# matches are two people sharing a line. Counting the identities (half a million) and not the
# joined rows (two million) saves a third of the join. Materialised first, then applied: DuckDB
# took 50-100 s to run this join inside the UPDATE on a 2-million-row call report.
PHONE_MATCHES = """
CREATE OR REPLACE TEMP TABLE ingest_phone_matches AS
SELECT x.row, i.membership_number, i.n
FROM temp.{stage} x
JOIN temp.ingest_phones ph ON ph.raw = x.t__phone
JOIN (SELECT phone, lower(trim(first_name)) AS first_name, min(membership_number) AS membership_number,
             count(*) AS n
      FROM identities WHERE phone IS NOT NULL GROUP BY phone, lower(trim(first_name))) i
    ON i.phone = ph.e164 AND i.first_name = lower(trim(x.first_name))
WHERE x.membership_number IS NULL
"""

PHONE_MATCH = """
UPDATE temp.{stage}_rows s SET membership_number = CASE WHEN m.n = 1 THEN m.membership_number END,
    p__phone = CASE WHEN m.n > 1 THEN 'belongs to ' || m.n || ' members with this first name (a shared '
        || 'line?), so the call cannot be given to one of them; add their membership number or '
        || 'another id to the export' END
FROM temp.ingest_phone_matches m
WHERE s.row = m.row
"""

UNMATCHED = """
UPDATE temp.{stage}_rows SET {problem_column} = {message}
WHERE membership_number IS NULL AND {problem_column} IS NULL
"""

ALIAS_LABELS = {"nationbuilder_id": "NationBuilder id", "van_id": "VAN id", "external_id": "external id"}


def _find_members(con: duckdb.DuckDBPyConnection, stage: str, understanding: Understanding) -> None:
    """Give each row without a membership number the member its other ids name, or a problem."""
    columns = understanding.columns
    identity = understanding.identity()
    if identity == "membership_number":
        return
    if identity in ALIAS_LABELS:
        label = ALIAS_LABELS[identity]
        con.execute(
            ALIAS_MATCH.format(stage=stage, alias=identity, label=label, header=lit(columns[identity]))
        )
        message = lit(
            f'has no membership number, and its {label} (column "{columns[identity]}") matches no member; '
            f"import the member list with its {label}s first"
        )
        con.execute(UNMATCHED.format(stage=stage, problem_column="p__membership_number", message=message))
        return
    if identity == "phone_first_name":
        ingest_members.register_phones(con, stage, "TRUE", progress=False)
        con.execute(PHONE_MATCHES.format(stage=stage))
        con.execute(PHONE_MATCH.format(stage=stage))
        message = lit(
            "matches no member by phone number and first name; check the number, or import the "
            "member list first"
        )
        con.execute(UNMATCHED.format(stage=stage, problem_column="p__phone", message=message))
        return
    message = lit(
        "has no membership number, member id, or phone number and first name, so the call cannot be "
        "given to a member"
    )
    con.execute(UNMATCHED.format(stage=stage, problem_column="p__membership_number", message=message))


OPTED_OUT = """
SELECT DISTINCT k.member_key FROM temp.{stage} s JOIN temp.ingest_keys k USING (membership_number)
WHERE {valid} AND s.do_not_call
"""
# Marks on rows never contacted, for members the store holds (the rows themselves were not kept).
SKIPPED_OPTED_OUT = """
SELECT DISTINCT i.member_key FROM temp.ingest_skipped_optouts s JOIN identities i USING (membership_number)
"""
SKIPPED_ANY = "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'ingest_skipped_optouts'"


def source_optouts(con: duckdb.DuckDBPyConnection, stage: str, valid: str, *, actor: str, sha256: str) -> int:
    """Put members the source system marks do-not-call (do_not_call, contact[optOut]) on the register.

    Through the opt-out register's own writer, with source "import" and the file's SHA-256.

    Returns:
        How many new register entries were made.
    """
    keys = {r[0] for r in con.execute(OPTED_OUT.format(stage=stage, valid=valid)).fetchall()}
    if con.execute(SKIPPED_ANY).fetchone()[0]:
        keys |= {r[0] for r in con.execute(SKIPPED_OPTED_OUT).fetchall()}
    keys = sorted(keys)
    if not keys:
        return 0
    return optouts.record_from_import(con, actor=actor, member_keys=keys, sha256=sha256)


__all__ = ["Understanding", "understand", "prepare_dates", "prepare_calls", "source_optouts"]
