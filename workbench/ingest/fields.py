"""How each field is cleaned and checked, as SQL, and the one query that stages a file's rows.

Each field has a rule: an SQL template for its value and one for its problem, over the cleaned text
`{t}` (NUL bytes removed, trimmed, blank as NULL) and the value `{v}`. `stage()` runs them all in one
pass over the staged file, three levels deep: text, then values, then problems. Problems are NULL
when the cell is fine, so a clean national file costs one scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from workbench.errors import InputError
from workbench.ingest import dates
from workbench.ingest.files import ROW, quote
from workbench.ingest.headers import ALIASES, normalise
from workbench.ingest.labels import VOCABULARIES, accepted, lookup
from workbench.ingest.problems import Check
from workbench.privacy import pseudonymise
from workbench.vocabulary import NEED_CATEGORIES

MAX_TEXT = 1_000
MAX_NOTES = 10_000
SPLIT = r"\s*[;,]\s*"


@dataclass(frozen=True)
class Rule:
    """A field's value and problem as SQL templates over {t} (text) and {v} (value)."""

    field: str
    value: str = "{t}"
    problem: str | None = None
    fix: str | None = None  # default: "correct the cell in the file", or for a cell too long, shorten it
    max_length: int = MAX_TEXT


def _sq(text: str) -> str:
    return text.replace("'", "''")


def norm_sql(expression: str) -> str:
    """SQL twin of headers.normalise: lower case, letters and digits only."""
    return f"regexp_replace(lower({expression}), '[^0-9a-z]+', '', 'g')"


def _check_literals(frame, vocabulary: str) -> None:
    # Not an assert: `python -O` drops asserts, and this is what keeps the inlined SQL literals safe.
    codes = VOCABULARIES[vocabulary]
    if not (frame["label"].str.fullmatch("[0-9a-z]*").all() and frame["code"].isin(codes).all()):
        raise ValueError(f"The {vocabulary} labels are not safe to inline as SQL literals.")


def vocab_map(vocabulary: str, mapping: dict | None = None) -> str:
    """A DuckDB MAP literal from normalised label to code.

    Safe to inline: labels are normalised to [0-9a-z] and codes come from the fixed vocabularies.
    """
    labels, codes = _vocab_frame(vocabulary, mapping)
    pairs = ", ".join(f"'{label}': '{code}'" for label, code in zip(labels, codes, strict=True))
    return "MAP {" + pairs + "}"


def vocab_case(vocabulary: str, expression: str) -> str:
    """SQL CASE from normalised label to code, for use inside a lambda.

    A MAP literal inside a list lambda is rebuilt for every row (about 1.3 s over 2 million calls);
    a CASE costs next to nothing. Safe to inline for the same reasons as `vocab_map`.
    """
    frame = lookup(None)
    frame = frame[frame["vocabulary"] == vocabulary]
    _check_literals(frame, vocabulary)
    whens = " ".join(
        f"WHEN '{label}' THEN '{code}'" for label, code in zip(frame["label"], frame["code"], strict=True)
    )
    return f"CASE {expression} {whens} END"


def _lower_map(vocabulary: str, mapping: dict | None = None) -> str:
    """A MAP literal from a label as people write it, in lower case, to its code: most cells match
    here without the regular expression that normalising needs (~0.35 s over 2 million calls).

    Each entry's code is the one the normalised label gets from `vocab_map` (a mapping file's
    labels win), so a cell found here gets the same code it would get there. Only [a-z0-9 /_-]
    labels, so inlining stays safe.
    """
    codes = dict(zip(*_vocab_frame(vocabulary, mapping), strict=True))
    labels = [label for code, known in VOCABULARIES[vocabulary].items() for label in (code, *known)]
    if vocabulary == "outcome":
        labels += list((mapping or {}).get("outcomes") or {})
    pairs = {
        label.lower(): codes[normalise(label)]
        for label in labels
        if label.isascii() and all(c.isalnum() or c in " /_-" for c in label) and normalise(label) in codes
    }
    return "MAP {" + ", ".join(f"'{label}': '{code}'" for label, code in pairs.items()) + "}"


def _vocab_frame(vocabulary: str, mapping: dict | None) -> tuple[list[str], list[str]]:
    """(normalised labels, codes) of `vocabulary`, a mapping file's outcome labels included."""
    frame = lookup((mapping or {}).get("outcomes"))
    frame = frame[frame["vocabulary"] == vocabulary]
    _check_literals(frame, vocabulary)
    return list(frame["label"]), list(frame["code"])


def label_sql(vocabulary: str, mapping: dict | None = None, text: str = "{t}") -> str:
    """SQL: the code for the label in `text`, or NULL; exact lower-case labels first, then normalised.

    Most cells of the optional columns are blank: both lookups are skipped for them.
    """
    normalised = f"({vocab_map(vocabulary, mapping)})[{norm_sql(text)}]"
    if vocabulary != "outcome":  # outcome labels are many and wordy, and matched by meaning besides
        normalised = f"CASE WHEN {plain_sql(text)} THEN {normalised} END"
    return (
        f"CASE WHEN {text} IS NOT NULL THEN coalesce(({_lower_map(vocabulary, mapping)})[lower({text})], "
        f"{normalised}) END"
    )


# A label as people write one: a letter or digit first, then letters, digits, spaces and the marks
# of ordinary writing. Only such text is normalised to find its label: "%n", "{0}", "--1" and "0"
# between emoji had their other characters dropped and were read as No, Yes or low.
PLAIN_LABEL = r"[\p{L}\p{N}][\p{L}\p{N}\s.,;:!?''’/_&+()-]*"
# The same for text all in ASCII, most cells: RE2 matches Unicode classes ten times slower.
PLAIN_ASCII_LABEL = r"[0-9A-Za-z][0-9A-Za-z\s.,;:!?''/_&+()-]*"


def plain_sql(expression: str, *, ascii_only: bool = False) -> str:
    """SQL: true when `expression` is written as a label is (`PLAIN_LABEL`).

    `ascii_only`: text with other letters is not plain. For use inside a list lambda, where DuckDB
    compiles a pattern with Unicode classes again and again.
    """
    ascii_ = (f"strlen({expression}) = length({expression}) "
              f"AND regexp_full_match({expression}, '{PLAIN_ASCII_LABEL}')")
    if ascii_only:
        return ascii_
    return f"CASE WHEN {ascii_} THEN TRUE ELSE regexp_full_match({expression}, '{PLAIN_LABEL}') END"


def required(field: str, what: str) -> Rule:
    return Rule(
        field,
        problem=f"CASE WHEN {{t}} IS NULL THEN 'is blank; every row needs {what}' END",
        fix=f"fill in {what}, or remove the row",
    )


# "Yes - I would like a call back" and "No thanks" are yes/no answers too (a lone Y or N is a label
# already; "N/A" and "Not sure" are neither).
YES_LIKE = r"^(yes|true)\b"
NO_LIKE = r"^(no|false)\b"


def _answers(field: str, mapping: dict | None, codes: tuple[str, ...], text: str = "{t}") -> str:
    """SQL: the text with a mapping file's [answers.FIELD] applied ("Yes - medicine" -> medicine).

    Safe to inline: answers are normalised to [0-9a-z] and values checked against `codes`.
    """
    table = ((mapping or {}).get("answers") or {}).get(field) or {}
    if not table:
        return text
    pairs = []
    for answer, value in table.items():
        value = str(value).strip().lower().replace(" ", "_")
        if value not in codes:
            raise InputError(
                f'Mapping [answers.{field}]: "{answer}" maps to "{value}", which is not one of: '
                f"{', '.join(codes)}."
            )
        pairs.append(f"'{normalise(answer)}': '{normalise(value)}'")
    return f"coalesce((MAP {{{', '.join(pairs)}}})[{norm_sql(text)}], {text})"


def _yes_no(field: str, mapping: dict | None = None) -> Rule:
    text = _answers(field, mapping, ("true", "false", "yes", "no"))
    label = label_sql("yes_no", None, text)
    return Rule(
        field,
        value=f"CAST(coalesce({label}, CASE WHEN regexp_matches(lower({{t}}), '{YES_LIKE}') THEN 'true' "
        f"WHEN regexp_matches(lower({{t}}), '{NO_LIKE}') THEN 'false' END) AS BOOLEAN)",
        problem="CASE WHEN {t} IS NOT NULL AND {v} IS NULL THEN "
        f"'is not yes or no (accepted: {_sq(accepted('yes_no'))}, or blank)' END",
        fix="write Y or N, or leave it blank",
    )


def _labelled(
    field: str, vocabulary: str, what: str, mapping: dict | None = None, blank_ok: bool = True
) -> Rule:
    blank = "" if blank_ok else f"WHEN {{t}} IS NULL THEN 'is blank; every call needs {what}' "
    text = "{t}" if vocabulary == "outcome" else _answers(field, mapping, tuple(VOCABULARIES[vocabulary]))
    return Rule(
        field,
        value=label_sql(vocabulary, mapping, text),
        problem=f"CASE {blank}WHEN {{t}} IS NOT NULL AND {{v}} IS NULL THEN "
        f"'is not {what} we know. Accepted labels: {_sq(accepted(vocabulary))}' END",
        fix=f"use one of the accepted labels, or map yours in a mapping file's [{vocabulary}s] section"
        if vocabulary == "outcome"
        else "use one of the accepted labels",
    )


def _date(
    field: str, serials: bool, as_date: bool, required: str | None = None, month_first: bool = False,
    date1904: bool = False,
) -> Rule:
    text = dates.month_first_sql("{t}") if month_first else "{t}"
    parsed = dates.parse_sql(text, serials=serials, date1904=date1904)
    value = f"CAST({parsed} AS DATE)" if as_date else parsed
    problem = dates.problem_sql("{t}", "{v}")
    if required:
        problem = f"CASE WHEN {{t}} IS NULL THEN 'is blank; every row needs {required}' ELSE {problem} END"
    fix = (
        "write the date month first as m/d/yyyy, as this column's other dates are (or yyyy-mm-dd)"
        if month_first
        else "write the date day first as dd/mm/yyyy (or yyyy-mm-dd)"
    )
    return Rule(field, value=value, problem=problem, fix=fix)


# A long number as a spreadsheet shows it (1.00E+11): its digits are gone, and every number in the
# column that rounds alike would become one member.
SCIENTIFIC = r"[0-9](\.[0-9]+)?[eE]\+[0-9]+"
# A whole number as pandas writes a float column (100000000001.0): the number is all there.
DECIMAL_ZERO = r"[0-9]+\.0+"
SCIENTIFIC_PROBLEM = (
    f"WHEN contains({{t}}, '+') AND regexp_full_match({{t}}, '{SCIENTIFIC}') "
    "THEN 'is in scientific notation, as a spreadsheet shows a long number: its last digits are lost'"
)
# The label of a totals row at the foot of a list ("Total", "Grand total:", "Totals"), where a
# member's number or first name would be.
TOTALS_LABEL = r"(?i)((grand|sub) ?)?totals?\b.*|sum|count"
TOTALS_PROBLEM = (
    f"WHEN regexp_full_match({{t}}, '{TOTALS_LABEL}') "
    "THEN 'is the label of a totals row, not a member: delete the totals row'"
)
MEMBERSHIP_NUMBER_FIX = (
    "fill in the membership number in full (if the spreadsheet shows it as 1.00E+11, format the column "
    "as text and export it again), or remove the row"
)


def membership_number_value() -> str:
    """SQL: the membership number as the store holds it (`pseudonymise.MEMBERSHIP_NUMBER_SQL`), with
    the ".0" that pandas adds to a whole number taken off, so the file's 100000000001.0 is the
    member list's 100000000001 and not a new member."""
    # contains() first: a byte search, where the pattern would be matched against every row.
    text = (f"CASE WHEN contains({{t}}, '.') AND regexp_full_match({{t}}, '{DECIMAL_ZERO}') "
            f"THEN split_part({{t}}, '.', 1) ELSE {{t}} END")
    return pseudonymise.MEMBERSHIP_NUMBER_SQL.replace("{t}", text)


def membership_number_problem(blank: str | None) -> str:
    """SQL: a membership number's problem: blank, in scientific notation, or a totals row's label
    (`blank`: the blank problem's text; None when a blank number is filled in later from the member's
    other ids)."""
    blank_case = f"WHEN {{t}} IS NULL THEN '{blank}' " if blank else ""
    return f"CASE {blank_case}{SCIENTIFIC_PROBLEM} {TOTALS_PROBLEM} END"


def _name(field: str) -> Rule:
    """A name field: any text, but the label of a totals row ("Total members") is no one's name."""
    return Rule(field, problem=f"CASE {TOTALS_PROBLEM} END", fix="delete the totals row")


def member_rules(serials: bool, *, month_first: bool = False, date1904: bool = False) -> list[Rule]:
    """The member fields' rules.

    Args:
        serials: the file is a workbook, whose numbers in a date column are Excel serial days.
        month_first: the joined dates are read M/D/YYYY (the format, or the column, says so).
        date1904: the workbook counts serial days from 1904.
    """
    return [
        Rule(
            "membership_number",
            value=membership_number_value(),
            problem=membership_number_problem("is blank; every row needs a membership number"),
            fix=MEMBERSHIP_NUMBER_FIX,
        ),
        _name("first_name"),
        Rule("last_name"),
        _name("full_name"),
        Rule("phone"),  # normalised later, once per distinct number
        Rule("email", value="lower({t})"),
        Rule("address"),
        Rule("postcode", value=r"upper(regexp_replace({t}, '\s+', ' ', 'g'))"),
        Rule("ward"),
        Rule("branch"),
        Rule(
            "age",
            value="TRY_CAST(TRY_CAST({t} AS DOUBLE) AS INTEGER)",
            problem="CASE WHEN {t} IS NOT NULL AND ({v} IS NULL OR {v} NOT BETWEEN 0 AND 120) "
            "THEN 'is not an age in whole years (0 to 120)' END",
            fix="write the age as a whole number, or leave it blank",
        ),
        _date("joined_on", serials, as_date=True, month_first=month_first, date1904=date1904),
        *(Rule(alias, value=r"regexp_replace({t}, '\s+', '', 'g')") for alias in ALIASES),
        _yes_no("do_not_call"),
    ]


def call_rules(
    serials: bool, mapping: dict | None, *, has_round: bool = True, month_first: bool = False,
    date1904: bool = False,
) -> list[Rule]:
    """The call fields' rules.

    Args:
        has_round: the file has a round column (so a blank round is a problem); otherwise the
            round is filled in for every row after staging.
        month_first: the call dates are read M/D/YYYY (the format, or the column, says so).
        date1904: the workbook counts serial days from 1904.
    """
    # Need parts: blank ones dropped before normalising, so a part in a script the categories are not
    # written in (they are ASCII) is a problem, not silently nothing; each normalised once, in a list
    # of its own, because `vocab_case` repeats its expression in every WHEN.
    parts = (f"list_transform(list_filter(string_split_regex({{t}}, '{SPLIT}'), x -> trim(x) <> ''), "
             f"x -> CASE WHEN {plain_sql('trim(x)', ascii_only=True)} THEN {norm_sql('x')} END)")
    category = vocab_case("category", _answers("need_categories", mapping, NEED_CATEGORIES, "x"))
    return [
        # Its problems are set later: a cell too long, or the same id as an earlier row.
        Rule("call_id", fix="give each call its own id, within the length limit, or remove the later row"),
        Rule(
            "round",
            problem="CASE WHEN {t} IS NULL THEN 'is blank; every call needs its round' END"
            if has_round
            else None,
            fix="fill in the round (e.g. R1), or remove the row",
        ),
        Rule("caller"),
        _date("called_at", serials, as_date=False, required="the date of the call", month_first=month_first,
              date1904=date1904),
        # A time of its own (council logs): 14:08, 14.08 or 1408. Unreadable is a warning, not a problem.
        Rule("call_time", value=dates.time_sql("{t}")),
        _labelled("outcome", "outcome", "an outcome", mapping, blank_ok=False),
        Rule(
            "wellbeing",
            value="TRY_CAST(TRY_CAST({t} AS DOUBLE) AS INTEGER)",
            problem="CASE WHEN {t} IS NOT NULL AND ({v} IS NULL OR {v} NOT BETWEEN 1 AND 5) "
            "THEN 'is not a wellbeing score from 1 (struggling) to 5 (doing well)' END",
            fix="write a whole number from 1 to 5, or leave it blank",
        ),
        _yes_no("needs_support", mapping),
        Rule(
            "need_categories",
            # Most calls name no need: skip the list work for them.
            value=f"CASE WHEN {{t}} IS NOT NULL THEN list_transform({parts}, "
            f"x -> {category}) END",
            problem="CASE WHEN list_count({v}) < len({v}) THEN "
            f"'holds a need category we do not know. Accepted: {_sq(accepted('category'))}' END",
            fix="use the accepted categories, separated by ; or ,",
        ),
        _labelled("urgency", "urgency", "an urgency"),
        _yes_no("keen_to_volunteer", mapping),
        Rule(
            "skills",
            value=_skills_sql(),
        ),
        Rule(
            "services_referenced",
            value=f"CASE WHEN {{t}} IS NOT NULL THEN list_distinct(list_filter(list_transform("
            f"string_split_regex({{t}}, '{SPLIT}'), x -> trim(x)), x -> x <> '')) END",
        ),
        _labelled("dp_query", "dp_query", "a data-protection query type"),
        Rule("notes", max_length=MAX_NOTES),
    ]


def _skills_sql() -> str:
    """A cell's skills as stored: lower case, each run of other characters one underscore, letters of
    any script kept. DuckDB compiles a regular expression inside a list lambda again and again, and
    one with Unicode classes took four times the whole column's work: so a cell not all ASCII has its
    other marks made spaces first, outside the lambda, and the lambda's pattern has no classes."""
    cell = ("CASE WHEN strlen({t}) = length({t}) THEN {t} "
            r"ELSE regexp_replace({t}, '[^\p{L}\p{N}\s;,]+', ' ', 'g') END")
    snake = r"trim(regexp_replace(lower(x), '[^0-9a-z\x{80}-\x{10FFFF}]+', '_', 'g'), '_')"
    return (f"CASE WHEN {{t}} IS NOT NULL THEN list_distinct(list_filter(list_transform("
            f"string_split_regex({cell}, '{SPLIT}'), x -> {snake}), x -> x <> '')) END")


def service_rules() -> list[Rule]:
    split = f"list_filter(list_transform(string_split_regex({{t}}, '{SPLIT}'), x -> trim(x)), x -> x <> '')"
    return [
        # Its problems are set later: a cell too long, or the same id as an earlier row.
        Rule("service_id",
             fix="give each service its own id, within the length limit, or remove the later row"),
        Rule(
            "name",
            problem="CASE WHEN {t} IS NULL THEN 'is blank; every service needs a name' END",
            fix="fill in the service's name, or remove the row",
        ),
        Rule(
            "category",
            value=f"({vocab_map('category')})[{norm_sql('{t}')}]",
            problem="CASE WHEN {t} IS NOT NULL AND {v} IS NULL THEN "
            f"'is not a category we know. Accepted: {_sq(accepted('category'))}' END",
            fix="use one of the accepted categories",
        ),
        Rule("areas", value=split),
        Rule("contact"),
        Rule("aliases", value=split),
        Rule(
            "status",
            value="lower(regexp_replace({t}, '[\\s_]+', ' ', 'g'))",
            problem="CASE WHEN {v} NOT IN ('active', 'inactive', 'defunct', 'temporarily closed') "
            "THEN 'is not a service status (active, inactive, defunct or temporarily closed)' END",
            fix="write active, inactive, defunct or temporarily closed, or leave it blank (active)",
        ),
    ]


def _length_problem(rule: Rule) -> str:
    return (
        f"WHEN length(t__{rule.field}) > {rule.max_length} THEN 'is ' || length(t__{rule.field}) || "
        f"' characters long; the longest accepted is {rule.max_length}'"
    )


def _fill(template: str, field: str) -> str:
    # str.replace, not str.format: the templates hold MAP literals with braces of their own.
    return template.replace("{t}", f"t__{field}").replace("{v}", field)


def lit(text: str) -> str:
    """A constant string as an SQL literal."""
    return "'" + text.replace("'", "''") + "'"


# Characters that show nothing at either end of a cell: spaces of every kind, the separators Python's
# str.strip() removes, and format characters (zero-width space, word joiner, byte-order mark).
INVISIBLE_ENDS = r"^[\s\x{0B}\x{1C}-\x{1F}\x{85}\p{Z}\p{Cf}]+|[\s\x{0B}\x{1C}-\x{1F}\x{85}\p{Z}\p{Cf}]+$"


def _text(header: str, nul_free: bool, strip_apostrophe: bool) -> str:
    # Trimmed, blank as NULL; NUL bytes removed unless the file has none.
    cell = f"CAST(r.{quote(header)} AS VARCHAR)"
    cell = cell if nul_free else f"replace({cell}, chr(0), '')"
    # trim() copies every value (~1 s for 2M rows of 8 columns), and removes only spaces: ASCII 32
    # and Unicode space separators. A value all in ASCII (as many bytes as characters) with no space
    # at either end has nothing to trim and is kept as it is. These are byte tests; reading its last
    # character (cell[-1]) cost as much as the trim it saved (2M CallHub rows: 1.9 s -> 1.1 s).
    # Other text also loses the invisible characters at its ends (a zero-width space, a byte-order
    # mark, a no-break space), so a cell holding nothing else is blank, not a member numbered ''.
    cell = (
        f"CASE WHEN strlen({cell}) = length({cell}) AND NOT starts_with({cell}, ' ') "
        f"AND NOT ends_with({cell}, ' ') THEN {cell} "
        f"WHEN strlen({cell}) = length({cell}) THEN trim({cell}) "
        f"ELSE regexp_replace({cell}, '{INVISIBLE_ENDS}', '', 'g') END"
    )
    if strip_apostrophe:
        # One apostrophe, before a number only: what Excel's text marker protects (ids, phones). A
        # name such as 't Hooft, or text that begins with quotes, is kept as written.
        cell = (f"CASE WHEN starts_with({cell}, '''') AND regexp_full_match({cell}, '''[0-9+() .-]+') "
                f"THEN substr({cell}, 2) ELSE {cell} END")
    return f"nullif({cell}, '')"


# Fields whose columns later steps may set (the member found by phone, a derived round, duplicate
# marks, names split from "Last, First"): always stored, present or not.
SET_LATER = frozenset(
    {"membership_number", "first_name", "last_name", "round", "called_at", "call_id", "phone",
     "service_id", "name"}
)

STAGE = """
CREATE TEMP TABLE {rows} AS
SELECT row, {kept} FROM (
    SELECT *, {problems} FROM (
        SELECT *, {values} FROM (
            SELECT r.{row} AS row, {texts} FROM temp.{raw} r
        )
    )
)
"""

# A field the file lacks has the same value on every row (its rules see only its own, blank, text),
# so it is a constant in a view rather than two million stored NULLs: DuckDB does not compress
# temporary tables, and a national file's thirty absent fields took 1.5 GB and spilled to disk.
STAGE_VIEW = """
CREATE TEMP VIEW {stage} AS
SELECT *, {problems} FROM (
    SELECT *, {values} FROM (
        SELECT r.*, {texts} FROM temp.{rows} r
    )
)
"""


def rows_table(stage_table: str) -> str:
    """The stored table behind the staging view: UPDATE and DELETE go here, reads go to the view."""
    return f"{stage_table}_rows"


def stage(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    stage_table: str,
    rules: list[Rule],
    columns: dict[str, str],
    *,
    nul_free: bool = False,
    strip_apostrophe: bool = False,
) -> list[Check]:
    """Create the view `stage_table`: row, t__<field> (text), <field> (value) and p__<field> (problem).

    Its rows are stored in `rows_table(stage_table)`, which holds the fields the file has and those
    later steps set (SET_LATER); every other field is a constant of the view.

    Args:
        nul_free: the file holds no NUL byte, so cells need not have them stripped.
        strip_apostrophe: drop the leading ' that kept a number as text in Excel ('07700900123).

    Returns:
        The checks (problem columns) to collect.
    """
    stored = [r for r in rules if r.field in columns or r.field in SET_LATER or _always_wrong(con, r)]
    constant = [r for r in rules if r not in stored]
    texts = ", ".join(
        (
            _text(columns[r.field], nul_free, strip_apostrophe)
            if r.field in columns
            else "CAST(NULL AS VARCHAR)"
        )
        + f" AS t__{r.field}"
        for r in rules
    )
    # A constant field's problem is NULL on every row (else it is stored, above): nothing to check.
    checks = [
        Check(r.field, r.fix or ("correct the cell in the file" if r.problem else "shorten the cell"))
        for r in stored
        if r.problem or r.field in columns
    ]
    rows = rows_table(stage_table)
    drop(con, stage_table)
    con.execute(
        STAGE.format(
            rows=rows, row=ROW, raw=raw, texts=texts, values=_values(rules),
            problems=_problems(rules, columns),
            kept=", ".join(f"t__{r.field}, {r.field}, p__{r.field}" for r in stored),
        )
    )
    view = (
        STAGE_VIEW.format(
            stage=stage_table, rows=rows, values=_values(constant), problems=_problems(constant, columns),
            texts=", ".join(f"CAST(NULL AS VARCHAR) AS t__{r.field}" for r in constant),
        )
        if constant
        else f"CREATE TEMP VIEW {stage_table} AS SELECT * FROM temp.{rows}"
    )
    con.execute(view)
    return checks


def _always_wrong(con: duckdb.DuckDBPyConnection, rule: Rule) -> bool:
    """Whether a field the file lacks has a problem on every row (a required field, say)."""
    if not rule.problem:
        return False
    blank = f"SELECT CAST(NULL AS VARCHAR) AS t__{rule.field}"
    value = f"SELECT *, {_fill(rule.value, rule.field)} AS {rule.field} FROM ({blank})"
    return con.execute(f"SELECT {_fill(rule.problem, rule.field)} FROM ({value})").fetchone()[0] is not None


def drop(con: duckdb.DuckDBPyConnection, stage_table: str) -> None:
    """Drop a staging view and the rows behind it, if they exist."""
    con.execute(f"DROP VIEW IF EXISTS temp.{stage_table}")
    con.execute(f"DROP TABLE IF EXISTS temp.{rows_table(stage_table)}")


def _values(rules: list[Rule]) -> str:
    return ", ".join(f"{_fill(r.value, r.field)} AS {r.field}" for r in rules)


def _problems(rules: list[Rule], columns: dict[str, str]) -> str:
    problems = []
    for r in rules:
        inner = _fill(r.problem, r.field) if r.problem else "NULL"
        length = _length_problem(r) if r.field in columns else ""
        checked = f"CASE {length} WHEN TRUE THEN {inner} END" if length else inner
        problems.append(f"{checked} AS p__{r.field}")
    return ", ".join(problems)


__all__ = [
    "Rule",
    "stage",
    "rows_table",
    "drop",
    "member_rules",
    "call_rules",
    "service_rules",
    "norm_sql",
    "vocab_map",
    "normalise",
]
