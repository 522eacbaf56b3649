"""docs/glossary.md defines every measure; each definition holds on a store where the answer is obvious."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import scoring, vocabulary
from workbench.analysis import needs, outreach, services

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"
TERMS = (
    "attempt",
    "reached",
    "contact rate",
    "needs support",
    "resolved",
    "escalation",
    "signposting gap",
    "urgency score",
    "days waiting",
    "unreached",
    "referral loop",
    "neighbouring wards",
    "mention in notes",
)

MEMBERS = [
    ("a", "B1", "W1", "NV1 1AA", 82),
    ("b", "B1", "W1", "NV1 1AB", 40),
    ("c", "B1", "W2", "NV1 2AA", 20),
]


def _store(con, calls, needs_rows=(), followups=()):
    con.executemany(
        "INSERT INTO members (member_key, branch, ward, postcode, age, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, now(), now())",
        MEMBERS,
    )
    con.executemany(
        "INSERT INTO calls (call_id, member_key, round, called_at, outcome, wellbeing, needs_support, "
        "urgency) VALUES (?, ?, 'R1', ?, ?, ?, ?, ?)",
        calls,
    )
    if needs_rows:
        con.executemany("INSERT INTO call_needs VALUES (?, ?)", needs_rows)
    for row in followups:
        con.execute("INSERT INTO followups VALUES (?, ?, ?, ?, ?, NULL, ?)", row)


@pytest.mark.parametrize("term", TERMS)
def test_the_glossary_defines(term):
    text = GLOSSARY.read_text(encoding="utf-8").lower()
    assert f"**{term}" in text, f"docs/glossary.md does not define {term!r}"


def test_score_weights_in_the_glossary_match_the_code():
    text = GLOSSARY.read_text(encoding="utf-8")
    for category, points in scoring.CATEGORY_POINTS.items():
        assert f"{category} {points}" in text
    for band, points in scoring.AGE_POINTS.items():
        assert f"{band} {points}" in text
    for category, skills in vocabulary.CATEGORY_SKILLS.items():
        assert f"| {category} | {', '.join(skills)} |" in text


def test_attempt_reached_and_contact_rate(con):
    # a: three attempts, answered once; b: two attempts, never answered; c: refused.
    _store(
        con,
        [
            ("1", "a", "2020-04-01 10:00", "no_answer", None, None, None),
            ("2", "a", "2020-04-02 10:00", "voicemail", None, None, None),
            ("3", "a", "2020-04-03 10:00", "answered", 4, False, None),
            ("4", "b", "2020-04-01 11:00", "busy", None, None, None),
            ("5", "b", "2020-04-02 11:00", "no_answer", None, None, None),
            ("6", "c", "2020-04-01 12:00", "refused", None, None, None),
        ],
    )
    head = outreach.headline(con)
    assert (head["attempts"], head["members_called"], head["reached"]) == (6, 3, 1)
    assert head["contact_rate"] == pytest.approx(1 / 3)  # members, not attempts: not 1/6
    # unreached after 2: b only (c refused, which stops the chase); after 3: nobody.
    assert outreach.unreached(con, "R1", 2)["member_key"].tolist() == ["b"]
    assert outreach.unreached(con, "R1", 3).empty


def test_needs_support_uses_the_most_recent_answered_call(con):
    # a: need, then a later answered call with none -> not in queue. b: none, then a need -> in queue.
    # c: need, then a later unanswered attempt -> still in queue (the answered call is the latest answered).
    _store(
        con,
        [
            ("1", "a", "2020-04-01", "answered", 2, True, "high"),
            ("2", "a", "2020-04-08", "answered", 4, False, None),
            ("3", "b", "2020-04-01", "answered", 4, False, None),
            ("4", "b", "2020-04-08", "answered", 3, True, "low"),
            ("5", "c", "2020-04-01", "answered", 3, True, "medium"),
            ("6", "c", "2020-04-08", "no_answer", None, None, None),
        ],
        needs_rows=[("1", "food"), ("4", "digital"), ("5", "housing")],
    )
    assert sorted(needs.queue(con, as_of="2020-04-10")["member_key"]) == ["b", "c"]


def test_resolved_escalation_and_days_waiting(con):
    _store(
        con,
        [
            ("1", "a", "2020-04-01 09:00", "answered", 3, True, "medium"),
            ("2", "b", "2020-04-01 09:00", "answered", 3, True, "medium"),
            ("3", "c", "2020-04-02 09:00", "answered", 3, True, "medium"),
        ],
        needs_rows=[("1", "food"), ("2", "food"), ("3", "food")],
        followups=[("b", "2", "resolved", "2020-04-01 09:00", "2020-04-03", "2020-04-03")],
    )
    queue = needs.queue(con, as_of="2020-04-09 09:00").set_index("member_key")
    assert list(queue.index) == ["a", "c"]  # b is resolved
    assert queue.loc["a", "days_waiting"] == 8 and bool(queue.loc["a", "escalated"])  # 8 > 7
    assert queue.loc["c", "days_waiting"] == 7 and not bool(queue.loc["c", "escalated"])  # 7 is not > 7


def test_urgency_score_worked_example(con):
    _store(
        con,
        [("1", "a", "2020-04-01 09:00", "answered", 2, True, "high")],
        needs_rows=[("1", "food"), ("1", "medicine")],
    )
    row = needs.queue(con, as_of="2020-04-30 09:00").iloc[0]
    assert (row["days_waiting"], row["score"]) == (29, 116)  # the glossary's example: 40+15+17+15+29


def test_signposting_gap_kinds(con):
    _store(
        con,
        [
            ("1", "a", "2020-04-01", "answered", 3, True, "low"),
            ("2", "c", "2020-04-01", "answered", 3, True, "low"),
        ],
        needs_rows=[("1", "food"), ("2", "food")],
    )
    con.execute(
        "INSERT INTO services (service_id, name, category, areas) VALUES ('s', 'Pantry', 'food', ['W1'])"
    )
    con.execute("INSERT INTO call_services VALUES ('1', 's', 'Pantry'), ('1', NULL, 'Mystery Club')")
    gaps = services.gaps(con)
    assert gaps.no_service[["ward", "category", "without_service"]].values.tolist() == [["W2", "food", 1]]
    assert gaps.uncovered[["ward", "category"]].values.tolist() == [["W2", "food"]]
    assert gaps.unlisted["name"].tolist() == ["Mystery Club"]
