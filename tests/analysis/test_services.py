"""Services usage, signposting gaps, note mentions and the referral loop, on the hand-built store."""

from __future__ import annotations

import pytest
from small_org import small_store

from workbench.analysis import services
from workbench.errors import InputError


@pytest.fixture
def small(con):
    small_store(con)
    return con


def test_usage_by_service_counts_references_and_marks_unlisted(small):
    usage = services.usage(small, "service").set_index("service")
    assert usage.loc["Northvale Food Bank", "referenced"] == 1
    assert bool(usage.loc["Northvale Food Bank", "listed"])
    assert not bool(usage.loc["Citizens Advice Northvale", "listed"])
    assert len(usage) == 2


def test_usage_by_category_and_ward(small):
    usage = services.usage(small, ["ward", "category"])
    assert sorted(map(tuple, usage[["ward", "category", "referenced"]].values.tolist())) == [
        ("East", "unlisted", 1),
        ("North", "food", 1),
    ]
    assert list(services.usage(small, "category", branch="Ashby")["category"]) == ["food"]


def test_usage_over_time(small):
    by_week = services.usage(small, "week")
    assert int(by_week["referenced"].sum()) == 2 and len(by_week) == 1  # both in the week of 30 March


@pytest.mark.parametrize("by, message", [("colour", "Choose from: service, category"), ([], "Choose from")])
def test_usage_rejects_unknown_groupings(small, by, message):
    with pytest.raises(InputError, match=message):
        services.usage(small, by)


def test_usage_and_gaps_count_known_members_only_and_see_a_write_at_once(small):
    referenced = int(services.usage(small, "service")["referenced"].sum())
    # A call whose member has no members row (an import's orphan) names a service and records a need.
    small.execute("INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome) "
                  "VALUES ('c99', 'nobody', 'R1', 'C01', '2020-04-03 10:00', 'answered')")
    small.execute("INSERT INTO call_needs VALUES ('c99', 'housing')")
    small.execute("INSERT INTO call_services VALUES ('c99', NULL, 'Somewhere Else')")
    assert int(services.usage(small, "service")["referenced"].sum()) == referenced
    assert "housing" not in set(services.gaps(small).no_service["category"])
    # A known member's answered call naming the food bank counts the moment it is written.
    small.execute("INSERT INTO call_services VALUES ('c05', 's1', 'Northvale Food Bank')")
    usage = services.usage(small, "service").set_index("service")
    assert usage.loc["Northvale Food Bank", "referenced"] == 2
    assert ("South", "isolation") not in set(map(tuple, services.gaps(small).no_service[["ward", "category"]]
                                                  .values.tolist()))


def test_gaps_needs_with_no_service(small):
    gaps = services.gaps(small).no_service
    # c05 (South isolation), c11 (North mental health), c13 (East isolation) referenced nothing;
    # c02 (food, medicine) referenced the food bank and c10 named an unlisted service.
    cells = set(map(tuple, gaps[["ward", "category", "without_service"]].values.tolist()))
    assert cells == {("South", "isolation", 1), ("North", "mental_health", 1), ("East", "isolation", 1)}


def test_gaps_wards_the_map_does_not_cover(small):
    uncovered = services.gaps(small).uncovered
    # The food bank covers everywhere; befriending only North; money advice only East.
    cells = set(map(tuple, uncovered[["ward", "category"]].values.tolist()))
    assert cells == {
        ("North", "medicine"),
        ("North", "mental_health"),
        ("South", "isolation"),
        ("East", "isolation"),
    }


def test_an_empty_areas_list_covers_every_ward(small):
    small.execute("UPDATE services SET areas = [] WHERE service_id = 's2'")
    cells = set(map(tuple, services.gaps(small).uncovered[["ward", "category"]].values.tolist()))
    assert ("South", "isolation") not in cells and ("East", "isolation") not in cells


def test_gaps_unlisted_names(small):
    unlisted = services.gaps(small).unlisted
    assert unlisted[["name", "referenced", "members"]].values.tolist() == [
        ["Citizens Advice Northvale", 1, 1]
    ]


def test_mentions_in_notes_are_counted_never_shown(small):
    frame = services.mentions(small).set_index("service_id")
    # c03's note mentions "the food bank" (an alias) but ticked nothing; c02 ticked it without a note.
    assert frame.loc["s1", ["ticked", "in_notes", "in_notes_not_ticked"]].tolist() == [1, 1, 1]
    assert frame.loc["s3", "in_notes"] == 0
    text = frame.to_csv()
    assert "high street" not in text


def test_mentions_match_whole_words_only(small):
    small.execute("UPDATE calls SET notes = 'seafood banking tips' WHERE call_id = 'c03'")
    assert services.mentions(small).set_index("service_id").loc["s1", "in_notes"] == 0


def test_referral_loop(small):
    loop = services.referrals(small).set_index("service_id")
    assert loop.loc["s1", ["referred", "followed_up", "resolved"]].tolist() == [1, 0, 0]
    small.execute(
        "INSERT INTO followups VALUES ('m1', 'c02', 'resolved', '2020-04-02', '2020-04-05', NULL, "
        "'2020-04-05')"
    )
    loop = services.referrals(small).set_index("service_id")
    assert loop.loc["s1", ["referred", "followed_up", "resolved"]].tolist() == [1, 1, 1]
    assert loop.loc["s1", "resolved_rate"] == 1.0
    assert loop.loc["s2", "referred"] == 0 and loop["resolved_rate"].isna().sum() == 2


def test_filters_are_checked(small):
    with pytest.raises(InputError, match="Known wards: East, North, South"):
        services.gaps(small, ward="West")
