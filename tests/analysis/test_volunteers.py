"""Keen members, counts by ward, neighbouring wards and suggested matches, on the hand-built store."""

from __future__ import annotations

import pytest
from small_org import AS_OF, small_store

from workbench import vocabulary
from workbench.analysis import volunteers
from workbench.errors import InputError


@pytest.fixture
def small(con):
    small_store(con)
    return con


def _add_keen(con, call_id, member_key, skills, called_at="2020-04-25 10:00"):
    con.execute(
        "INSERT INTO calls (call_id, member_key, round, called_at, outcome, needs_support, "
        "keen_to_volunteer) VALUES (?, ?, 'R2', ?, 'answered', FALSE, TRUE)",
        [call_id, member_key, called_at],
    )
    con.executemany("INSERT INTO call_skills VALUES (?, ?)", [(call_id, s) for s in skills])


def test_keen_members_use_their_latest_answered_call(small):
    keen = volunteers.keen(small)
    # m2 said keen in R1 (shopping) and again in R2 (shopping, befriending): R2 wins.
    assert keen[["member_key", "ward"]].values.tolist() == [["m2", "North"]]
    assert keen.loc[0, "skills"] == ["befriending", "shopping"]


def test_keen_counts_by_ward_with_skills(small):
    _add_keen(small, "k1", "m4", ["shopping"])
    counts = volunteers.by_ward(volunteers.keen(small)).set_index("ward")
    assert counts.loc["North", ["keen", "shopping", "befriending"]].tolist() == [1, 1, 1]
    assert counts.loc["East", ["keen", "shopping", "befriending"]].tolist() == [1, 1, 0]


def test_neighbours_share_a_postcode_district(small):
    pairs = set(map(tuple, volunteers.neighbours(small).values.tolist()))
    assert pairs == {("North", "South"), ("South", "North")}  # NV1 spans both; East is alone in NV9


def test_matches_same_ward_by_category_and_skill(small):
    found = volunteers.matches(small, as_of=AS_OF)
    assert found[
        ["need_member_key", "category", "volunteer_member_key", "skill", "same_ward"]
    ].values.tolist() == [["m1", "food", "m2", "shopping", True]]
    assert found.attrs["excluded"]["needs"] == {"opted out": 1}


def test_matches_reach_into_a_neighbouring_ward(small):
    _add_keen(small, "k1", "m3", ["prescriptions"])  # m3 lives in South, next to North
    found = volunteers.matches(small, as_of=AS_OF, category="medicine")
    assert found[
        ["need_member_key", "volunteer_member_key", "volunteer_ward", "same_ward"]
    ].values.tolist() == [["m1", "m3", "South", False]]


def test_opted_out_volunteers_are_never_suggested(small):
    _add_keen(small, "k1", "m6", ["shopping"], called_at="2020-04-19 10:00")  # m6 later said do not call
    assert "m6" not in set(volunteers.matches(small, as_of=AS_OF)["volunteer_member_key"])


def test_suggestions_are_spread_round_robin(small):
    # Four more needs for food in North and four shoppers there: nobody is suggested for everyone.
    for i in range(4):
        key = f"n{i}"
        small.execute(
            "INSERT INTO members (member_key, branch, ward, postcode, created_at, updated_at) "
            "VALUES (?, 'Ashby', 'North', 'NV1 1ZZ', now(), now())",
            [key],
        )
        small.execute(
            "INSERT INTO calls (call_id, member_key, round, called_at, outcome, needs_support, "
            "urgency) VALUES (?, ?, 'R2', '2020-04-22', 'answered', TRUE, 'low')",
            [f"x{i}", key],
        )
        small.execute("INSERT INTO call_needs VALUES (?, 'food')", [f"x{i}"])
        small.execute(
            "INSERT INTO members (member_key, branch, ward, postcode, created_at, updated_at) "
            "VALUES (?, 'Ashby', 'North', 'NV1 1ZY', now(), now())",
            [f"v{i}"],
        )
        _add_keen(small, f"y{i}", f"v{i}", ["shopping"])
    found = volunteers.matches(small, as_of=AS_OF, category="food", per_need=2)
    assert (found.groupby("need_member_key").size() == 2).all()
    assert found.groupby("volunteer_member_key").size().max() <= 3


@pytest.mark.parametrize(
    "kwargs, message", [({"ward": "West"}, "Known wards"), ({"per_need": 0}, "1 or more")]
)
def test_matches_check_their_arguments(small, kwargs, message):
    with pytest.raises(InputError, match=message):
        volunteers.matches(small, **kwargs)


def _reference_matches(con, per_need: int):
    """The documented rule, written out plainly in Python, from the public queue and keen lists."""
    import hashlib

    from workbench.analysis import needs

    queue, keen = needs.queue(con), volunteers.keen(con)
    near = {}
    for ward, neighbour in volunteers.neighbours(con).itertuples(index=False):
        near.setdefault(ward, []).append(neighbour)

    def in_md5_order(offers):  # the snapshot's vorder: a stable shuffle, not a security use
        return sorted(offers, key=lambda o: hashlib.md5(o[0].encode(), usedforsecurity=False).hexdigest())

    def offers(ward, category):  # (member_key, ward, first suitable skill)
        suits = vocabulary.CATEGORY_SKILLS[category]
        return [(k, w, min(s for s in skills if s in suits))
                for k, w, skills in keen[["member_key", "ward", "skills"]].itertuples(index=False)
                if w == ward and any(s in suits for s in skills)]

    asks = sorted(((-score, key, category, ward) for key, ward, categories, score
                   in queue[["member_key", "ward", "categories", "score"]].itertuples(index=False)
                   for category in categories if category in vocabulary.CATEGORY_SKILLS and ward),
                  key=lambda a: a[:3])
    seen, rows = {}, []
    for minus_score, key, category, ward in asks:
        pool = [(*o, True) for o in in_md5_order(offers(ward, category))]
        if len(pool) < per_need:
            nearby = [o for n in near.get(ward, []) for o in offers(n, category)]
            pool += [(*o, False) for o in in_md5_order(nearby)]
        i = seen.get((ward, category), 0)
        seen[(ward, category)] = i + 1
        picked = [pool[(i * per_need + j) % len(pool)] for j in range(min(per_need, len(pool)))]
        picked = sorted((p for p in picked if p[0] != key), key=lambda p: (not p[3], p[0]))
        rows += [[key, ward, category, p[0], p[1], p[2], p[3], -minus_score] for p in picked]
    return rows


@pytest.mark.parametrize("per_need", [1, 3, 5])
def test_matches_follow_the_documented_round_robin_on_a_synthetic_organisation(synthetic_con, per_need):
    found = volunteers.matches(synthetic_con, per_need=per_need)
    assert len(found) >= 10 and not found["same_ward"].all()  # many needs; some from next door
    assert found.values.tolist() == _reference_matches(synthetic_con, per_need)
