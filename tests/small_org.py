"""A small hand-built organisation whose right answers are obvious, for the analysis tests.

`small_store(con)` writes 7 members, 13 calls, 3 services and 2 follow-ups; the analysis and
snapshot tests import it (tests/ is on sys.path under pytest's default import mode).
"""

from __future__ import annotations

from datetime import datetime

from workbench.privacy import optouts

AS_OF = datetime(2020, 5, 1, 10, 0)

# member_key, branch, ward, postcode, age
MEMBERS = [
    ("m1", "Ashby", "North", "NV1 1AA", 85),
    ("m2", "Ashby", "North", "NV1 1AB", 40),
    ("m3", "Ashby", "South", "NV1 2AA", 70),
    ("m4", "Brook", "East", "NV9 1AA", 30),
    ("m5", "Brook", "East", "NV9 1AB", 55),
    ("m6", "Ashby", "North", "NV1 1AD", 60),
    ("m7", "Brook", "East", "NV9 1AD", None),
]
# call_id, member_key, round, caller, called_at, outcome, wellbeing, needs_support, urgency, keen,
# dp_query, notes
CALLS = [
    ("c01", "m1", "R1", "C01", "2020-04-01 10:00", "no_answer", None, None, None, None, None, None),
    ("c02", "m1", "R1", "C01", "2020-04-02 10:00", "answered", 2, True, "high", False, None, None),
    (
        "c03",
        "m2",
        "R1",
        "C02",
        "2020-04-01 11:00",
        "answered",
        4,
        False,
        None,
        True,
        "how_got_number",
        "Told them about the food bank on the high street",
    ),
    ("c04", "m2", "R2", "C02", "2020-04-20 11:00", "answered", 5, False, None, True, None, None),
    ("c05", "m3", "R1", "C01", "2020-04-01 12:00", "answered", 4, True, "low", False, None, None),
    ("c06", "m3", "R2", "C01", "2020-04-20 12:00", "answered", 3, False, None, False, None, None),
    ("c07", "m4", "R1", "C02", "2020-04-01 13:00", "voicemail", None, None, None, None, None, None),
    ("c08", "m4", "R1", "C02", "2020-04-02 13:00", "busy", None, None, None, None, None, None),
    ("c09", "m4", "R1", "C02", "2020-04-03 13:00", "no_answer", None, None, None, None, None, None),
    ("c10", "m5", "R1", "C01", "2020-04-02 14:00", "answered", 3, True, "medium", False, None, None),
    ("c11", "m6", "R1", "C02", "2020-04-02 15:00", "answered", 1, True, "high", False, None, None),
    ("c12", "m6", "R2", "C02", "2020-04-21 15:00", "do_not_call", None, None, None, None, None, None),
    ("c13", "m7", "R2", "C01", "2020-04-20 16:00", "answered", 5, True, "low", False, None, None),
]
NEEDS = [
    ("c02", "food"),
    ("c02", "medicine"),
    ("c05", "isolation"),
    ("c10", "financial"),
    ("c11", "mental_health"),
    ("c13", "isolation"),
]
SKILLS = [("c03", "shopping"), ("c04", "shopping"), ("c04", "befriending")]
SERVICES = [
    ("s1", "Northvale Food Bank", "food", [], ["food bank"]),
    ("s2", "North Befriending", "isolation", ["North"], []),
    ("s3", "Brook Money Advice", "financial", ["East"], ["money advice"]),
]
CALL_SERVICES = [("c02", "s1", "Northvale Food Bank"), ("c10", None, "Citizens Advice Northvale")]


def small_store(con) -> None:
    """Write the hand-built organisation above: 7 members, 13 calls, 3 services, 2 follow-ups."""
    now = "2020-04-01 00:00"
    con.executemany(
        "INSERT INTO members (member_key, branch, ward, postcode, age, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*m, now, now) for m in MEMBERS],
    )
    con.executemany(
        "INSERT INTO identities (member_key, membership_number) VALUES (?, ?)",
        [(m[0], f"SYN{m[0]}") for m in MEMBERS],
    )
    con.executemany(
        "INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome, wellbeing, "
        "needs_support, urgency, keen_to_volunteer, dp_query, notes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        CALLS,
    )
    con.executemany("INSERT INTO call_needs VALUES (?, ?)", NEEDS)
    con.executemany("INSERT INTO call_skills VALUES (?, ?)", SKILLS)
    con.executemany(
        "INSERT INTO services (service_id, name, category, areas, aliases) VALUES (?, ?, ?, ?, ?)", SERVICES
    )
    con.executemany("INSERT INTO call_services VALUES (?, ?, ?)", CALL_SERVICES)
    # m5's need was resolved after it was recorded; m7's is assigned to a helper.
    con.execute(
        "INSERT INTO followups VALUES ('m5', 'c10', 'resolved', '2020-04-02 14:00', "
        "'2020-04-10 09:00', NULL, '2020-04-10 09:00')"
    )
    con.execute(
        "INSERT INTO followups VALUES ('m7', 'c13', 'assigned', '2020-04-20 16:00', "
        "'2020-04-21 09:00', 'L1', NULL)"
    )
    optouts.record_from_calls(con, actor="test")  # m6 said "do not call"
