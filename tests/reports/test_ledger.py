"""The release ledger: each narrow-slice pattern is refused, allowed with a recorded reason, never public."""

from __future__ import annotations

import json

import pytest

from workbench import reports
from workbench.cli import main
from workbench.errors import DisclosureError, InputError
from workbench.privacy import optouts
from workbench.reports import ledger
from workbench.store import settings

ROUND = {"date_from": "2020-03-30", "date_to": "2020-04-14"}


def _build(con, tmp_path, name, **options):
    return reports.build(con, tmp_path / name, actor="tester", **options)


def _last_entry(con):
    action, counts = con.execute("SELECT action, counts FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return action, json.loads(counts)


def _one_more_call(con):
    con.execute("INSERT INTO calls SELECT 'extra-call', member_key, round, caller, "
                "called_at + INTERVAL 1 HOUR, outcome, wellbeing, needs_support, urgency, keen_to_volunteer, "
                "dp_query, NULL, import_id FROM calls "
                "WHERE called_at::DATE BETWEEN '2020-03-30' AND '2020-04-14' ORDER BY call_id LIMIT 1")


PATTERNS = {
    "window": ({**ROUND}, {"date_from": "2020-03-30", "date_to": "2020-04-12"}, None),
    "branch": ({**ROUND}, {**ROUND, "branch": "Millbridge"}, None),
    "new-calls": ({**ROUND}, {**ROUND}, _one_more_call),
}


def test_an_extract_overlapping_an_earlier_extract_is_a_slice_unless_it_is_the_same_rows_again():
    def request(window, version="v1", extract=True):
        settings = {"area": "branch"} if extract else None
        return ledger.Request("internal", True, window, None, settings, version, 500)

    earlier = request(("2020-03-30", "2020-05-11"))
    assert ledger.slices(request(("2020-04-20", "2020-06-08")), earlier) == ["extract"]
    assert ledger.slices(request(("2020-03-30", "2020-05-11")), earlier) == []      # the same rows again
    # After the data changed, an overlapping extract subtracts row by row: no reason approves it.
    refresh = request(("2020-03-30", "2020-05-11"), "v2")
    assert ledger.slices(refresh, earlier) == ["new-calls", "extract-refresh"]
    assert "extract-refresh" in ledger.NEVER
    # The same rows generalised more finely are another extract; under another key they are not.
    finer = ledger.Request("internal", True, ("2020-03-30", "2020-05-11"), None, {"area": "ward"}, "v1", 500)
    assert ledger.slices(finer, earlier) == ["extract"]
    linked = ledger.Request("internal", True, ("2020-03-30", "2020-05-11"), None,
                            {"area": "branch", "linked_to": "R1"}, "v1", 500)
    assert ledger.slices(linked, earlier) == []
    assert ledger.slices(request(("2020-05-25", "2020-06-08")), earlier) == []      # no overlap
    assert ledger.slices(request(("2020-04-20", "2020-06-08"), extract=False), earlier) == []


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_a_narrow_slice_is_refused_then_allowed_with_a_recorded_reason(synthetic_con, tmp_path, pattern):
    first, second, between = PATTERNS[pattern]
    earlier = _build(synthetic_con, tmp_path, "first", **first)
    if between:
        between(synthetic_con)
    with pytest.raises(DisclosureError, match=f"release {earlier.release_id}") as refused:
        _build(synthetic_con, tmp_path, "refused", **second)
    assert "--allow-overlap" in str(refused.value) and not (tmp_path / "refused").exists()
    assert _last_entry(synthetic_con)[0] == "report.blocked"
    allowed = _build(synthetic_con, tmp_path, "allowed", allow_overlap="board asked for it", **second)
    action, counts = _last_entry(synthetic_con)
    assert action == "report.release" and counts["allow_overlap"] == "board asked for it"
    assert any(o.startswith(pattern) for o in counts["overlaps"])
    listed = ledger.releases(synthetic_con)
    assert listed["release_id"].tolist()[-1] == allowed.release_id
    assert listed["allow_overlap"].tolist()[-1] == "board asked for it"


@pytest.mark.parametrize("pattern", ["window", "branch", "new-calls"])
def test_the_public_profile_refuses_a_narrow_slice_outright(synthetic_con, tmp_path, pattern):
    first, second, between = PATTERNS[pattern]
    _build(synthetic_con, tmp_path, "first", profile="public", **first)
    if between:
        between(synthetic_con)
    with pytest.raises(DisclosureError, match="public release must not be a narrow slice"):
        _build(synthetic_con, tmp_path, "second", profile="public", allow_overlap="please", **second)


def test_separate_windows_and_repeats_need_no_approval(synthetic_con, tmp_path):
    _build(synthetic_con, tmp_path, "r1", **ROUND)
    _build(synthetic_con, tmp_path, "r2", date_from="2020-04-27", date_to="2020-05-11")
    _build(synthetic_con, tmp_path, "again", **ROUND)       # the same cells again: the same figures
    _build(synthetic_con, tmp_path, "week", date_from="2020-03-30", date_to="2020-04-05")
    assert len(ledger.releases(synthetic_con)) == 4


def test_every_release_records_its_full_parameters(synthetic_con, tmp_path):
    _build(synthetic_con, tmp_path, "one", branch="Millbridge", date_from="2020-04-01", rounding=False)
    _, counts = _last_entry(synthetic_con)
    recorded = counts["ledger"]
    assert recorded["profile"] == "internal" and recorded["rounding"] is False
    assert recorded["branch"] == "Millbridge" and recorded["window"] == ["2020-04-01", "2020-06-08"]
    assert recorded["extract"] is None and recorded["data_version"].isalpha() and recorded["calls"] > 0


def test_no_rounding_is_internal_only_and_never_meets_a_public_release(synthetic_con, tmp_path):
    with pytest.raises(InputError, match="internal releases only"):
        _build(synthetic_con, tmp_path, "x", profile="public", rounding=False)
    _build(synthetic_con, tmp_path, "public", profile="public", **ROUND)
    with pytest.raises(DisclosureError, match="unrounded"):
        _build(synthetic_con, tmp_path, "exact", rounding=False, allow_overlap="anyway",
               date_from="2020-04-01", date_to="2020-04-30")
    _build(synthetic_con, tmp_path, "elsewhere", rounding=False, date_from="2020-05-25", date_to="2020-06-08")


def test_an_empty_reason_is_not_a_reason(synthetic_con, tmp_path):
    _build(synthetic_con, tmp_path, "first", **ROUND)
    with pytest.raises(InputError, match="needs a reason"):
        _build(synthetic_con, tmp_path, "second", allow_overlap="  ", **{**ROUND, "branch": "Millbridge"})


def test_cli_releases_lists_the_ledger(synthetic_store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "demo")
    db = ["--db", str(synthetic_store)]
    assert main(["report", *db, "--out", str(tmp_path / "a"), "--from", "2020-03-30", "--to", "2020-04-14",
                 "--by", "ana"]) == 0
    assert main(["report", *db, "--out", str(tmp_path / "b"), "--from", "2020-03-30", "--to", "2020-04-14",
                 "--branch", "Millbridge", "--by", "ana"]) == 1
    assert "--allow-overlap" in capsys.readouterr().err
    assert main(["report", *db, "--out", str(tmp_path / "b"), "--from", "2020-03-30", "--to", "2020-04-14",
                 "--branch", "Millbridge", "--allow-overlap", "branch review", "--by", "ana"]) == 0
    capsys.readouterr()
    assert main(["releases", *db]) == 0
    out = capsys.readouterr().out
    assert "Millbridge" in out and "branch review" in out and out.count("2020-03-30") == 2


def test_a_day_with_calls_but_no_needs_gives_a_report_of_zeros_and_a_day_without_calls_one_refusal(
        synthetic_con, tmp_path):
    quiet = synthetic_con.execute(
        "SELECT c.called_at::DATE AS day FROM calls c LEFT JOIN call_needs n USING (call_id) "
        "GROUP BY day HAVING count(n.call_id) = 0 ORDER BY day LIMIT 1").fetchone()[0].isoformat()
    result = _build(synthetic_con, tmp_path, "quiet", date_from=quiet, date_to=quiet)
    needs = result.manifest["tables"][4]
    assert needs["name"] == "needs_by_ward" and needs["rows"] > 8    # every ward of the geography
    with pytest.raises(InputError, match="No calls from 2020-01-01 to 2020-01-01"):
        _build(synthetic_con, tmp_path, "none", date_from="2020-01-01", date_to="2020-01-01")


# ---- the series an intruder builds: days without calls, a few late calls, an opt-out -------------------


def test_days_without_calls_neither_hide_a_change_nor_block_a_repeat(synthetic_con, tmp_path):
    # Padding a window with empty days shows the same cells: on the same data it is a repeat, and after
    # a change it is the same scope on changed data, so it cannot be used to subtract one change.
    _build(synthetic_con, tmp_path, "first", profile="public", **ROUND)
    _build(synthetic_con, tmp_path, "padded", profile="public", date_from="2020-03-01", date_to="2020-04-14")
    _one_more_call(synthetic_con)
    with pytest.raises(DisclosureError, match="after the data changed by fewer than 100 calls"):
        _build(synthetic_con, tmp_path, "refused", profile="public", date_from="2020-02-01",
               date_to="2020-04-14")


def test_a_few_calls_on_days_after_a_release_are_a_narrow_slice_however_many_days_they_span(
        synthetic_con, tmp_path):
    # The weekly pattern: a release with open ends, then two calls dated 11 days after the last one. The
    # new open window differs by 11 days, but those days hold only the two calls.
    _build(synthetic_con, tmp_path, "week 24")
    synthetic_con.execute(
        "INSERT INTO calls SELECT 'late-' || call_id, member_key, round, caller, "
        "(SELECT max(called_at) FROM calls) + INTERVAL 11 DAY, outcome, wellbeing, needs_support, urgency, "
        "keen_to_volunteer, dp_query, NULL, import_id FROM calls ORDER BY call_id LIMIT 2")
    with pytest.raises(DisclosureError, match="or by days with fewer than 100 calls"):
        _build(synthetic_con, tmp_path, "week 25")


def test_an_opt_out_is_a_change_a_repeat_release_could_show(synthetic_con, tmp_path):
    # An opt-out takes a member out of the waiting table: the same scope again would show where they were.
    _build(synthetic_con, tmp_path, "first", profile="public", **ROUND)
    waiting = reports.needs.queue(synthetic_con)["member_key"].iloc[0]
    optouts.add(synthetic_con, actor="tester", reason="asked_not_to_be_called", member_key=waiting)
    with pytest.raises(DisclosureError, match="an opt-out"):
        _build(synthetic_con, tmp_path, "again", profile="public", **ROUND)


def test_a_release_recorded_before_the_state_version_is_compared_by_its_data_version_alone():
    old = ledger.Request("public", True, ("2020-03-30", "2020-04-14"), None, None, "v1", 500)
    new = ledger.Request("public", True, ("2020-03-30", "2020-04-14"), None, None, "v1", 500, "s2")
    assert ledger.slices(new, old) == []
    changed = ledger.Request.from_dict({**new.as_dict(), "state_version": "s1"})
    assert ledger.slices(new, changed) == ["new-calls"]


# ---- who left the data between two releases, and the day waiting is counted to ----------------------


def _calls_elsewhere(con, n: int = 150) -> None:
    """n late calls in the window, of members of another branch than Millbridge's: enough to pass the
    new-calls rule, and nowhere near the member who left."""
    con.execute(
        "INSERT INTO calls SELECT 'late-' || c.call_id, c.member_key, c.round, c.caller, "
        "c.called_at + INTERVAL 1 MINUTE, c.outcome, c.wellbeing, c.needs_support, c.urgency, "
        "c.keen_to_volunteer, c.dp_query, NULL, c.import_id FROM calls c JOIN members m USING (member_key) "
        "WHERE m.branch <> 'Millbridge' AND c.called_at::DATE BETWEEN '2020-03-30' AND '2020-04-14' "
        f"ORDER BY c.call_id LIMIT {n}")


def _waiting_in_millbridge(con) -> str:
    queue = reports.needs.queue(con, branch="Millbridge")
    return queue["member_key"].iloc[0]


@pytest.mark.parametrize("profile", ["public", "internal"])
def test_a_release_overlapping_an_earlier_one_after_an_opt_out_is_refused_however_many_calls_came(
        synthetic_con, tmp_path, profile):
    """Cell-key noise is the same for the same records, so beside 150 calls elsewhere, the cells that
    changed would be the opted-out member's (their ward, their urgency in the waiting table)."""
    earlier = _build(synthetic_con, tmp_path, "first", profile=profile, **ROUND)
    optouts.add(synthetic_con, actor="tester", reason="asked_not_to_be_called",
                member_key=_waiting_in_millbridge(synthetic_con))
    _calls_elsewhere(synthetic_con)
    wider = {"date_from": "2020-03-23", "date_to": "2020-04-21"}
    with pytest.raises(DisclosureError, match=f"or withdrawn, since release {earlier.release_id}") as refused:
        _build(synthetic_con, tmp_path, "again", profile=profile, **wider)
    if profile == "public":
        assert "Publish only calls no earlier release covered" in str(refused.value)
    # Calls no earlier release covered may be published.
    _build(synthetic_con, tmp_path, "next", profile=profile, date_from="2020-04-15", date_to="2020-05-11")


def test_the_removed_rule_compares_only_releases_that_recorded_who_had_left():
    old = ledger.Request("public", True, ("2020-03-30", "2020-04-14"), None, None, "v1", 500, "s1", None,
                         (0, 3, 0))
    erased = ledger.Request("public", True, ("2020-03-30", "2020-05-14"), None, None, "v2", 900, "s1", None,
                            (1, 3, 0))
    assert ledger.slices(erased, old) == ["removed"]
    apart = ledger.Request.from_dict({**erased.as_dict(), "window": ["2020-04-15", "2020-05-14"]})
    assert ledger.slices(apart, old) == []
    before = ledger.Request.from_dict({**old.as_dict(), "removed": None})  # recorded before the rule
    assert ledger.slices(erased, before) == []


def test_a_release_made_again_on_a_later_day_shows_the_same_waiting_table(synthetic_con, tmp_path):
    """Waiting is counted to the day after the scope's last call, not to the moment of release: made
    again a day later on the same data, it is the same release, not one whose moved cells are the
    people whose wait crossed 7 days overnight."""
    settings.set(synthetic_con, "as_of", "2020-07-01", actor="tester")
    _build(synthetic_con, tmp_path, "first", profile="public", **ROUND)
    settings.set(synthetic_con, "as_of", "2020-07-02", actor="tester")
    _build(synthetic_con, tmp_path, "next day", profile="public", **ROUND)
    first, again = ([line for line in (tmp_path / name / "waiting.csv").read_text().splitlines()
                     if not line.lstrip("\ufeff").startswith('"#')]  # the notice names the release
                    for name in ("first", "next day"))
    assert first == again and len(first) > 3
    recorded = [e.request.as_of for e in ledger.entries(synthetic_con)]
    assert recorded == ["2020-04-15T00:00:00"] * 2


def test_waiting_counted_to_another_day_is_a_change_the_ledger_sees(synthetic_con, tmp_path):
    _build(synthetic_con, tmp_path, "first", profile="public", **ROUND)
    with pytest.raises(DisclosureError, match="the day waiting is counted to"):
        _build(synthetic_con, tmp_path, "later", profile="public", as_of="2020-04-22", **ROUND)
