"""Labels read in SQL: the lower-case fast path gives every cell the code normalising would give."""

from __future__ import annotations

import unicodedata

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.ingest import fields
from workbench.ingest.labels import VOCABULARIES

# CallHub's dispositions as a profile maps them, and a mapping file overriding a built-in label.
MAPPING = {"outcomes": {"NO_ANSWER": "no_answer", "USER_BUSY": "busy", "Engaged": "call_back_later",
                        "LEFT_MESSAGE": "voicemail"}}
KNOWN = sorted({label for vocabulary in ("outcome", "urgency", "yes_no") for code, labels in
                VOCABULARIES[vocabulary].items() for label in (code, *labels)} | set(MAPPING["outcomes"]))


def _spelling(label: str, upper: list[bool], separator: str) -> str:
    """`label` with some letters' case flipped and its spaces and underscores written `separator`."""
    flips = upper + [False] * len(label)
    text = "".join(c.upper() if flip else c.lower() for c, flip in zip(label, flips, strict=False))
    return text.replace(" ", separator).replace("_", separator)


@settings(max_examples=60, deadline=None)
@given(
    label=st.sampled_from(KNOWN),
    upper=st.lists(st.booleans(), max_size=30),
    separator=st.sampled_from([" ", "_", "-", "", "/", "  ", "."]),
    vocabulary=st.sampled_from(["outcome", "urgency", "yes_no"]),
    mapped=st.booleans(),
)
def test_a_label_gets_the_same_code_with_or_without_the_lower_case_fast_path(
    label, upper, separator, vocabulary, mapped
):
    mapping = MAPPING if mapped else None
    cell = _spelling(label, upper, separator)
    with duckdb.connect() as con:
        both = _one(con, fields.label_sql(vocabulary, mapping, "t"), cell)
        normalised = _one(con, f"({fields.vocab_map(vocabulary, mapping)})[{fields.norm_sql('t')}]", cell)
    assert both == normalised


def _one(con, expression: str, cell: str):
    return con.execute(f"SELECT {expression} FROM (SELECT ?::VARCHAR AS t)", [cell]).fetchone()[0]


def test_a_mapping_file_label_wins_on_the_fast_path_too():
    with duckdb.connect() as con:
        code = _one(con, fields.label_sql("outcome", MAPPING, "t"), "engaged")
        built_in = _one(con, fields.label_sql("outcome", None, "t"), "engaged")
    assert (code, built_in) == ("call_back_later", "busy")


# Spaces trim() removes (ASCII and Unicode separators), others it keeps, invisible format characters
# (zero-width space, byte-order mark, word joiner), and text either side.
EDGES = [" ", "\u00a0", "\u3000", "\u2009", "\t", "\n", "\r", "\u200b", "\ufeff", "\u2060", "\x85",
         "x", "é", "😀", "'", "0"]


def _shows_nothing(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


@settings(max_examples=300, deadline=None)
@given(cell=st.one_of(st.text(max_size=12), st.lists(st.sampled_from(EDGES), max_size=6).map("".join)))
def test_a_cell_loses_what_shows_nothing_at_its_ends_whether_or_not_it_takes_the_fast_path(cell):
    """The staged text of a cell: all-ASCII text is trimmed as trim() does (its spaces; the fast path
    keeps a cell with none at either end as it is); other text also loses every character at its ends
    that shows nothing, so a cell of a zero-width space alone is blank. Blank is NULL."""
    with duckdb.connect() as con:
        staged = con.execute(f"SELECT {fields._text('h', True, False)} FROM (SELECT ?::VARCHAR AS h) r",  # noqa: SLF001
                             [cell]).fetchone()[0]
        trimmed = con.execute("SELECT nullif(trim(?::VARCHAR), '')", [cell]).fetchone()[0]
    if cell.isascii():
        assert staged == trimmed
    else:
        start, end = 0, len(cell)
        while start < end and _shows_nothing(cell[start]):
            start += 1
        while end > start and _shows_nothing(cell[end - 1]):
            end -= 1
        assert staged == (cell[start:end] or None)


def test_cells_with_spaces_at_their_ends_are_trimmed_and_others_kept_as_they_are():
    cells = [" SYN1", "SYN1 ", "\u00a0SYN1", "SYN1\u3000", "Zoë", "\tSYN1", "", "   ", "SYN1"]
    with duckdb.connect() as con:
        staged = [con.execute(f"SELECT {fields._text('h', True, False)} FROM (SELECT ?::VARCHAR AS h) r",  # noqa: SLF001
                              [c]).fetchone()[0] for c in cells]
    assert staged == ["SYN1", "SYN1", "SYN1", "SYN1", "Zoë", "\tSYN1", None, None, "SYN1"]
