"""Disclosure control on hand-made tables whose answers are obvious, and a property test that
secondary suppression cannot be undone by subtraction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.reports import disclosure

INTERNAL = disclosure.profile("internal")
PUBLIC = disclosure.profile("public")
EXACT = disclosure.profile("internal", rounding=False)


@pytest.mark.parametrize(("raw", "internal", "public"), [
    (0, 0, None), (1, None, None), (7, None, None), (8, 10, None), (9, 10, None), (10, 10, 10),
    (12, 10, 10), (13, 15, 15), (17, 15, 15), (18, 20, 20), (102, 100, 100), (103, 105, 105),
])
def test_cell_rules(raw, internal, public):
    frame = pd.DataFrame({"n": [raw]})
    got_internal = disclosure.protect_counts(frame, ["n"], INTERNAL)["n"].iloc[0]
    got_public = disclosure.protect_counts(frame, ["n"], PUBLIC)["n"].iloc[0]
    assert (None if pd.isna(got_internal) else got_internal) == internal
    assert (None if pd.isna(got_public) else got_public) == public


def test_protect_counts_returns_a_new_frame_and_leaves_the_input_alone():
    frame = pd.DataFrame({"ward": ["a", "b"], "n": [3, 40]})
    out = disclosure.protect_counts(frame, ["n"], "internal")
    assert out is not frame
    assert frame["n"].tolist() == [3, 40]
    assert out["ward"].tolist() == ["a", "b"]


def test_totals_come_from_raw_data_then_rounded():
    # Rows 3 + 3 + 3 would each be suppressed, but their raw total 9 is shown, rounded to 10.
    long = pd.DataFrame({"ward": ["a", "b", "c"], "n": [3, 3, 3]})
    out = disclosure.protect_table(long, "ward", None, "n", INTERNAL)
    assert out["n"].isna().tolist() == [True, True, True, False]
    assert out["n"].iloc[-1] == 10
    assert out["ward"].iloc[-1] == "Total"


def test_crosstab_rounds_and_suppresses_with_row_and_column_totals():
    long = pd.DataFrame({"ward": ["a", "a", "b"], "need": ["food", "housing", "food"], "n": [3, 9, 20]})
    out = disclosure.protect_table(long, "ward", "need", "n", INTERNAL).set_index("ward")
    assert out.loc["a", "food"] is pd.NA
    assert out.loc["a", "housing"] == 10
    assert out.loc["b", "housing"] == 0          # a zero stays 0 internally
    assert out.loc["Total", "Total"] == 30       # raw 32, rounded
    public = disclosure.protect_table(long, "ward", "need", "n", PUBLIC).set_index("ward")
    assert public.loc["b", "housing"] is pd.NA   # public suppresses zeros too
    assert public.loc["a", "housing"] is pd.NA   # 9 < 10


def test_a_zero_beside_a_suppressed_count_is_suppressed_too():
    # Row a holds a suppressed 3, so its zero goes; row b's zero has only big counts beside it: shown.
    long = pd.DataFrame({"ward": ["a", "a", "a", "b", "b", "b"], "need": ["food", "housing", "digital"] * 2,
                         "n": [3, 0, 20, 30, 40, 0]})
    out = disclosure.protect_table(long, "ward", "need", "n", INTERNAL).set_index("ward")
    assert out.loc["a", "housing"] is pd.NA       # beside a/food (3) in its row
    assert out.loc["b", "digital"] == 0           # its row and column hold no suppressed count
    assert out.loc["b", "housing"] == 40
    shown_zeros = disclosure.profile("internal").zero_rule
    assert "beside a suppressed count" in shown_zeros and PUBLIC.zero_rule == "suppressed"


def test_a_hidden_zero_hides_no_further_zeros():
    # a/housing is hidden beside a/food (3); the zero below it, b/housing, is beside a hidden zero only.
    long = pd.DataFrame({"ward": ["a", "a", "b", "b"], "need": ["food", "housing"] * 2, "n": [3, 0, 20, 0]})
    out = disclosure.protect_table(long, "ward", "need", "n", INTERNAL).set_index("ward")
    assert out.loc["a", "housing"] is pd.NA and out.loc["b", "housing"] == 0


def test_percentages_only_where_n_is_big_enough_and_from_rounded_figures():
    numerator = disclosure.protect_counts(pd.DataFrame({"n": [5, 8, 9]}), ["n"], INTERNAL)["n"]
    denominator = disclosure.protect_counts(pd.DataFrame({"n": [7, 12, 23]}), ["n"], INTERNAL)["n"]
    got = disclosure.percentage(numerator, denominator, pd.Series([7, 12, 23]), INTERNAL)
    assert np.isnan(got.iloc[0])                  # n = 7 < 8
    assert got.iloc[1] == 100.0                   # 10 / 10 (rounded figures), not 8 / 12
    assert got.iloc[2] == pytest.approx(40.0)     # 10 / 25


def test_means_only_where_n_is_big_enough():
    got = disclosure.mean(pd.Series([21, 40]), pd.Series([7, 10]), INTERNAL)
    assert np.isnan(got.iloc[0]) and got.iloc[1] == 4.0


def test_secondary_suppression_hides_a_partner_in_each_line():
    # a/food is 3 (primary); without rounding, row a, column food and their partners must go too.
    long = pd.DataFrame({"ward": ["a", "a", "b", "b"], "need": ["food", "housing", "food", "housing"],
                         "n": [3, 40, 20, 50]})
    out = disclosure.protect_table(long, "ward", "need", "n", EXACT).set_index("ward")
    assert out.isna().sum().sum() == 4
    assert out.loc["a", "housing"] is pd.NA and out.loc["b", "food"] is pd.NA
    assert out.loc["Total", "Total"] == 113      # exact when rounding is off


def test_secondary_suppression_across_a_hierarchy():
    long = pd.DataFrame({"branch": ["X", "X", "Y", "Y"], "ward": ["a", "b", "c", "d"], "n": [3, 30, 20, 12]})
    out = disclosure.protect_table(long, ["branch", "ward"], None, "n", EXACT)
    hidden = out[out["n"].isna()][["branch", "ward"]].values.tolist()
    assert hidden == [["X", "a"], ["X", "b"]]    # within branch X, b is the only partner


def test_unknown_profile_is_refused_naming_the_known_ones():
    with pytest.raises(InputError, match="internal, public"):
        disclosure.profile("secret")


def test_for_display_shows_a_star():
    out = disclosure.for_display(pd.DataFrame({"n": pd.array([pd.NA, 10], dtype="Int64")}))
    assert out["n"].tolist() == ["*", 10]


@pytest.mark.parametrize(("postcode", "sector", "district"), [
    ("SW1A 1AA", "SW1A 1", "SW1A"), ("ls14ap", "LS1 4", "LS1"), ("M1 1AE", "M1 1", "M1"),
    ("junk", None, None),
])
def test_postcodes_generalise_to_sector_or_district(postcode, sector, district):
    series = pd.Series([postcode])
    assert disclosure.postcode_area(series, "sector").iloc[0] == sector
    assert disclosure.postcode_area(series, "district").iloc[0] == district


def test_age_bands_and_periods():
    assert disclosure.age_bands(pd.Series([17, 18, 49, 64, 79, 80])).tolist() == [
        None, "18–34", "35–49", "50–64", "65–79", "80+"]
    dates = pd.Series(pd.to_datetime(["2020-04-06", "2020-12-31"]))
    assert disclosure.period(dates, "week").tolist() == ["2020-W15", "2020-W53"]
    assert disclosure.period(dates, "month").tolist() == ["2020-04", "2020-12"]
    with pytest.raises(InputError, match="week, month, quarter"):
        disclosure.period(dates, "day")


# -- property: no suppressed cell can be worked out from the totals -----------------------------


def _determined(values: np.ndarray, mask: np.ndarray) -> list[int]:
    """Cells whose value follows from the published row/column totals minus the visible cells."""
    lines = disclosure.table_lines(*values.shape)
    unknown = np.flatnonzero(mask.ravel())
    if unknown.size == 0:
        return []
    matrix = _signed(lines, unknown)
    rank = np.linalg.matrix_rank(matrix)
    return [int(c) for j, c in enumerate(unknown) if np.linalg.matrix_rank(np.delete(matrix, j, 1)) < rank]


def _signed(lines, unknown) -> np.ndarray:
    position = {c: j for j, c in enumerate(unknown)}
    matrix = np.zeros((len(lines), len(unknown)))
    for r, line in enumerate(lines):
        for i, cell in enumerate(line):
            if cell in position:
                matrix[r, position[cell]] = -1.0 if i == len(line) - 1 else 1.0
    return matrix


tables = st.integers(2, 5).flatmap(lambda rows: st.integers(2, 5).flatmap(
    lambda cols: st.lists(st.lists(st.sampled_from([0, 1, 2, 3, 5, 7, 8, 9, 12, 20, 40]), min_size=cols,
                                   max_size=cols), min_size=rows, max_size=rows)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_no_suppressed_cell_is_determined_by_the_totals(cells):
    long = pd.DataFrame([{"row": f"r{r}", "col": f"c{c}", "n": v}
                         for r, row in enumerate(cells) for c, v in enumerate(row)])
    out = disclosure.protect_table(long, "row", "col", "n", EXACT).set_index("row")
    mask = out.isna().to_numpy()
    values = out.fillna(-1).to_numpy(dtype=float)
    # No line (row or column, totals included) holds exactly one suppressed cell ...
    assert all(int(m) != 1 for m in mask.sum(axis=0)) and all(int(m) != 1 for m in mask.sum(axis=1))
    # ... and no combination of lines pins one down either.
    assert _determined(values, mask) == []
    # Primary suppression is never undone: every raw 1..7 cell is hidden.
    raw = np.array(cells)
    assert mask[:-1, :-1][(raw > 0) & (raw < 8)].all()
    # And, without rounding too, no 0 is shown beside a count 1..7 (the totals' included).
    full = _with_totals(raw)
    counts = (full > 0) & (full < 8)
    for r, c in zip(*np.nonzero(full == 0), strict=True):
        assert mask[r, c] or not (counts[r].any() or counts[:, c].any())


def _with_totals(raw: np.ndarray) -> np.ndarray:
    full = np.zeros((raw.shape[0] + 1, raw.shape[1] + 1), dtype=int)
    full[:-1, :-1] = raw
    full[-1, :-1], full[:-1, -1], full[-1, -1] = raw.sum(axis=0), raw.sum(axis=1), raw.sum()
    return full


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_zeros_are_shown_only_where_no_suppressed_count_shares_their_line(cells):
    long = pd.DataFrame([{"row": f"r{r}", "col": f"c{c}", "n": v}
                         for r, row in enumerate(cells) for c, v in enumerate(row)])
    out = disclosure.protect_table(long, "row", "col", "n", INTERNAL).set_index("row")
    full = _with_totals(np.array(cells))
    counts = (full > 0) & (full < 8)                  # suppressed counts (no keys: no noise)
    shown = out.notna().to_numpy()
    for r, c in zip(*np.nonzero(full == 0), strict=True):
        beside = counts[r].any() or counts[:, c].any()
        assert shown[r, c] != beside, "a zero is hidden exactly when its row or column holds a count 1..7"
    assert (out.to_numpy()[shown & (full != 0)] != 0).all()    # and nothing else is shown as 0
