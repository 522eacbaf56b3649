"""Erasure with a shared phone (nobody else is opted out or told), and the SAR with branch returns."""

from __future__ import annotations

import importlib
import json
from datetime import datetime

from dp_helpers import add_call, add_member

from workbench import privacy
from workbench.privacy import optouts, subjects

# The package re-exports a function under the module's name, so the module is fetched by its path.
subject_access = importlib.import_module("workbench.privacy.subject_access")

HOUSEHOLD_PHONE = "01632 960111"   # a landline two members share


def _sar(con, number, tmp_path):
    done = subject_access.export(con, tmp_path / number, actor="dpo", membership_number=number)
    return json.loads(done.json_path.read_text(encoding="utf-8")), done.html_path.read_text(encoding="utf-8")


def _flagged(con):
    return set(optouts.flagged(con, "calls")["member_key"])


def test_erasing_one_of_two_members_sharing_a_phone_leaves_the_other_alone(con, tmp_path):
    erased = add_member(con, "SYN0000101", HOUSEHOLD_PHONE)
    sharer = add_member(con, "SYN0000102", HOUSEHOLD_PHONE)
    privacy.erase(con, actor="dpo", reason="subject_request", member_key=erased)
    assert sharer not in _flagged(con)          # nobody else's erasure opts her out
    report, page = _sar(con, "SYN0000102", tmp_path)
    assert report["opt_outs"] == []
    assert "erasure" not in page and erased not in page
    # The erased person cannot come back by their membership number.
    back = add_member(con, "SYN0000101", "07700 900555")
    assert back == erased and back in _flagged(con)


def test_an_erased_member_who_had_opted_out_leaves_a_bare_number_on_the_register(con, tmp_path):
    erased = add_member(con, "SYN0000201", HOUSEHOLD_PHONE)
    sharer = add_member(con, "SYN0000202", HOUSEHOLD_PHONE)
    optouts.add(con, actor="ana", reason="asked_not_to_be_called", member_key=erased)
    assert sharer in _flagged(con)              # the number was on the register before, too
    privacy.erase(con, actor="dpo", reason="subject_request", member_key=erased)
    assert sharer in _flagged(con)              # and stays there: the phone is never called
    report, page = _sar(con, "SYN0000202", tmp_path)
    assert len(report["opt_outs"]) == 1
    entry = report["opt_outs"][0]
    assert entry["source"] == "register" and entry["reason"] == "other" and entry["scope"] == "calls"
    assert "erasure" not in page and erased not in page and "asked_not_to_be_called" not in page
    assert not entry["optout_id"].startswith("era-")
    # Nothing on the register links the number to the erased person.
    person = subjects.find(con, member_key=sharer)
    linked = con.execute("SELECT count(*) FROM optouts WHERE phone_hash = ? AND member_key IS NOT NULL",
                         [person.phone_hash]).fetchone()[0]
    assert linked == 0


def test_subject_access_includes_what_the_branch_sent_back(con, tmp_path):
    key = add_member(con, "SYN0000301", "07700 900301")
    add_call(con, "c301", key, "answered")
    con.execute("INSERT INTO lists (list_id, kind, purpose, recipient, created_at, shred_by, row_count, "
                "format) VALUES ('L9', 'followup', 'welfare call-backs', 'Ashcombe branch', now(), "
                "DATE '2020-05-01', 1, 'xlsx')")
    con.execute("INSERT INTO list_members (list_id, row_number, member_key, outcome, called_on, returned_at) "
                "VALUES ('L9', 1, ?, 'needs_more_help', DATE '2020-04-20', ?)",
                [key, datetime(2020, 4, 21, 9, 30)])
    report, page = _sar(con, "SYN0000301", tmp_path)
    (listed,) = report["lists"]
    assert listed["return_outcome"] == "needs_more_help"
    assert listed["return_called_on"].startswith("2020-04-20")
    assert listed["returned_at"].startswith("2020-04-21T09:30")
    assert "needs_more_help" in page and "2020-04-20" in page
