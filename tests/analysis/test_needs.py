"""The triage queue, its score and escalation, counts, trends and follow-up state, on a hand-built store
(`small_org.small_store`)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from small_org import AS_OF, small_store

from workbench import scoring
from workbench.analysis import needs
from workbench.errors import InputError


@pytest.fixture
def small(con):
    small_store(con)
    return con


def test_queue_holds_exactly_the_members_who_need_support(small):
    queue = needs.queue(small, as_of=AS_OF)
    # m1: open, no follow-up row; m7: assigned. Not m3 (latest answered call: no need), m5
    # (resolved), m6 (opted out), m2/m4 (no need / never answered).
    assert list(queue["member_key"]) == ["m1", "m7"]
    assert queue.attrs["excluded"] == {"opted out": 1}
    assert list(queue["state"]) == ["open", "assigned"]


def test_queue_shows_no_identity(small):
    queue = needs.queue(small, as_of=AS_OF)
    assert not {"first_name", "last_name", "phone", "email", "address", "membership_number", "notes"} & set(
        queue.columns
    )
    for column in (
        "member_key",
        "branch",
        "ward",
        "categories",
        "urgency",
        "wellbeing",
        "age_band",
        "days_waiting",
        "score",
        "escalated",
        "state",
        "call_id",
    ):
        assert column in queue.columns


def test_urgency_score_is_the_documented_sum(small):
    row = needs.queue(small, as_of=AS_OF).set_index("member_key")
    # m1: high 40 + wellbeing 2 -> 15 + food 15 and one more category 2 + age 85 -> 15 + 29 days.
    assert row.loc["m1", "days_waiting"] == 29
    assert row.loc["m1", "score"] == 40 + 15 + 17 + 15 + 29
    assert row.loc["m1", "categories"] == ["food", "medicine"]
    assert row.loc["m1", "age_band"] == "80+"
    # m7: low 5 + wellbeing 5 -> 0 + isolation 8 + age unknown 5 + 10 days (opened 20 Apr 16:00).
    assert row.loc["m7", "days_waiting"] == 10
    assert row.loc["m7", "score"] == 5 + 0 + 8 + 5 + 10


def test_escalation_uses_the_setting_and_the_argument(small):
    queue = needs.queue(small, as_of=AS_OF).set_index("member_key")
    assert bool(queue.loc["m1", "escalated"]) and bool(queue.loc["m7", "escalated"])  # > 7 days
    queue = needs.queue(small, as_of=AS_OF, escalate_after_days=10).set_index("member_key")
    assert bool(queue.loc["m1", "escalated"]) and not bool(queue.loc["m7", "escalated"])  # 10 is not > 10
    from workbench.store import settings as store_settings

    store_settings.set(small, "escalate_after_days", "30", actor="test")
    assert not needs.queue(small, as_of=AS_OF)["escalated"].any()


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"branch": "Ashby"}, ["m1"]),
        ({"ward": "East"}, ["m7"]),
        ({"category": "isolation"}, ["m7"]),
        ({"category": "housing"}, []),
        ({"round": "R1"}, ["m1", "m3"]),
    ],
)
def test_queue_filters(small, kwargs, expected):
    assert list(needs.queue(small, as_of=AS_OF, **kwargs)["member_key"]) == expected


@pytest.mark.parametrize(
    "kwargs, known",
    [
        ({"branch": "Nowhere"}, "Known branches: Ashby, Brook"),
        ({"ward": "West"}, "Known wards: East, North, South"),
        ({"category": "pets"}, "food, medicine, isolation"),
        ({"as_of": "not a date"}, "YYYY-MM-DD"),
        ({"escalate_after_days": -1}, "0 or more"),
    ],
)
def test_unknown_filters_name_the_known_values(small, kwargs, known):
    with pytest.raises(InputError, match=known):
        needs.queue(small, **kwargs)


def test_a_later_need_reopens_a_resolved_follow_up(small):
    small.execute(
        "INSERT INTO calls (call_id, member_key, round, called_at, outcome, wellbeing, needs_support, "
        "urgency) VALUES ('c14', 'm5', 'R2', '2020-04-22 10:00', 'answered', 2, TRUE, 'high')"
    )
    small.execute("INSERT INTO call_needs VALUES ('c14', 'housing')")
    row = needs.queue(small, as_of=AS_OF).set_index("member_key").loc["m5"]
    assert row["state"] == "open" and row["days_waiting"] == 9 and row["categories"] == ["housing"]


def test_set_state_creates_the_row_records_an_event_and_audits(small):
    needs.set_state(small, "m1", "assigned", actor="ana", list_id="L9", assigned_to="L9")
    state, opened_at, assigned = small.execute(
        "SELECT state, opened_at, assigned_to FROM followups WHERE member_key = 'm1'"
    ).fetchone()
    assert (state, opened_at, assigned) == ("assigned", datetime(2020, 4, 2, 10, 0), "L9")
    assert small.execute(
        "SELECT state, changed_by, list_id FROM followup_events WHERE member_key = 'm1'"
    ).fetchall() == [("assigned", "ana", "L9")]
    assert (
        small.execute("SELECT count(*) FROM audit_log WHERE action = 'followup.assigned'").fetchone()[0] == 1
    )
    needs.set_state(small, "m1", "resolved", actor="ana")
    assert "m1" not in set(needs.queue(small, as_of=AS_OF)["member_key"])


def test_set_state_joins_the_callers_transaction(small):
    small.execute("BEGIN TRANSACTION")
    needs.set_state(small, "m1", "in_progress", actor="ana")
    small.execute("ROLLBACK")
    assert small.execute("SELECT count(*) FROM followups WHERE member_key = 'm1'").fetchone()[0] == 0


@pytest.mark.parametrize(
    "key, state, actor, message",
    [
        ("m1", "done", "ana", "Expected one of: open, assigned, in_progress, resolved, unreachable"),
        ("nobody", "resolved", "ana", 'No member with member_key "nobody"'),
        ("m1", "resolved", " ", "needs an actor"),
    ],
)
def test_set_state_rejects_bad_input_and_changes_nothing(small, key, state, actor, message):
    with pytest.raises(InputError, match=message):
        needs.set_state(small, key, state, actor=actor)
    assert small.execute("SELECT count(*) FROM followup_events").fetchone()[0] == 0


def test_counts_by_category_and_ward(small):
    queue = needs.queue(small, as_of=AS_OF)
    by_category = needs.counts(queue, "category").set_index("category")["members"]
    assert by_category["food"] == 1 and by_category["isolation"] == 1 and by_category["housing"] == 0
    assert dict(needs.counts(queue, "ward").set_index("ward")["members"]) == {"East": 1, "North": 1}
    with pytest.raises(InputError, match="Choose one of"):
        needs.counts(queue, "colour")


def test_trend_finds_worse_wellbeing_and_new_needs(small):
    trend = needs.trend(small)
    assert trend.attrs["rounds"] == ("R1", "R2")
    rows = trend.set_index("member_key")
    # m2 4 -> 5 (better), m3 4 -> 3 (worse); m7 only answered in R2, m6 did not answer R2.
    assert list(rows.index) == ["m2", "m3"]
    assert bool(rows.loc["m3", "worse"]) and not bool(rows.loc["m2", "worse"])
    assert not rows["new_need"].any()
    summary = needs.trend_summary(trend).iloc[0]
    assert (summary["compared"], summary["worse"], summary["better"]) == (2, 1, 1)


@pytest.mark.parametrize(
    "age, band",
    [
        (18, "18–34"),
        (34, "18–34"),
        (35, "35–49"),
        (49, "35–49"),
        (50, "50–64"),
        (64, "50–64"),
        (65, "65–79"),
        (79, "65–79"),
        (80, "80+"),
        (104, "80+"),
        (None, None),
        (17, None),
    ],
)
def test_age_band_edges(age, band):
    assert scoring.age_band(age) == band


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ages=st.lists(st.one_of(st.none(), st.integers(0, 120)), min_size=1, max_size=20))
def test_sql_and_python_age_bands_agree(con, ages):
    frame = pd.DataFrame({"age": pd.array(ages, dtype="Int64")})
    con.register("ages", frame)
    sql = con.execute(f"SELECT {scoring.age_band_sql('age')} FROM ages").fetchall()
    con.unregister("ages")
    assert [row[0] for row in sql] == [scoring.age_band(a) for a in ages]


def test_cli_needs_prints_the_queue_without_identity(store_path, capsys, monkeypatch):
    from conftest import PASSPHRASE

    from workbench.cli import main
    from workbench.store import db

    with db.session(store_path, PASSPHRASE) as connection:
        small_store(connection)
        connection.execute("UPDATE identities SET first_name = 'Zebedee', phone = '+447700900123'")
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    assert main(["needs", "--db", str(store_path), "--as-of", "2020-05-01", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    lines = list(csv.reader(io.StringIO(out)))  # every field quoted: the safe CSV writer
    assert lines[0] == "member_key,ward,categories,urgency,days_waiting,escalated,score,state".split(",")
    assert [line[0] for line in lines[1:]] == ["m1", "m7"]
    assert "food; medicine" in out and "Zebedee" not in out + err and "7700" not in out + err
    assert "1 opted out" in err
    assert main(["needs", "--db", str(store_path), "--ward", "West"]) == 1
    assert "Known wards: East, North, South" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["outreach"], ["needs"], ["services", "usage"], ["services", "gaps"], ["volunteers"]]
)
def test_cli_help_ends_with_a_worked_example(argv, capsys):
    from workbench.cli import main

    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    assert "Example:\n  workbench " + argv[0] in capsys.readouterr().out


@pytest.mark.parametrize("rows", [
    [["food", "medicine"], [], None, ["food", "medicine"], ["isolation"]],
    [["food"], [""], ["", "food"], []],            # an empty string: a joined list could not show it
    [["a\x1fb"], ["a", "b"], ["a\x1fb"]],          # the separator inside a value
])
def test_list_columns_become_python_lists_exactly_each_row_its_own(rows):
    lists = needs.python_lists(pa.chunked_array([pa.array(rows[:2], pa.list_(pa.string())),
                                                 pa.array(rows[2:], pa.list_(pa.string()))]))
    assert lists == rows
    first = lists[0]
    first.append("changed")
    assert lists.count(first) == 1 and all(row is not first for row in lists[1:])
