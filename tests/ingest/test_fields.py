"""Labels read in SQL: the lower-case fast path gives every cell the code normalising would give."""

from __future__ import annotations

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
