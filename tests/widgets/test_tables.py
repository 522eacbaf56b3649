"""Interactive tables: bounded rows with a plain note, export buttons only for tables of counts."""

from __future__ import annotations

import json

import pandas as pd

from workbench.widgets.common import table
from workbench.widgets.tables import EXPORT_BUTTONS, FLOAT_RENDER


def _sent(t) -> list[list]:
    return json.loads(t.grid._dt_args["data_json"])


def test_a_big_table_sends_a_bounded_number_of_rows_and_says_so():
    frame = pd.DataFrame({"ward": [f"W{i:04d}" for i in range(2_500)], "needs": range(2_500)})
    t = table(max_rows=1_000, narrow="choose a branch")
    t.show(frame)
    assert len(_sent(t)) == 1_000 and _sent(t)[0] == ["W0000", 0]  # the first (most important) rows
    note = t.message.value
    assert "Showing the first 1,000 of 2,500 rows; 1,500 were left out" in note and "choose a branch" in note
    t.show(frame.head(10))
    assert t.message.value == "" and len(_sent(t)) == 10  # refilled in place, nothing left out


def test_a_table_of_counts_offers_exports_with_formula_text_escaped():
    t = table()
    t.show(pd.DataFrame({"ward": ["=HYPERLINK(1)", "Ashford"], "needs": [3, 12], "share": [0.25, 0.5]}))
    assert t.exportable and t.grid._dt_args["buttons"] == list(EXPORT_BUTTONS)
    rows = _sent(t)
    assert rows[0][0] == "'=HYPERLINK(1)" and rows[1] == ["Ashford", 12, 0.5]  # numbers stay numbers
    render = t.grid._dt_args["columnDefs"][0]
    assert render["targets"] == [2] and render["render"] == FLOAT_RENDER  # 2 decimals, right-aligned
    assert t.grid._dt_args["column_filters"] == "footer"


def test_tables_of_people_offer_no_export_button():
    keys = pd.DataFrame({"member_key": ["a1", "b2"], "ward": ["Ashford", "Elmwell"]})
    for t, frame in ((table(identity=True), keys[["ward"]]), (table(), keys)):
        t.show(frame)
        assert not t.exportable and "buttons" not in t.grid._dt_args
        assert "buttons" not in t.grid._dt_args["layout"].values()
    # A table that changes from counts to people loses its buttons.
    t = table()
    t.show(pd.DataFrame({"ward": ["Ashford"], "needs": [4]}))
    assert t.exportable
    t.show(keys)
    assert not t.exportable


def test_only_the_columns_given_are_sent_and_an_empty_table_says_so():
    t = table(identity=True)
    rows = pd.DataFrame({"member_key": ["a1"], "first_name": ["Alex"], "ward": ["Ashford"]})
    t.show(rows[["member_key", "ward"]])  # masked: the caller leaves the name out
    assert "Alex" not in t.grid._dt_args["data_json"] and "Alex" not in t.value
    t.show(rows.iloc[0:0], empty="Nobody in this selection.")
    assert "Nobody in this selection." in t.value and t.grid.layout.display == "none"
