"""Survey questions: which of an export's question columns means what, and the mapping file that says so.

Calling tools put one column per survey question, headed by the question's full text (CallHub,
Spoke's question[...]). The workbench cannot know that "Do you need any support at the moment?"
is *needs support*, so a person says so once, in a mapping file's [columns], and maps answer
text to values in [answers.FIELD]. `questions` lists the columns nothing else used, with their
answers; `mapping_text` writes the file; the load notebook puts a person in between.

Examples:
    >>> print(mapping_text({"needs_support": "Need help?"}, {"need_categories": {"Meds": "medicine"}}))
    [columns]
    needs_support = "Need help?"
    <BLANKLINE>
    [answers.need_categories]
    "Meds" = "medicine"
    <BLANKLINE>
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import files, formats, oruk
from workbench.ingest.headers import load_mapping
from workbench.vocabulary import DP_QUERIES, NEED_CATEGORIES, URGENCIES

# The call fields a survey question can feed, and the values their answers map to (None: free text
# or a number, no answer table).
FIELDS: dict[str, tuple[str, ...] | None] = {
    "needs_support": ("yes", "no"),
    "need_categories": NEED_CATEGORIES,
    "keen_to_volunteer": ("yes", "no"),
    "urgency": URGENCIES,
    "dp_query": DP_QUERIES,
    "wellbeing": None,
    "skills": None,
    "services_referenced": None,
    "notes": None,
}
MULTI = ("need_categories", "skills", "services_referenced")  # answers split on ; and ,
SHOWN_ANSWERS = 40


@dataclass(frozen=True)
class Question:
    """One unused column of an export: its header and its distinct answers (split when multi-choice)."""

    column: str
    answers: tuple[str, ...]


def questions(
    con: duckdb.DuckDBPyConnection, path: str | Path, *, mapping: str | Path | None = None
) -> list[Question]:
    """The columns of a call export that no field took, with their distinct answers.

    Reads the file into a temporary table only; nothing is written to the store.

    Raises:
        InputError: the file cannot be read or lacks the columns every call export needs.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No file at {path}. Check the path.")
    try:
        staged = files.stage(con, path)
        understood = formats.understand(con, "calls", staged, load_mapping(mapping), path.name)
        return [Question(h, tuple(_answers(con, staged.table, h))) for h in understood.match.extra]
    finally:
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'ingest%'"
        ).fetchall():
            con.execute(f"DROP TABLE IF EXISTS temp.{files.quote(name)}")


def _answers(con: duckdb.DuckDBPyConnection, table: str, header: str) -> list[str]:
    values = con.execute(
        f"SELECT DISTINCT trim(CAST({files.quote(header)} AS VARCHAR)) AS v FROM temp.{table} "
        f"WHERE nullif(trim(CAST({files.quote(header)} AS VARCHAR)), '') IS NOT NULL ORDER BY v LIMIT 200"
    ).fetchall()
    parts = {p.strip() for (v,) in values for p in v.replace(";", ",").split(",") if p.strip()}
    return sorted(parts)[:SHOWN_ANSWERS]


def suggest(field: str, answer: str) -> str | None:
    """A likely value for an answer ("Yes - medicine" -> medicine), or None; a person confirms it."""
    if FIELDS.get(field) == ("yes", "no"):
        word = answer.strip().lower().split(" ")[0].strip(",.-")
        return {"yes": "yes", "y": "yes", "no": "no", "n": "no"}.get(word)
    if field == "need_categories":
        return oruk.category_for(answer)
    allowed = FIELDS.get(field) or ()
    return next((v for v in allowed if v.replace("_", " ") in answer.lower()), None)


def mapping_text(columns: dict[str, str], answers: dict[str, dict[str, str]] | None = None) -> str:
    """A mapping file: [columns] field = "question", then [answers.FIELD] "answer" = "value".

    Raises:
        InputError: a field a question cannot feed, or an answer mapped to a value its field lacks.
    """
    lines = ["[columns]"]
    for field, header in columns.items():
        if field not in FIELDS:
            raise InputError(
                f'"{field}" is not a field a survey question can feed. Fields: {", ".join(FIELDS)}.'
            )
        lines.append(f"{field} = {json.dumps(header, ensure_ascii=False)}")
    for field, table in (answers or {}).items():
        allowed = FIELDS.get(field) or ()
        bad = [v for v in table.values() if v not in allowed]
        if bad:
            raise InputError(f'[answers.{field}]: "{bad[0]}" is not one of: {", ".join(allowed)}.')
        if table:
            lines += ["", f"[answers.{field}]"]
            lines += [f"{json.dumps(a, ensure_ascii=False)} = {json.dumps(v)}" for a, v in table.items()]
    return "\n".join(lines) + "\n"


def save(text: str, path: str | Path, *, force: bool = False) -> Path:
    """Write a mapping file (checked by reading it back the way an import will).

    Its answers are text from a call export, so it is written as any file of the workbench's is
    (`exports.write_text`: whole, 0600, never through a symbolic link).

    Args:
        force: replace a file already at `path`; without it, an existing file is refused.

    Raises:
        InputError: something is already at `path` (without force), or the folder cannot be written.
    """
    path = exports.write_text(Path(path).expanduser(), text, force=force)
    load_mapping(path)
    return path


def table(found: list[Question]) -> pd.DataFrame:
    """The questions as a table for a person: column, how many answers, a few of them."""
    return pd.DataFrame(
        {
            "column": [q.column for q in found],
            "answers": [len(q.answers) for q in found],
            "for example": ["; ".join(q.answers[:5]) for q in found],
        }
    )


__all__ = ["FIELDS", "Question", "mapping_text", "questions", "save", "suggest", "table"]
