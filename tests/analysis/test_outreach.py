"""Outreach measures pinned on the hand-built store: attempts, reached, contact rate, unreached."""

from __future__ import annotations

import csv
import io

import pytest
from small_org import small_store

from workbench.analysis import outreach
from workbench.errors import InputError


@pytest.fixture
def small(con):
    small_store(con)
    return con


def test_summary_by_round_counts_attempts_reached_and_rate(small):
    frame = outreach.summary(small, by="round").set_index("round")
    # R1: 9 attempts on 6 members (m1..m6); reached m1 m2 m3 m5 m6 -> 5/6.
    assert frame.loc["R1", ["attempts", "members_called", "reached"]].tolist() == [9, 6, 5]
    assert frame.loc["R1", "contact_rate"] == pytest.approx(5 / 6)
    # R2: m2 m3 m6 m7 called, m6 said do not call -> 3 of 4 reached.
    assert frame.loc["R2", ["attempts", "members_called", "reached", "do_not_call"]].tolist() == [4, 4, 3, 1]
    assert int(frame.loc["R1", list(outreach.OUTCOMES)].sum()) == 9


def test_summary_filters_and_groupings(small):
    by_branch = outreach.summary(small, by="branch").set_index("branch")
    assert by_branch.loc["Brook", ["attempts", "members_called", "reached"]].tolist() == [5, 3, 2]
    by_day = outreach.summary(small, by="day", round="R1", branch="Ashby")
    assert by_day["attempts"].sum() == 5 and str(by_day.iloc[0]["day"])[:10] == "2020-04-01"
    weeks = outreach.summary(small, by="week", date_from="2020-04-20", date_to="2020-04-21")
    assert weeks["attempts"].tolist() == [4]  # date_to is inclusive
    assert outreach.summary(small, by="ward", outcome="answered")["reached"].sum() == 6


def test_callers_are_ordered_by_pseudonym_not_performance(small):
    frame = outreach.summary(small, by="caller")
    assert frame["caller"].tolist() == ["C01", "C02"]  # C02 reached fewer but is not ranked


def test_headline(small):
    head = outreach.headline(small)
    assert head == {
        "attempts": 13,
        "members_called": 7,
        "reached": 6,
        "contact_rate": pytest.approx(6 / 7),
        "needing_support": 2,
    }
    assert outreach.headline(small, branch="Brook")["needing_support"] == 1
    assert outreach.headline(small, outcome="busy")["needing_support"] == 0
    assert outreach.headline(small, round="R1")["needing_support"] == 2  # m1 and m3 (m6 opted out)


@pytest.mark.parametrize("filters", [{}, {"branch": "Brook"}, {"outcome": "busy"}, {"round": "R1"},
                                     {"date_from": "2020-04-20"}, {"ward": "North"}])
def test_the_headline_without_its_needing_count_and_the_count_alone_make_the_whole(small, filters):
    # The dashboard shows the snapshot's numbers first and the count read from the register after.
    whole = outreach.headline(small, **filters)
    alone = outreach.headline(small, **filters, needing=False)
    assert "needing_support" not in alone
    assert {**alone, "needing_support": outreach.needing_now(small, **filters)} == whole


def test_the_needing_count_alone_checks_its_filters(small):
    with pytest.raises(InputError, match="Known rounds"):
        outreach.needing_now(small, round="R9")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"by": "colour"}, "Choose one of: day, week, branch, ward, round, caller"),
        ({"round": "R9"}, "Known rounds: R1, R2"),
        ({"outcome": "maybe"}, "Known outcomes: answered, no_answer"),
        ({"date_from": "yesterday-ish"}, "YYYY-MM-DD"),
    ],
)
def test_bad_arguments_are_input_errors(small, kwargs, message):
    with pytest.raises(InputError, match=message):
        outreach.summary(small, **kwargs)


def test_attempts_distribution(small):
    frame = outreach.attempts_distribution(small, round="R1")
    assert frame.values.tolist() == [[1, 4, 4], [2, 1, 1], [3, 1, 0]]


def test_unreached_is_the_letter_list(small):
    frame = outreach.unreached(small, round="R1", min_attempts=3)
    assert frame["member_key"].tolist() == ["m4"] and frame.attrs["round"] == "R1"
    assert frame.loc[0, ["attempts", "last_outcome"]].tolist() == [3, "no_answer"]
    assert outreach.unreached(small, round="R1", min_attempts=4).empty
    assert outreach.unreached(small).attrs["round"] == "R2"  # the latest round by default


def test_unreached_goes_through_suppression(small):
    small.execute(
        "INSERT INTO optouts (optout_id, member_key, scope, reason, source, recorded_at) "
        "VALUES ('o1', 'm4', 'calls', 'other', 'manual', now())"
    )
    frame = outreach.unreached(small, round="R1", min_attempts=1)
    assert "m4" not in set(frame["member_key"]) and frame.attrs["excluded"] == {"opted out": 1}


def test_rollup_shows_numbers_beside_rates(small):
    frame = outreach.rollup(small).set_index("round")
    assert frame.loc[
        "R1", ["members_called", "reached", "recorded_need", "keen_to_volunteer", "dp_queries"]
    ].tolist() == [6, 5, 4, 1, 1]
    assert frame.loc["R1", "need_rate"] == pytest.approx(4 / 5)
    assert frame.loc["R2", "attempts_per_member"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["outreach", "--by", "round"], ["round,attempts,members_called,reached,contact_rate", "R1,9,6,5,"]),
        (
            ["outreach", "--unreached", "3", "--round", "R1"],
            ["member_key,branch,ward,attempts", "m4,Brook,East,3"],
        ),
        (
            ["services", "usage", "--by", "ward,category"],
            ["ward,category,referenced,members", "North,food,1,1"],
        ),
        (
            ["services", "gaps"],
            ["# Needs recorded with no service referenced", "Citizens Advice Northvale,1,1,1"],
        ),
        (["volunteers"], ["branch,ward,keen,befriending,shopping", "Ashby,North,1,1,1"]),
    ],
)
def test_cli_views_print_tables(store_path, capsys, monkeypatch, argv, expected):
    from conftest import PASSPHRASE

    from workbench.cli import main
    from workbench.store import db

    with db.session(store_path, PASSPHRASE) as connection:
        small_store(connection)
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    assert main([*argv, "--db", str(store_path), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    # The safe CSV quotes every field (OWASP); compare the cells, not the quoting.
    plain = "\n".join(",".join(row) for row in csv.reader(io.StringIO(out)))
    for text in expected:
        assert text in plain
