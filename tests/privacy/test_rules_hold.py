"""Tests that hold the privacy rules against bugs that once passed the whole suite (issue 13).

Each test names the rule and the bug it catches: erasure clearing every quasi-identifier, a branch
list's last check against the register, and the public profile's outcome table.
"""

from __future__ import annotations

import sys

import pandas as pd

from workbench import privacy, reports
from workbench.lists import followups
from workbench.privacy import optouts
from workbench.reports import cellkey, disclosure
from workbench.vocabulary import OUTCOMES

# members columns that say nothing about the person: its key and the row's own timestamps.
BOOKKEEPING = {"member_key", "created_at", "updated_at", "erased_at"}


def test_erasure_clears_every_quasi_identifier_of_the_member_row(synthetic_con):
    con = synthetic_con
    key, number = con.execute(
        "SELECT i.member_key, i.membership_number FROM identities i JOIN members m USING (member_key) "
        "WHERE m.joined_on IS NOT NULL AND m.age IS NOT NULL AND m.postcode IS NOT NULL LIMIT 1"
    ).fetchone()
    privacy.erase(con, actor="dpo", reason="subject_request", membership_number=number)
    # Every column from the catalogue, so a column added later must be cleared too (joined_on was
    # once left behind).
    row = con.execute("SELECT * FROM members WHERE member_key = ?", [key]).df().iloc[0]
    kept = {c: row[c] for c in row.index if c not in BOOKKEEPING and not pd.isna(row[c])}
    assert kept == {}
    assert not pd.isna(row["erased_at"])
    assert con.execute("SELECT count(*) FROM identities WHERE member_key = ?", [key]).fetchone()[0] == 0


def _branch_with_a_queue(con) -> str:
    return con.execute(
        "SELECT m.branch FROM followups f JOIN members m USING (member_key) "
        "WHERE f.state IN ('open', 'assigned') GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]


def test_a_branch_list_checks_the_register_again_right_before_it_is_written(synthetic_con):
    """An opt-out landing after the queue was read (mid-export) still keeps that member off the list.

    The opt-out is recorded at the exact moment `compose` has the queue and the identities in hand
    (a profile hook watching for that step to return), as a second user's opt-out could. Nothing in
    the library is replaced.
    """
    con = synthetic_con
    branch = _branch_with_a_queue(con)
    landed: list[str] = []

    def opt_out_mid_export(frame, event, arg):
        # "in", not "==": under mutation testing the function runs under a mangled name.
        if event == "return" and "_with_identity" in frame.f_code.co_name and not landed:
            people = arg[0]
            landed.append(people.column("member_key")[0].as_py())  # an Arrow table, in queue order
            optouts.add(con, actor="other user", reason="asked_not_to_be_called", member_key=landed[0])

    sys.setprofile(opt_out_mid_export)
    try:
        composed = followups.compose(con, branch=branch)
    finally:
        sys.setprofile(None)
    assert landed, "the hook never ran: compose no longer joins identities in _with_identity"
    assert landed[0] not in set(composed.rows["member_key"])
    assert composed.excluded.get("opted out", 0) >= 1
    # And the queue read before the opt-out did hold them: the final check is what kept them off.
    assert landed[0] not in set(followups.compose(con, branch=branch).rows["member_key"])


# Every released count is cell-key perturbed first (reports.cellkey): by at most MAX_NOISE, never from
# or to zero. The rules below are then applied to the perturbed count, so a true count near a
# threshold may land on either side of it, and a rounded figure may sit MAX_NOISE further away.
NOISE = cellkey.MAX_NOISE


def test_the_public_outcome_table_uses_the_public_rule_ten_five(synthetic_con):
    """ONS 10-5 on the public profile: every count under 10, zeros too, shows as suppressed."""
    preview = reports.preview(synthetic_con, profile="public")
    table = next(t for t in preview.tables if t.name == "outcome_mix")
    shown = disclosure.for_display(table.frame).set_index("outcome")
    raw = reports.branch_summary(synthetic_con, preview.options).set_index("branch")
    checked = 0
    for outcome in OUTCOMES:
        for branch in raw.index:
            value, cell = int(raw.loc[branch, outcome]), str(shown.loc[outcome, branch])
            if value < 10 - NOISE:
                assert cell == disclosure.SUPPRESSED, (outcome, branch, value, cell)
            else:
                assert cell == disclosure.SUPPRESSED or (
                    int(cell) % 5 == 0 and int(cell) >= 10 and abs(int(cell) - value) <= 2 + NOISE)
            checked += 1
    assert checked >= 2 * len(OUTCOMES)
    small = [(o, b) for o in OUTCOMES for b in raw.index if 0 <= raw.loc[b, o] < 10]
    assert small, "the synthetic store should hold small cells for this test to mean anything"


def test_the_internal_outcome_table_uses_the_nhs_rule(synthetic_con):
    """The internal profile suppresses 1-7 only, and shows a zero as 0 unless a suppressed count shares
    its row or column (then it is suppressed too, so a * never means "at least 1"), so the two
    profiles really differ."""
    preview = reports.preview(synthetic_con, profile="internal")
    shown = disclosure.for_display(next(t for t in preview.tables if t.name == "outcome_mix").frame)
    raw = reports.branch_summary(synthetic_con, preview.options).set_index("branch")[list(OUTCOMES)].T
    raw["Total"] = raw.sum(axis=1)
    raw.loc["Total"] = raw.sum()
    shown = shown.set_index("outcome").loc[raw.index, raw.columns].astype(str)
    counts = (raw != 0) & (shown == disclosure.SUPPRESSED)          # suppressed counts, not zeros
    assert (raw == 0).any().any(), "the synthetic store should hold zeros for this test to mean anything"
    for outcome in raw.index:
        for branch in raw.columns:
            value, cell = int(raw.loc[outcome, branch]), shown.loc[outcome, branch]
            if value == 0:
                beside = counts.loc[outcome].any() or counts[branch].any()
                assert cell == (disclosure.SUPPRESSED if beside else "0")
            elif value < 8 - NOISE:
                assert cell == disclosure.SUPPRESSED
