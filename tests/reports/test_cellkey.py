"""Cell-key perturbation: the table's documented properties, and the same cell in two releases."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from workbench import reports
from workbench.privacy import pseudonymise
from workbench.reports import cellkey, disclosure
from workbench.store import snapshot

values = st.integers(min_value=0, max_value=10_000)
keys = st.integers(min_value=0, max_value=10**9)


def test_each_row_of_the_table_covers_every_key_and_has_mean_zero():
    for row, steps in cellkey.PTABLE.items():
        assert sum(width for _, width in steps) == cellkey.KEY_RANGE
        assert sum(noise * width for noise, width in steps) == 0, f"row {row} is biased"
        assert all(abs(noise) <= cellkey.MAX_NOISE for noise, _ in steps)


@given(values, keys)
def test_perturbation_is_bounded_never_negative_and_keeps_zero(value, key):
    published = int(cellkey.perturb([value], [key])[0])
    assert published >= 0 and abs(published - value) <= cellkey.MAX_NOISE
    assert (published == 0) == (value == 0)   # zero stays zero, and nothing else becomes zero


@given(values, keys)
def test_the_same_cell_gets_the_same_noise(value, key):
    again = cellkey.perturb([value], [key + cellkey.KEY_RANGE])   # the same key, modulo 256
    assert cellkey.perturb([value], [key]).tolist() == again.tolist()


def test_noise_over_all_keys_is_as_documented():
    every_key = np.arange(cellkey.KEY_RANGE)
    rows = ((1, {0: 256}), (2, {-1: 64, 0: 128, 1: 64}), (9, {-2: 32, -1: 48, 0: 96, 1: 48, 2: 32}))
    for value, expected in rows:
        counted = pd.Series(cellkey.noise(np.full(cellkey.KEY_RANGE, value), every_key)).value_counts()
        assert counted.to_dict() == expected


def test_record_keys_agree_in_python_and_in_duckdb(synthetic_con):
    secret = pseudonymise.record_secret(synthetic_con)
    expression = pseudonymise.record_key_sql(secret, "member_key")
    sql = f"SELECT member_key, {expression} FROM members ORDER BY 1 LIMIT 50"
    rows = synthetic_con.execute(sql).fetchall()
    assert [k for _, k in rows] == pseudonymise.record_keys(secret, [m for m, _ in rows])
    assert all(0 <= k < 256 for _, k in rows) and len({k for _, k in rows}) > 20


def test_a_protected_table_is_perturbed_and_totals_in_their_own_right():
    long = pd.DataFrame({"ward": ["a", "a", "b", "b"], "need": ["food", "housing"] * 2, "n": [30, 12, 40, 0],
                         "n_cellkey": [0, 255, 100, 7]})
    exact = disclosure.profile("internal", rounding=False)
    shown = disclosure.protect_table(long, "ward", "need", "n", exact)
    assert "n_cellkey" not in shown.columns
    # 30 with key 0 -> 28; 12 with key 255 -> 14; 40 with key 100 -> 40; 0 stays 0.
    assert shown["food"].tolist()[:2] == [28, 40] and shown["housing"].tolist()[:2] == [14, 0]
    # The food total's key is 0 + 100: noise 0; the grand total's key is 362 % 256 = 106: noise 0.
    assert shown["food"].iloc[-1] == 70 and shown["Total"].iloc[-1] == 82


def test_the_same_cell_shows_the_same_figure_in_two_releases(synthetic_con):
    # Two scopes that share a cell: all branches and one branch, both over round 1. Each branch's
    # outcome counts are the same records in both, so they must be published identically.
    whole = reports.outcome_mix(synthetic_con, reports.scope(synthetic_con, date_from="2020-03-30",
                                                             date_to="2020-04-14", rounding=False)).frame
    one = reports.outcome_mix(synthetic_con, reports.scope(synthetic_con, date_from="2020-03-30",
                                                           date_to="2020-04-14", branch="Millbridge",
                                                           rounding=False)).frame
    both = whole[["outcome", "Millbridge"]].merge(one[["outcome", "Millbridge"]], on="outcome")
    shown = both.dropna()
    assert len(shown) >= 2
    assert (shown["Millbridge_x"] == shown["Millbridge_y"]).all()


def test_a_report_never_uses_record_keys_kept_under_another_secret(synthetic_con):
    con = synthetic_con
    pseudonymise.record_secret(con)
    con.execute("UPDATE calls SET wellbeing = 1 WHERE call_id = (SELECT min(call_id) FROM calls)")
    snapshot.get(con)  # the data changed: a kept build, with the keys under the store's secret
    # The secret changed behind the library's back; a new process opens the kept file.
    other = bytes(range(32))
    con.execute("UPDATE keys SET secret = ? WHERE name = ?", [other, pseudonymise.RECORD_KEY_NAME])
    snapshot.clear()
    options = reports.scope(con)
    try:
        cursor = reports.keyed_cursor(con, options)
        used = dict(cursor.execute("SELECT mid, rk FROM record_keys").fetchall())
        rk = pseudonymise.record_key_sql(other, "member_key")
        assert used == dict(cursor.execute(f"SELECT mid, {rk} FROM members").fetchall())
    finally:
        reports.release_record_keys(con, options)


def test_the_one_pass_keys_equal_the_per_member_keys(synthetic_con):
    # With no window a report sums record keys over the calls in one pass (the snapshot's first-call
    # bits stand for "once per member"); with a window it groups by member first. A window around
    # every call covers the same records, so both must give every ward and week the same keys.
    con = synthetic_con
    first, last = con.execute("SELECT min(called_at)::DATE, max(called_at)::DATE FROM calls").fetchone()
    for branch in (None, "Millbridge"):
        whole = reports.scope(con, branch=branch, rounding=False)
        windowed = reports.scope(con, branch=branch, date_from=str(first), date_to=str(last), rounding=False)
        try:
            one_pass = reports.ward_summary(con, whole).drop(columns="contact_rate")
            per_member = reports.ward_summary(con, windowed).drop(columns="contact_rate")
            pd.testing.assert_frame_equal(one_pass, per_member)
            assert one_pass["attempts_cellkey"].sum() > 0
            weeks = reports.outreach_by_period(con, whole).frame
            weeks_windowed = reports.outreach_by_period(con, windowed).frame
            calls = weeks[weeks["attempts"] > 0].reset_index(drop=True)
            pd.testing.assert_frame_equal(calls, weeks_windowed[weeks_windowed["attempts"] > 0]
                                          .reset_index(drop=True))
            assert len(calls) >= 2
        finally:
            for options in (whole, windowed):
                reports.release_record_keys(con, options)
