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
    long = _long(cells)
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


def _long(cells: list[list[int]]) -> pd.DataFrame:
    """A grid of counts as the long table protect_table reads: row, col, n."""
    return pd.DataFrame([{"row": f"r{r}", "col": f"c{c}", "n": v}
                         for r, row in enumerate(cells) for c, v in enumerate(row)])


def _with_totals(raw: np.ndarray) -> np.ndarray:
    full = np.zeros((raw.shape[0] + 1, raw.shape[1] + 1), dtype=int)
    full[:-1, :-1] = raw
    full[-1, :-1], full[:-1, -1], full[-1, -1] = raw.sum(axis=0), raw.sum(axis=1), raw.sum()
    return full


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_zeros_are_shown_only_where_no_suppressed_count_shares_their_line(cells):
    long = _long(cells)
    out = disclosure.protect_table(long, "row", "col", "n", INTERNAL).set_index("row")
    full = _with_totals(np.array(cells))
    counts = (full > 0) & (full < 8)                  # suppressed counts (no keys: no noise)
    shown = out.notna().to_numpy()
    last_row, last_col = full.shape[0] - 1, full.shape[1] - 1
    for r, c in zip(*np.nonzero(full == 0), strict=True):
        beside = counts[r].any() or counts[:, c].any()
        # A total of 0 says its line's cells are 0: shown, it would name the hidden zeros among them.
        names_hidden = ((c == last_col and not shown[r, :-1].all())
                        or (r == last_row and not shown[:-1, c].all()))
        if beside:
            assert not shown[r, c], "a zero whose row or column holds a count 1..7 is hidden"
        else:
            assert shown[r, c] != names_hidden, "other zeros are shown, but for the total of a hidden cell"
    assert (out.to_numpy()[shown & (full != 0)] != 0).all()    # and nothing else is shown as 0



# -- what a report says about its own protection -------------------------------------------------

PERTURBATION = (
    "Every count is perturbed first by the cell-key method (ONS, Census 2021): a noise of at most 2 either "
    "way, looked up from a fixed table by the cell's key and value, so the same cell always shows the same "
    "figure. A true 0 stays 0 and nothing else becomes 0. Totals are perturbed in their own right, so rows "
    "need not add up to them exactly.")
ROUNDED = ("Counts that are shown are rounded to the nearest 5; totals are computed from the raw data, "
           "perturbed and then rounded, so they need not equal the sum of the rows.")
EXACT_COUNTS = ("Counts are exact; secondary suppression hides further cells so that no suppressed cell "
                "can be worked out from the totals.")
BANDS = "ages to bands (18–34, 35–49, 50–64, 65–79, 80+). No date of birth is ever used."


def _small(top: int, zeros: str) -> str:
    return f"Perturbed counts from 1 to {top} are suppressed and shown as *. {zeros}"


def _shown(n: int) -> str:
    return (f"Percentages and means are shown only where n is at least {n}, and are computed from the "
            "rounded figures.")


# A zero beside a suppressed count is hidden too (issue 14), so a * never means "at least 1".
ZEROS_BESIDE = ("Zeros are shown as 0, except a zero in the same row or column (or the same subtotal) as a "
                "suppressed cell, which is suppressed too, so that * may be 0 and never means 'at least 1'.")


def _dates(period: str, area: str) -> str:
    return (f"Dates in tables are generalised to {period}s. A row-level extract generalises postcodes to "
            f"{area}s (or coarser), dates to {period}s (or coarser) and {BANDS}")


@pytest.mark.parametrize(("prof", "rules"), [
    (INTERNAL, [PERTURBATION, _small(7, ZEROS_BESIDE), ROUNDED, _shown(8),
                _dates("week", "sector")]),
    (PUBLIC, [PERTURBATION, _small(9, "Zeros are suppressed too."), ROUNDED, _shown(10),
              _dates("month", "district")]),
    (EXACT, [PERTURBATION, _small(7, ZEROS_BESIDE), EXACT_COUNTS, _shown(8),
             _dates("week", "sector")]),
], ids=["internal", "public", "exact"])
def test_each_profile_describes_the_rules_it_applies(prof, rules):
    # Printed in every report's "How this was protected" and its manifest: a reader checks them there.
    assert prof.describe() == rules


def test_the_profiles_hold_the_published_rules():
    assert (INTERNAL.threshold, INTERNAL.suppress_zero, INTERNAL.base, INTERNAL.area, INTERNAL.period) == (
        8, False, 5, "sector", "week")
    assert (PUBLIC.threshold, PUBLIC.suppress_zero, PUBLIC.base, PUBLIC.area, PUBLIC.period) == (
        10, True, 5, "district", "month")
    assert INTERNAL.rounding and PUBLIC.rounding and not EXACT.rounding and EXACT.threshold == 8
    assert disclosure.profile(INTERNAL) is INTERNAL  # a profile given is used as it is
    assert disclosure.profile(EXACT, rounding=True) == INTERNAL
    assert disclosure.profile("public", rounding=False).rounding is False


def test_counts_round_to_the_base_given_and_a_missing_count_is_zero():
    assert disclosure.round_counts(pd.Series([2, 4, 5, 8]), base=10).tolist() == [0, 0, 10, 10]
    assert disclosure.round_counts(pd.Series([4, 5, 6]), base=3).tolist() == [3, 6, 6]
    missing = pd.Series([None, 3, 0], dtype="Int64")
    assert disclosure.primary_mask(missing, INTERNAL).tolist() == [False, True, False]
    assert disclosure.primary_mask(missing, PUBLIC).tolist() == [True, True, True]


def test_percentages_and_means_keep_the_decimals_asked_for():
    got = disclosure.percentage(pd.Series([10]), pd.Series([30]), pd.Series([30]), INTERNAL, decimals=2)
    assert got.tolist() == [33.33]
    default = disclosure.percentage(pd.Series([10]), pd.Series([30]), pd.Series([30]), INTERNAL)
    assert default.tolist() == [33.3]
    # A zero or suppressed base shows nothing, whatever n says.
    base = pd.Series([0, None], dtype="Int64")
    assert disclosure.percentage(pd.Series([0, 5]), base, pd.Series([20, 20]), INTERNAL).isna().all()
    means = disclosure.mean(pd.Series([10, 0, 25]), pd.Series([3, 0, 8]), INTERNAL, decimals=2)
    assert np.isnan(means.iloc[0]) and np.isnan(means.iloc[1]) and means.iloc[2] == 3.12


def test_the_lines_of_a_grid_are_its_rows_and_columns_and_each_group():
    assert disclosure.table_lines(3, 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert disclosure.table_lines(3, 1, row_totals=False) == [[0, 1, 2]]
    # Two groups (rows 0-1 under subtotal 2, row 3 under subtotal 4), then the grand total row 5.
    lines = disclosure.table_lines(6, 1, [[0, 1, 2], [3, 4]], row_totals=False)
    assert lines == [[2, 4, 5], [0, 1, 2], [3, 4]]


def test_generalisation_refuses_a_level_it_does_not_know():
    with pytest.raises(InputError, match='Unknown postcode level "ward". Expected one of: sector, district.'):
        disclosure.postcode_area(pd.Series(["SW1A 1AA"]), "ward")
    dates = pd.Series(pd.to_datetime(["2020-04-06", "2020-12-31"]))
    assert disclosure.period(dates, "quarter").tolist() == ["2020-Q2", "2020-Q4"]
    assert disclosure.period_sql("called_at", "week") == "strftime(called_at, '%G-W%V')"
    assert disclosure.period_sql("called_at", "month") == "strftime(called_at, '%Y-%m')"
    assert disclosure.period_sql("c", "quarter") == "(year(c)::VARCHAR || '-Q' || quarter(c)::VARCHAR)"
    with pytest.raises(InputError, match="Expected one of: week, month, quarter"):
        disclosure.period_sql("called_at", "day")


# -- the release scan: the last line of defence ----------------------------------------------------

@pytest.mark.parametrize(("text", "kinds"), [
    ("+447700900123", ["a phone number"]),
    ("ring 07700 900123 after six", ["a phone number"]),
    ("+44 (0)7700 900123", ["a phone number"]),
    ("020 7946 0958", ["a phone number"]),
    ("pat@example.org", ["an email address"]),
    ("SW1A 1AA", ["a full postcode"]),
    ("ls14ap", ["a full postcode"]),
    ("07700 900123, pat@example.org, SW1A 1AA", ["a phone number", "an email address", "a full postcode"]),
    ("2020-04-15", []), ("ward 12345", []), ("1234567890123456", []), ("SW1A 1", []), ("KT1 2CV", []),
    ("v1.07700900123", []), ("0113 496", []),
])
def test_the_scan_finds_phones_emails_and_full_postcodes_but_not_counts_or_sectors(text, kinds):
    assert [f.kind for f in disclosure.scan_text(text, "t.csv")] == kinds
    assert all(f.file == "t.csv" for f in disclosure.scan_text(text, "t.csv"))


NOTE = "Needs help collecting a prescription from the chemist on Tuesday mornings"


@pytest.fixture
def scanned_store(con):
    from dp_helpers import add_call, add_member

    key = add_member(con, "SYN0000042", "07700 900042", last_name="Quennell")
    add_call(con, "c1", key, notes=NOTE)
    add_call(con, "c2", key, notes="fine")
    # A caller id "1", from a store imported before callers were pseudonymised: never matched.
    con.execute("UPDATE calls SET caller = '1' WHERE call_id = 'c2'")
    return con


def _scan(con, tmp_path, files: dict[str, str], **options) -> list[tuple[str, str]]:
    paths = []
    for name, text in files.items():
        # Written as Latin-1 where UTF-8 cannot say it: "\xff\xfe" stands for bytes a damaged file holds.
        data = text.encode("latin-1") if "\xff" in text else text.encode("utf-8")
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    return [(f.kind, f.file) for f in disclosure.scan_release(con, paths, **options)]


def test_the_release_scan_finds_each_kind_of_person_in_the_store(scanned_store, tmp_path):
    found = _scan(scanned_store, tmp_path, {
        "a.csv": "ward,n\nPat Quennell,3\n",
        "b.csv": "ward,n\nQuennell,3\n",
        "c.csv": "number\nsyn0000042\n",
        "d.html": "<td>C0001</td>",
        "e.html": f"<p>{NOTE.upper()}</p>",
        "f.csv": "x,collecting a prescription from the chemist,y\n",
        "g.csv": "n\n1\n11\n",
        "h.html": "<p>fine</p>",
    })
    assert found == [("a member's full name", "a.csv"), ("a member's surname", "a.csv"),
                     ("a member's surname", "b.csv"), ("a membership number", "c.csv"),
                     ("a caller id", "d.html"), ("call note text", "e.html"), ("call note text", "f.csv")]


def test_short_numeric_membership_numbers_and_letterless_names_never_match_a_reports_counts(
    scanned_store, tmp_path
):
    from dp_helpers import add_member

    # Many tools number members 1, 2, 3 ... (a NationBuilder id); a placeholder name of "0 0" or "- -".
    # Either matched the counts of every report, and no report could be released.
    for number, first, last in (("7", "0", "0"), ("1234567", "-", "-"), ("12345678", "Sam", "Ovenden")):
        key = add_member(scanned_store, number)
        scanned_store.execute("UPDATE identities SET first_name = ?, last_name = ? WHERE member_key = ?",
                              [first, last, key])
    counts = "ward,called,reached\nRookton,7,0\nTotal,1234567,0 0\n- -,1,2\n"
    assert _scan(scanned_store, tmp_path, {"counts.csv": counts}) == []
    # A long number, a number with letters, and a real name are still found.
    assert _scan(scanned_store, tmp_path, {"a.csv": "n\n12345678\n", "b.csv": "n\nsyn0000042\n",
                                           "c.csv": "Sam Ovenden,3\n"}) == [
        ("a membership number", "a.csv"), ("a membership number", "b.csv"),
        ("a member's full name", "c.csv"), ("a member's surname", "c.csv")]


def test_the_release_scan_allows_the_reports_own_words_and_known_safe_text(scanned_store, tmp_path):
    # "Quennell" is also a ward the report names: alone it is the ward, never a reason to refuse.
    assert _scan(scanned_store, tmp_path, {"a.csv": "ward,n\nQuennell Park,12\n"},
                 allowed_words=frozenset({"quennell", "park", "ward", "n"})) == []
    # A full name is refused whatever the report's words.
    assert _scan(scanned_store, tmp_path, {"b.csv": "ward,n\nPat Quennell,12\n"},
                 allowed_words=frozenset({"quennell", "pat"})) == [("a member's full name", "b.csv")]
    library = "/* a bundled library mentioning 07700 900123 and SYN0000042 */"
    assert _scan(scanned_store, tmp_path, {"c.html": f"<script>{library}</script><p>ok</p>"},
                 known_safe=[library]) == []


def test_a_release_with_a_person_in_it_is_stopped_naming_kinds_and_files_only(scanned_store, tmp_path):
    from workbench.errors import DisclosureError

    paths = []
    for name, text in {"one.csv": "Pat Quennell", "two.csv": "07700 900042"}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    with pytest.raises(DisclosureError) as stopped:
        disclosure.check_release(scanned_store, paths)
    message = str(stopped.value)
    assert message == ("The release scan found a phone number in two.csv; a member's full name in one.csv; "
                       "a member's surname in one.csv. Nothing was released and the staging folder was "
                       "deleted. Report this as a bug: reports must never carry identity.")
    (tmp_path / "clean.csv").write_text("ward,n\nNorth,10\n", encoding="utf-8")
    assert disclosure.check_release(scanned_store, [tmp_path / "clean.csv"]) is None


# -- the rules as the code applies them, at their edges ---------------------------------------------

def test_counts_round_to_fives_by_default_and_stay_whole_numbers():
    rounded = disclosure.round_counts(pd.Series([8, 12, 13, 102]))
    assert rounded.tolist() == [10, 10, 15, 100] and rounded.dtype == "int64"
    assert disclosure.round_counts(pd.Series([None, 1, 3], dtype="Float64"), base=2).tolist() == [0, 2, 4]


def test_protected_counts_follow_the_profile_given_and_are_nullable_whole_numbers():
    frame = pd.DataFrame({"n": [3, 12, 13, 0]})
    exact = disclosure.protect_counts(frame, ["n"], EXACT)["n"]
    assert exact.dtype == "Int64" and exact.tolist() == [pd.NA, 12, 13, 0]  # no rounding: exact counts
    tens = disclosure.Profile("tens", threshold=8, suppress_zero=False, base=10)
    assert disclosure.protect_counts(frame, ["n"], tens)["n"].tolist() == [pd.NA, 10, 10, 0]


def test_counts_carrying_cell_keys_are_perturbed_before_the_rules_apply():
    # Keys decide the noise (cellkey.PTABLE): 40 with key 100 gets 0; 7 with key 0 gets -2.
    frame = pd.DataFrame({"ward": list("abcd"), "n": [0, 40, None, 7], "n_cellkey": [17, 100, 5, None]},
                         index=[10, 11, 12, 13])
    assert disclosure.perturbed(frame, "n").to_dict() == {10: 0, 11: 40, 12: 0, 13: 5}
    out = disclosure.protect_counts(frame, ["n"], INTERNAL)
    assert out["n"].tolist() == [0, 40, 0, pd.NA] and out.index.tolist() == [10, 11, 12, 13]  # missing: 0
    assert list(out.columns) == ["ward", "n"]  # the keys never leave the library


@pytest.mark.parametrize(("num", "den", "n", "shown"), [
    (10, 20, 20, 50.0),
    (10, 20, 8, 50.0),       # n at the threshold: shown
    (10, 20, 7, None),       # n below it
    (None, 20, 20, None),    # numerator suppressed
    (10, None, 20, None),    # base suppressed
    (10, 0, 20, None),       # base of zero
    (1, 1, 20, 100.0),       # the smallest base there is
    (10, 20, None, None),    # n unknown counts as 0
])
def test_a_percentage_is_shown_only_when_every_condition_holds(num, den, n, shown):
    got = disclosure.percentage(pd.Series([num], dtype="Int64"), pd.Series([den], dtype="Int64"),
                                pd.Series([n], dtype="Float64"), INTERNAL).iloc[0]
    assert (None if np.isnan(got) else got) == shown


def test_percentages_and_means_with_a_threshold_of_one_hide_only_what_is_unknown():
    one = disclosure.Profile("one", threshold=1, suppress_zero=False)
    assert np.isnan(disclosure.percentage(pd.Series([1]), pd.Series([2]), pd.Series([None]), one).iloc[0])
    means = disclosure.mean(pd.Series([4.0, 5.0, 7.0]), pd.Series([None, 1, 3]), one)
    assert np.isnan(means.iloc[0]) and means.iloc[1:].tolist() == [5.0, 2.3]  # one decimal by default


def test_secondary_suppression_within_each_of_several_groups():
    long = pd.DataFrame({"branch": list("XXYYZZZ"), "ward": list("abcdefg"), "n": [30, 20, 3, 30, 25, 4, 40]})
    out = disclosure.protect_table(long, ["branch", "ward"], None, "n", EXACT)
    hidden = out[out["n"].isna()][["branch", "ward"]].values.tolist()
    assert hidden == [["Y", "c"], ["Y", "d"], ["Z", "e"], ["Z", "f"]]  # each group's own partner
    totals = out[out["ward"] == "Total"]["n"].tolist()
    assert totals == [50, 33, 69, 152]


@pytest.mark.parametrize(("text", "found"), [
    ("020 7946 095", True),          # ten digits: the fewest a phone number has
    ("+1234567890", True), ("+123456789012345", True),    # E.164: ten to fifteen digits
    ("+123456789", False), ("+1234567890123456", False),
])
def test_a_phone_has_ten_to_fifteen_digits(text, found):
    assert bool(disclosure.scan_text(text, "t.csv")) == found


SHORT_NOTE = "buy him milk"  # twelve characters, three words: too short for a five-word run


@pytest.fixture
def noted_store(scanned_store):
    from dp_helpers import add_call

    key = scanned_store.execute("SELECT member_key FROM members").fetchone()[0]
    add_call(scanned_store, "c3", key, notes=SHORT_NOTE)
    add_call(scanned_store, "c4", key, notes="Call back later")  # only the report's own words
    return scanned_store


def test_the_scan_checks_every_file_and_reads_damaged_text(noted_store, tmp_path):
    found = _scan(noted_store, tmp_path, {
        "a.csv": f"x,{SHORT_NOTE},y\n",
        "b.csv": "07700 900042\n",
        "c.csv": "ward\n\xff\xfe broken bytes, then pat@example.org\n",
        "d.csv": "collecting a prescription from the",  # five words of a note, the whole file
    })
    assert found == [("a phone number", "b.csv"), ("an email address", "c.csv"), ("call note text", "a.csv"),
                     ("call note text", "d.csv")]


def test_text_of_only_the_reports_own_words_is_never_a_note(noted_store, tmp_path):
    words = frozenset({"call", "back", "later", "ward", "n"})
    assert _scan(noted_store, tmp_path, {"a.csv": "ward,n\ncall back later,12\n"}, allowed_words=words) == []


def test_removing_known_safe_text_never_hides_what_stood_around_it(scanned_store, tmp_path):
    library = "/* bundled library */"
    found = _scan(scanned_store, tmp_path, {"a.html": f"<p>Pat{library}Quennell</p>"}, known_safe=[library])
    assert ("a member's full name", "a.html") in found


def test_check_release_passes_its_options_to_the_scan(scanned_store, tmp_path):
    (tmp_path / "a.csv").write_text("ward,n\nQuennell Park,12\n", encoding="utf-8")
    disclosure.check_release(scanned_store, [tmp_path / "a.csv"],
                             allowed_words=frozenset({"quennell", "park", "ward", "n"}))


# -- behaviour pinned for mutation testing ----------------------------------------------------------

SHOW_ZEROS = disclosure.Profile("shown", threshold=8, suppress_zero=False, hide_zeros=False)


def test_a_profile_that_shows_every_zero_says_so_and_shows_the_zero_beside_a_suppressed_count():
    assert SHOW_ZEROS.zero_rule == "shown"
    assert SHOW_ZEROS.describe()[1] == ("Perturbed counts from 1 to 7 are suppressed and shown as *. "
                                        "Zeros are shown as 0.")
    long = pd.DataFrame({"ward": ["a", "a", "b", "b"], "need": ["food", "housing"] * 2, "n": [3, 0, 20, 30]})
    out = disclosure.protect_table(long, "ward", "need", "n", SHOW_ZEROS).set_index("ward")
    assert out.loc["a", "food"] is pd.NA and out.loc["a", "housing"] == 0   # internal would hide this 0


def test_a_cross_tabulation_of_no_rows_is_only_its_zero_total():
    # A period with no calls still publishes a table: one total row and column, 0.
    empty = pd.DataFrame({"ward": pd.Series([], dtype=object), "need": pd.Series([], dtype=object),
                          "n": pd.Series([], dtype="int64")})
    out = disclosure.protect_table(empty, "ward", "need", "n", INTERNAL, total_label="All")
    assert list(out.columns) == ["ward", "All"] and out.columns.name is None
    assert out["ward"].tolist() == ["All"] and out["All"].tolist() == [0] and out["All"].dtype == "Int64"
    keyed = empty.assign(n_cellkey=pd.Series([], dtype="int64"))
    assert disclosure.protect_table(keyed, "ward", "need", "n", INTERNAL).to_dict("list") == {
        "ward": ["Total"], "Total": [0]}


def test_wards_and_needs_with_no_calls_are_left_out_even_when_they_are_known_categories():
    # Categorical columns carry every ward and need known; only those with calls are rows or columns.
    wards = pd.Categorical([], categories=["a", "b"])
    empty = pd.DataFrame({"ward": wards, "need": pd.Categorical([], categories=["food"]),
                          "n": pd.Series([], dtype="int64")})
    assert disclosure.protect_table(empty, "ward", "need", "n", INTERNAL).to_dict("list") == {
        "ward": ["Total"], "Total": [0]}
    long = pd.DataFrame({"ward": pd.Categorical(["b", "a"], categories=["c", "b", "a"]),
                         "need": pd.Categorical(["food", "food"], categories=["money", "food"]),
                         "n": [20, 30]})
    crossed = disclosure.protect_table(long, "ward", "need", "n", INTERNAL)
    assert crossed.to_dict("list") == {"ward": ["b", "a", "Total"], "food": [20, 30, 50],
                                       "Total": [20, 30, 50]}
    single = disclosure.protect_table(long, "ward", None, "n", INTERNAL)
    assert single.to_dict("list") == {"ward": ["b", "a", "Total"], "n": [20, 30, 50]}


def test_rows_and_columns_come_sorted_whatever_the_order_of_the_input():
    long = pd.DataFrame({"ward": ["b", "a", "c"], "need": ["money", "food", "money"], "n": [20, 30, 40]})
    crossed = disclosure.protect_table(long, "ward", "need", "n", INTERNAL)
    assert list(crossed.columns) == ["ward", "food", "money", "Total"] and crossed.columns.name is None
    assert crossed["ward"].tolist() == ["a", "b", "c", "Total"]
    assert crossed["money"].tolist() == [0, 20, 40, 60]
    single = disclosure.protect_table(long, "ward", None, "n", INTERNAL)
    assert single.to_dict("list") == {"ward": ["a", "b", "c", "Total"], "n": [30, 20, 40, 90]}


def test_protect_table_takes_a_profile_by_name():
    long = pd.DataFrame({"ward": ["a", "b"], "n": [9, 30]})
    assert disclosure.protect_table(long, "ward", None, "n", "public")["n"].tolist() == [pd.NA, 30, 40]
    assert disclosure.protect_table(long, "ward", None, "n", "internal")["n"].tolist() == [10, 30, 40]


def test_a_table_carrying_cell_keys_is_perturbed_before_the_rules_apply():
    # 7 with cell key 240 is perturbed to 9 (cellkey.perturb): shown, rounded to 10, where 7 would be *.
    long = pd.DataFrame({"ward": ["a"], "n": [7], "n_cellkey": [240]})
    assert disclosure.protect_table(long, "ward", None, "n", INTERNAL).to_dict("list") == {
        "ward": ["a", "Total"], "n": [10, 10]}


def test_a_table_rounds_to_the_profiles_base():
    tens = disclosure.Profile("tens", threshold=8, suppress_zero=False, base=10)
    long = pd.DataFrame({"ward": ["a", "b"], "n": [13, 24]})
    assert disclosure.protect_table(long, "ward", None, "n", tens)["n"].tolist() == [10, 20, 40]


def test_a_group_of_one_row_still_gets_its_subtotal_row():
    long = pd.DataFrame({"branch": ["X"], "ward": ["a"], "n": [30]})
    out = disclosure.protect_table(long, ["branch", "ward"], None, "n", INTERNAL)
    assert out.values.tolist() == [["X", "a", 30], ["X", "Total", 30], ["Total", "Total", 30]]


def test_the_lines_of_a_hierarchy_with_several_columns_follow_each_column():
    # Rows 0 and 1 under subtotal row 2, grand total row 3; two columns (the second the row totals).
    assert disclosure.table_lines(4, 2, [[0, 1, 2]]) == [
        [0, 1], [2, 3], [4, 5], [6, 7], [4, 6], [0, 2, 4], [5, 7], [1, 3, 5]]


def test_secondary_suppression_follows_each_line_it_changes():
    # Row 0 (2, 2, 4) and the column total 2 are small. Row 2 then has one suppressed cell: its smallest
    # other, 23, goes; column 2 has one (4): 21 goes; that leaves row 1 with one: its 0 goes. The grand
    # total stays, as every line now holds two suppressed cells or more.
    values = [2, 2, 4, 21, 0, 21, 23, 2, 25]
    primary = [True, True, True, False, False, False, False, True, False]
    mask = disclosure.secondary_suppress(values, primary, disclosure.table_lines(3, 3))
    assert mask.tolist() == [True, True, True, False, True, True, True, True, False]


def test_secondary_suppression_reads_a_mask_of_zeros_and_ones_and_returns_booleans():
    # The four inner cells of a 2 x 2 table with totals: every line holds two and no sum pins any of
    # them, so nothing more is hidden.
    values = [3, 4, 7, 5, 6, 11, 8, 10, 18]
    flags = np.array([1, 1, 0, 1, 1, 0, 0, 0, 0])
    mask = disclosure.secondary_suppress(values, flags, disclosure.table_lines(3, 3))
    assert mask.dtype == bool
    assert mask.tolist() == [True, True, False, True, True, False, False, False, False]


def test_secondary_suppression_like_hide_zeros_passes_over_a_line_with_no_cells():
    # protect_mask gives both the same lines, and hide_zeros skips an empty one.
    values = [2, 2, 4, 21, 0, 21, 23, 2, 25]
    primary = [True, True, True, False, False, False, False, True, False]
    mask = disclosure.secondary_suppress(values, primary, [*disclosure.table_lines(3, 3), []])
    assert mask.tolist() == [True, True, True, False, True, True, True, True, False]


def test_hide_zeros_reads_a_mask_of_zeros_and_ones_and_returns_booleans():
    grid = np.array([0, 3, 3, 0, 9, 9, 0, 12, 12])  # two rows and two columns, with their totals
    out = disclosure.hide_zeros(grid, (grid == 3).astype(int), disclosure.table_lines(3, 3))
    assert out.dtype == bool and out.tolist() == [True, True, True, False, False, False, True, False, False]


def test_sixteen_digits_after_plus_44_are_not_a_phone_number():
    # The longest +44 form the pattern allows, "+44 (0) 12345 1234 1234", has 16 digits: more than any
    # phone number (E.164 allows 15), so it is not flagged; one digit fewer is.
    assert disclosure.scan_text("+44 (0) 12345 1234 1234", "t.csv") == []
    phone = disclosure.Finding("a phone number", "t.csv")
    assert disclosure.scan_text("+44 (0) 1234 1234 1234", "t.csv") == [phone]


def test_secondary_suppression_checks_again_after_hiding_a_partner_for_a_combined_pin():
    # A 5 x 5 table with totals and eight small counts. After the single-cell lines are closed, the
    # lines together still pin some cells; hiding a partner for one leaves another (row 2's 6) pinned,
    # so the check must run again until no suppressed cell follows from the totals.
    grid = np.array([[22, 33, 32, 38, 2, 127], [11, 34, 19, 37, 3, 104], [33, 3, 0, 12, 6, 54],
                     [8, 1, 7, 10, 25, 51], [9, 15, 6, 2, 13, 45], [83, 86, 64, 99, 49, 381]])
    values = grid.ravel()
    lines = disclosure.table_lines(6, 6)
    mask = disclosure.secondary_suppress(values, (values > 0) & (values < 8), lines)
    assert np.flatnonzero(mask).tolist() == [0, 4, 6, 10, 13, 14, 15, 16, 19, 20, 21, 26, 27, 28]
    assert disclosure._determined_cells(mask, [np.asarray(line) for line in lines]).size == 0
    assert all(mask[line].sum() != 1 for line in lines)


def test_counts_that_are_zero_together_hide_their_zeros_together():
    # No attempts in w1: nobody called, nobody reached. Its members_called 0 is hidden beside the
    # suppressed 5 in w2; a shown attempts 0 would say what it is (and so that the 5 is at least 1).
    raw = pd.DataFrame({"branch": ["A", "A", "A"], "ward": ["w1", "w2", "w3"], "attempts": [0, 40, 30],
                        "members_called": [0, 5, 20], "reached": [0, 3, 10]})
    counts = ["attempts", "members_called", "reached"]
    alone = disclosure.protect_table(raw[["branch", "ward", "attempts"]], ["branch", "ward"], None,
                                     "attempts", INTERNAL)
    assert alone["attempts"].iloc[0] == 0  # on its own, the attempts column has nothing to hide
    out = disclosure.protect_columns(raw, ["branch", "ward"], counts, INTERNAL).set_index("ward")
    assert out.loc["w1", counts].isna().all()
    assert out.loc["w3", "attempts"] == 30 and out.loc["w3", "members_called"] == 20


def test_the_release_scan_reads_escaped_text_as_a_reader_sees_it(scanned_store, tmp_path):
    # plotly writes a chart's labels into the page as JSON, "/" and "<" escaped: a closing tag after
    # a ward name ("\u002fa") is not a postcode. What escapes spell out is read: a phone, a surname.
    found = _scan(scanned_store, tmp_path, {
        "chart.html": r'{"x": ["\u003ca href=\u0022x\u0022\u003eAbbey\u003c\u002fa\u003e",'
                      r' "&lt;\u002fa&gt;"]}',
        "phone.html": r'{"text": "07700\u0020900123"}',
        "name.html": "<td>Pat&#32;Quennell</td>",
        "emoji.html": r'{"text": "\ud83d\ude00 \ud83d alone"}',
    })
    assert sorted(found) == [("a member's full name", "name.html"), ("a member's surname", "name.html"),
                             ("a phone number", "phone.html")]
