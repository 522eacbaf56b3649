"""The dashboard's pre-aggregate (the snapshot's `outreach_cube`) gives exactly the numbers of the
unaggregated calls: for many filter combinations, every summary and headline equals both a plain
pandas count over the store's calls and the per-call snapshot query (a date filter that keeps
every call sends a summary down that path)."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.analysis import needs, outreach
from workbench.store import snapshot
from workbench.store.filters import known, wards
from workbench.vocabulary import OUTCOMES

EVERY_DAY = {"date_from": "1900-01-01"}  # keeps every call, and needs the calls themselves


@pytest.fixture
def store(synthetic_con):
    """The tiny synthetic store, plus a call of a key with no members row and a member with no
    ward, which the joins to members treat apart."""
    con = synthetic_con
    con.execute("INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
                "SELECT 'stray-1', 'no-such-member', round, caller, called_at, 'answered' FROM calls LIMIT 1")
    con.execute("UPDATE members SET ward = NULL WHERE member_key = (SELECT min(member_key) FROM members)")
    snapshot.clear()
    return con


def _selections(con) -> list[dict]:
    branch = known(con, "branch")[0]
    ward = wards(con, branch)[0]
    first, last = known(con, "round")[0], known(con, "round")[-1]
    return [
        {}, {"branch": branch}, {"ward": ward}, {"round": first}, {"outcome": "answered"},
        {"outcome": "no_answer"}, {"round": last, "outcome": "answered"}, {"round": last, "outcome": "busy"},
        {"branch": branch, "round": last}, {"ward": ward, "round": first, "outcome": "voicemail"},
        {"branch": branch, "outcome": "deceased_moved"}, {"outcome": "wrong_number", "ward": ward},
    ]


def _calls(con) -> pd.DataFrame:
    frame = con.execute(
        "SELECT c.member_key, c.round, c.outcome, c.called_at, m.branch, m.ward, "
        "m.member_key IS NOT NULL AS known FROM calls c LEFT JOIN members m USING (member_key)"
    ).df()
    day = frame["called_at"].dt.normalize()
    return frame.assign(week=day - pd.to_timedelta(day.dt.weekday, unit="D"))


def _kept(calls: pd.DataFrame, by: str | None, chosen: dict) -> pd.DataFrame:
    """The calls a selection keeps, as the store's queries keep them."""
    if by in ("branch", "ward") or any(k in chosen for k in ("branch", "ward")):
        calls = calls[calls["known"]]  # the join to members drops calls of an unknown key
    for name, value in chosen.items():
        calls = calls[calls[name] == value]
    return calls


def _reference(calls: pd.DataFrame, by: str, chosen: dict) -> pd.DataFrame:
    """Attempts, members called and reached, and the outcome mix, counted call by call."""
    kept = _kept(calls, by, chosen)
    groups = kept.groupby(by, dropna=False, sort=False)
    frame = pd.DataFrame({
        "attempts": groups.size(),
        "members_called": groups["member_key"].nunique(),
        "reached": kept[kept["outcome"] == "answered"].groupby(by, dropna=False)["member_key"].nunique(),
        "first": groups["called_at"].min(),
    }).fillna({"reached": 0})
    mix = kept.groupby([by, "outcome"], dropna=False).size().unstack(fill_value=0)
    frame = frame.join(mix.reindex(columns=list(OUTCOMES), fill_value=0)).fillna(0)
    order = ["first", by] if by == "round" else [by]
    return frame.reset_index().sort_values(order, na_position="last").drop(columns="first")


def _labels(column: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v)[:10] for v in column]


@pytest.mark.parametrize("by", outreach.CUBE_GROUPS)
def test_every_summary_from_the_cube_equals_the_calls_counted_one_by_one(store, by):
    calls = _calls(store)
    for chosen in _selections(store):
        got = outreach.summary(store, by, **chosen)
        per_call = outreach.summary(store, by, **chosen, **EVERY_DAY)
        pd.testing.assert_frame_equal(got, per_call, obj=f"{by} {chosen}")
        want = _reference(calls, by, chosen)
        assert _labels(got[by]) == _labels(want[by]), (by, chosen)
        for column in ("attempts", "members_called", "reached", *OUTCOMES):
            assert got[column].tolist() == want[column].astype(int).tolist(), (by, chosen, column)
        rates = (want["reached"] / want["members_called"]).tolist()
        assert got["contact_rate"].tolist() == pytest.approx(rates), (by, chosen)


def test_every_headline_from_the_cube_equals_the_calls_counted_one_by_one(store):
    calls = _calls(store)
    for chosen in _selections(store):
        head = outreach.headline(store, **chosen)
        kept = _kept(calls, None, chosen)
        answered = kept[kept["outcome"] == "answered"]
        assert [head["attempts"], head["members_called"], head["reached"]] == [
            len(kept), kept["member_key"].nunique(), answered["member_key"].nunique()], chosen
        per_call = outreach.headline(store, **chosen, **EVERY_DAY)
        assert {k: head[k] for k in per_call if k != "needing_support"} == {
            k: v for k, v in per_call.items() if k != "needing_support"}, chosen


def test_needing_support_counts_the_suppressed_triage_queue(store):
    for chosen in _selections(store):
        place = {k: v for k, v in chosen.items() if k in ("branch", "ward", "round")}
        expected = len(needs.queue(store, **place)) if chosen.get("outcome") in (None, "answered") else 0
        assert outreach.headline(store, **chosen)["needing_support"] == expected, chosen


def test_the_cube_never_serves_numbers_of_an_earlier_store_state(store):
    branch = known(store, "branch")[0]
    before = outreach.summary(store, "ward", branch=branch)
    store.execute("UPDATE calls SET outcome = 'busy' WHERE outcome = 'answered' AND member_key IN "
                  "(SELECT member_key FROM members WHERE branch = ?)", [branch])
    after = outreach.summary(store, "ward", branch=branch)
    assert before["reached"].sum() > 0 and after["reached"].sum() == 0
    assert outreach.headline(store, branch=branch)["reached"] == 0


def test_needing_support_follows_an_opt_out_at_once(store):
    queue = needs.queue(store)
    branch, key = queue.iloc[0]["branch"], queue.iloc[0]["member_key"]
    before = outreach.headline(store, branch=branch)["needing_support"]
    # Behind the library's back (no audit entry): the count must still drop at once.
    store.execute("INSERT INTO optouts (optout_id, member_key, scope, reason, source, recorded_at) "
                  "VALUES ('raw-cube', ?, 'calls', 'other', 'manual', now())", [key])
    assert outreach.headline(store, branch=branch)["needing_support"] == before - 1
