"""The widget views, driven in-process as a person would: set a value, click, read what is shown.

Real stores (the conftest fixtures), real library calls; no kernel and no browser needed here.
"""

from __future__ import annotations

import html
import stat

import pytest

from tests.conftest import PASSPHRASE
from workbench.store import db
from workbench.store.filters import known, wards
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import SettingsView, StoreView


def shown(widget) -> str:
    """The text a person would read in an HTML widget."""
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", widget.value))


# --- feedback ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error,expected",
    [
        (ValueError("+447700900123 is bad"), "unexpected"),
        (KeyError("Jane Smith"), "unexpected"),
    ],
)
def test_unexpected_errors_show_their_type_only(error, expected):
    note = Feedback()
    with note.guard():
        raise error
    assert expected in note.text and type(error).__name__ in note.text
    assert "Traceback" not in note.value and "7700" not in note.value and "Jane" not in note.value


def test_workbench_errors_show_their_own_message_escaped():
    from workbench.errors import InputError

    note = Feedback()
    assert note.call(lambda: (_ for _ in ()).throw(InputError("<b>row 3</b>, column Phone"))) is None
    assert note.text == "<b>row 3</b>, column Phone" and "<b>row" not in note.value


def test_a_guarded_callback_returns_its_value_when_it_works():
    note = Feedback()
    assert note.guarded(lambda x: x + 1)(1) == 2 and note.value == ""


# --- the store ---------------------------------------------------------------------------------


def test_store_opens_with_the_right_passphrase_and_tells_waiting_views(store_path):
    view = StoreView(store_path, PASSPHRASE)
    seen = []
    view.when_open(seen.append)
    assert view.store is not None and seen == [view.store]
    assert "Opened" in view.feedback.text and "encrypted" in shown(view.summary)
    assert PASSPHRASE not in repr(view.store)


@pytest.mark.parametrize(
    "passphrase,message",
    [
        ("wrong", "wrong passphrase"),
        ("", "is encrypted"),
    ],
)
def test_store_errors_are_one_readable_line(store_path, passphrase, message):
    view = StoreView(store_path, passphrase, auto_open=False)
    assert view.open_store() is None and view.store is None
    assert message in view.feedback.text and "Traceback" not in view.feedback.value


def test_a_missing_store_offers_the_demo_build(tmp_path):
    view = StoreView(tmp_path / "none.duckdb", "", auto_open=False)
    view.open_store()
    assert "no store" in view.feedback.text.lower() and view.demo_button.layout.display != "none"


def test_store_auto_opens_from_the_environment(store_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(store_path))
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    view = StoreView()
    assert view.store is not None and view.store.path == store_path


def test_settings_are_shown_and_saved_and_bad_values_refused(store_path):
    view = StoreView(store_path, PASSPHRASE)
    page = SettingsView(view)
    assert page.boxes["shred_after_days"].value == "14"
    page.boxes["shred_after_days"].value = "10"
    page.save_button.click()
    assert "Saved 1" in page.feedback.text
    with db.session(store_path, PASSPHRASE, read_only=True) as con:
        from workbench.store import settings

        assert settings.get(con, "shred_after_days") == "10"
    page.boxes["dp_contact"].value = "not an email"
    page.save_button.click()
    assert "must be an email" in page.feedback.text and "Traceback" not in page.feedback.value


# --- opt-outs ------------------------------------------------------------------------------------


def _a_member(path) -> tuple[str, str]:
    """A member with no opt-out, erasure or deceased/moved flag.

    member_key is keyed by a random per-store secret, so "the first by key" differs between
    builds of the tiny store; it must be chosen among the unflagged or the test flickers.
    """
    from workbench.privacy import optouts

    with db.session(path, db.DEMO_PASSPHRASE, read_only=True) as con:
        flagged = optouts.flagged(con, "all")["member_key"].tolist()
        return con.execute(
            "SELECT member_key, membership_number FROM identities"
            " WHERE NOT list_contains(?, member_key) ORDER BY member_key LIMIT 1",
            [flagged],
        ).fetchone()


def test_optouts_view_adds_looks_up_and_withdraws(synthetic_store):
    from workbench.widgets.optouts import OptOutsView

    key, number = _a_member(synthetic_store)
    page = OptOutsView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.identifier.value = number
    page.lookup_button.click()
    assert "Not on the register" in shown(page.status)
    page.reason.value = "asked_not_to_be_called"
    page.add_button.click()
    assert "Added" in page.feedback.text and key in page.register.value
    page.lookup_button.click()
    assert "On the register" in shown(page.status) and number not in page.entries.value
    page.withdraw_reason.value = "re_consented"
    page.withdraw_button.click()
    assert "Withdrew 1" in page.feedback.text
    page.lookup_button.click()
    assert "Not on the register" in shown(page.status) and "re_consented" in page.entries.value


@pytest.mark.parametrize(
    "by,value,message",
    [
        ("Phone number", "12345", "not a UK phone number"),
        ("Membership number", "NOBODY-999", "No member has that membership number"),
        ("Membership number", "", "exactly one"),
    ],
)
def test_optouts_view_bad_input_is_a_readable_message(synthetic_store, by, value, message):
    from workbench.widgets.optouts import OptOutsView

    page = OptOutsView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.by.value, page.identifier.value = by, value
    page.lookup_button.click()
    assert message in page.feedback.text and "Traceback" not in page.feedback.value
    assert value == "" or value not in page.feedback.text


# --- the outreach dashboard --------------------------------------------------------------------


def test_dashboard_shows_the_library_numbers_and_updates_charts_in_place(synthetic_store):
    from workbench.analysis import outreach
    from workbench.widgets.outreach import OutreachDashboard

    page = OutreachDashboard(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    figure, trace = page.by_place.figure, page.by_place.figure.data[0]
    branch = page.branch.options[1]
    page.branch.value = branch
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        expected = outreach.headline(con, branch=branch)
        wards = outreach.summary(con, by="ward", branch=branch)
    assert page.data.headline == expected and not page.feedback.value
    assert f"{expected['attempts']:,}" in shown(page.headline)
    # Updated in place, not replaced.
    assert page.by_place.figure is figure and page.by_place.figure.data[0] is trace
    assert list(trace.x) == [str(w) for w in wards["ward"]] and list(trace.y) == list(wards["members_called"])


def test_the_headline_and_chart_by_place_are_drawn_before_the_rest_is_queried(synthetic_store, monkeypatch):
    # The browser redraws charts in the order their messages arrive: the top of the page goes first.
    from workbench.analysis import outreach
    from workbench.widgets import outreach as view
    from workbench.widgets.outreach import OutreachDashboard

    page = OutreachDashboard(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    branch = page.branch.options[1]
    seen = []  # (groupings asked for, headline shown, chart by place's first ward shown) at each query
    real = outreach.summaries

    def watched(con, bys, **filters):
        seen.append((bys, shown(page.headline), page.by_place.figure.data[0].x[0]))
        return real(con, bys, **filters)

    monkeypatch.setattr(view.outreach, "summaries", watched)
    page.branch.value = branch
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        first_ward = str(outreach.summary(con, by="ward", branch=branch)["ward"][0])
        attempts = outreach.headline(con, branch=branch)["attempts"]
    (top, *_), (rest, headline, place) = seen
    assert top == ("ward",) and set(rest) == {"week", "round"}
    assert headline.split()[0] == f"{attempts:,}" and place == first_ward


def test_the_chart_by_place_is_sent_before_the_count_needing_support_is_read(synthetic_store, monkeypatch):
    # The count reads the opt-out register and the follow-ups (a quarter second, first time, on a
    # national store); the chart is drawn from the snapshot alone and need not wait for it.
    from workbench.analysis import outreach
    from workbench.widgets import outreach as view
    from workbench.widgets.outreach import OutreachDashboard

    page = OutreachDashboard(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    branch = page.branch.options[1]
    seen = []  # (chart by place's first ward, headline shown) when the count is read
    real = outreach.needing_now

    def watched(con, **filters):
        seen.append((page.by_place.figure.data[0].x[0], shown(page.headline)))
        return real(con, **filters)

    monkeypatch.setattr(view.outreach, "needing_now", watched)
    page.branch.value = branch
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        first_ward = str(outreach.summary(con, by="ward", branch=branch)["ward"][0])
        expected = outreach.headline(con, branch=branch)
    [(place, headline_then)] = seen
    assert place == first_ward and headline_then.split()[0] == f"{expected['attempts']:,}"
    assert page.data.headline == expected
    assert f"{expected['needing_support']:,} need support now" in " ".join(shown(page.headline).split())


def test_a_progress_bar_shows_only_for_work_slow_enough_to_need_it():
    import time

    from workbench.widgets.common import Steps

    steps = Steps(2)
    with steps:
        steps.step()
        steps.step()
        quick = steps.shown
    with steps:
        time.sleep(Steps.SHOW_AFTER_S)
        steps.step()
        slow = (steps.shown, steps.bar.value)
    assert not quick and slow == (True, 1) and not steps.shown


def test_dashboard_bad_date_range_is_a_message_not_a_traceback(synthetic_store):
    import datetime as dt

    from workbench.widgets.outreach import OutreachDashboard

    page = OutreachDashboard(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.date_from.value = dt.date(2030, 1, 1)
    assert "Traceback" not in page.feedback.value
    assert shown(page.headline).split()[0] == "0"  # no calls after 2030: zero attempts, shown calmly


def test_dashboard_before_the_store_opens_asks_for_the_passphrase(store_path):
    from workbench.widgets.outreach import OutreachDashboard

    view = StoreView(store_path, "", auto_open=False)
    page = OutreachDashboard(view)
    page.reset_button.click()
    assert page.store is None and "Traceback" not in page.feedback.value


# --- follow-up lists ---------------------------------------------------------------------------


def _branch_with_people(path) -> str:
    from workbench.lists import followups

    with db.session(path, db.DEMO_PASSPHRASE, read_only=True) as con:
        return next(b for b in known(con, "branch") if len(followups.compose(con, branch=b).rows) >= 1)


def test_followup_preview_hides_names_until_asked_and_export_needs_purpose(synthetic_store, tmp_path):
    from workbench.widgets.lists import FollowupListView, RegistryView

    view = StoreView(synthetic_store, db.DEMO_PASSPHRASE)
    page, registry = FollowupListView(view), RegistryView(view)
    page.branch.value = _branch_with_people(synthetic_store)
    page.preview_button.click()
    first = page.composed.rows.iloc[0]
    assert first["phone"] not in page.preview.value and "member_key" in page.preview.value
    page.show_names.value = True
    assert first["first_name"] in page.preview.value
    page.folder.value = str(tmp_path / "out")
    page.export_button.click()
    assert "--purpose is required" in page.feedback.text and page.exported is None
    page.purpose.value, page.recipient.value, page.fmt.value = "call-backs", "Branch secretary", "html-plain"
    page.reason.value = "printed for a branch with no computer"
    page.export_button.click()
    assert page.exported is not None and page.exported.path.exists(), page.feedback.text
    assert page.exported.list_id in registry.table.value  # the registry re-read after the export
    registry.list_id.value = page.exported.list_id
    registry.destroy_button.click()
    assert "destroyed" in registry.feedback.text and page.exported.list_id not in registry.list_id.options


# --- load, report, data protection: errors stay calm ------------------------------------------------


def test_load_view_shows_problems_as_a_table(synthetic_store, tmp_path):
    from workbench.widgets.load import LoadView

    bad = tmp_path / "calls.csv"
    bad.write_text("Call ID,Membership Number,Round,Caller,Date,Outcome\nX1,NV1,R1,C1,31/02/2020,Maybe\n")
    page = LoadView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.path.value = str(bad)
    page.check_button.click()
    assert "nothing was imported" in page.feedback.text and "Traceback" not in page.feedback.value
    assert "Outcome" in page.problems.value and page.last is not None and page.last.rejected == 1


def test_load_view_refuses_a_hostile_file_calmly_and_then_loads_a_good_one(synthetic_store, tmp_path):
    from workbench.widgets.load import LoadView

    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(5_000)) + "\n1\n")
    page = LoadView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.kind.value = "services"
    page.path.value = str(wide)
    page.import_button.click()
    assert "5,000 columns" in page.feedback.text and "Traceback" not in page.feedback.value
    good = tmp_path / "services.csv"
    good.write_text("Service ID,Name,Category\nS900,Northvale Tool Library,Other\n")
    page.path.value = str(good)
    page.import_button.click()
    assert page.feedback.text == "Imported." and page.last.loaded == 1


@pytest.mark.parametrize("target", ["folder", "datapackage.json"])
def test_load_view_imports_an_open_referral_uk_directory(synthetic_store, tiny_org, tmp_path, target):
    # A council's directory is a folder of tables (or its datapackage.json), read inside the import.
    from workbench.synthetic import tool_exports
    from workbench.widgets.load import LoadView

    folder = tool_exports.oruk_directory(tiny_org, tmp_path / "oruk")
    page = LoadView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.kind.value = "services"
    page.path.value = str(folder if target == "folder" else folder / "datapackage.json")
    page.check_button.click()
    assert page.feedback.text == "Checked: nothing was written.", page.feedback.text
    page.import_button.click()
    assert page.feedback.text == "Imported." and page.last.loaded + page.last.updated > 0


def test_report_preview_shows_suppression_and_the_risk_verdict(synthetic_store):
    from workbench.widgets.report import ReportView

    page = ReportView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.extract.value = True
    page.preview_button.click()
    assert not page.feedback.value, page.feedback.text
    assert "suppressed" in page.tables.value and "Risk gate" in shown(page.verdict)


def test_erasure_needs_typed_confirmation(synthetic_store):
    from workbench.widgets.dataprotection import ErasureView

    _, number = _a_member(synthetic_store)
    page = ErasureView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.identifier.value = number
    assert page.erase_button.click() is None and "type ERASE" in page.feedback.text
    page.confirm.value = "ERASE"
    page.erase_button.click()
    assert "Erased" in page.feedback.text, page.feedback.text
    page.confirm.value = "ERASE"
    page.erase_button.click()  # a second time: the library refuses, calmly
    assert "Traceback" not in page.feedback.value and "Erased" not in page.feedback.text


def test_the_app_page_reads_other_tabs_only_when_shown(synthetic_store):
    from workbench.widgets.app import App

    page = App(str(synthetic_store))
    assert page.page.layout.display == "none"
    page.store_view.passphrase_box.value = db.DEMO_PASSPHRASE
    assert page.page.layout.display is None and page.dashboard.data.headline
    # The other tabs are not even built: the browser makes every widget before the passphrase box.
    assert not hasattr(page, "needs") and all(not pane.children for pane in page.panes[1:])
    page.tabs.value = "Needs"
    needs = page.needs
    assert needs.frame is not None and not needs.feedback.value and page.panes[1].children == (needs,)
    assert page.panes[1].layout.display == "flex" and page.dashboard.layout.display == "none"
    page.tabs.value = "Outreach"
    page.tabs.value = "Needs"  # built once
    assert page.needs is needs and page.panes[1].children == (needs,)
    page.tabs.value = "Follow-up lists"
    assert page.lists.store is not None and page.registry.store is not None


def test_the_app_page_shows_its_tabs_before_the_dashboard_reads_the_store(synthetic_store, monkeypatch):
    # The chart by place can appear as soon as it is drawn, not after the map and the charts below.
    from workbench.widgets.app import App
    from workbench.widgets.outreach import OutreachDashboard

    page = App(str(synthetic_store))
    shown_when_read = []
    real = OutreachDashboard.refresh
    monkeypatch.setattr(OutreachDashboard, "refresh",
                        lambda self: shown_when_read.append(page.page.layout.display) or real(self))
    page.store_view.passphrase_box.value = db.DEMO_PASSPHRASE
    assert shown_when_read == [None] and page.dashboard.data.by_place is not None


def test_ward_filter_follows_the_branch(synthetic_store):
    from workbench.widgets.outreach import OutreachDashboard

    page = OutreachDashboard(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    everywhere = list(page.ward.options)
    branch = page.branch.options[1]
    page.branch.value = branch
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        expected = wards(con, branch)
    assert list(page.ward.options)[1:] == expected and len(expected) < len(everywhere) - 1
    page.ward.value = expected[0]
    page.branch.value = page.branch.options[2]  # a ward of another branch is dropped, not kept
    assert page.ward.value == "(all)" and not page.feedback.value


def test_looks_share_one_kept_connection_that_a_write_or_idleness_closes(synthetic_store, monkeypatch):
    import time

    from workbench.widgets.outreach import OutreachDashboard
    from workbench.widgets.store import Reader

    monkeypatch.setattr(Reader, "IDLE_SECONDS", 30)
    view = StoreView(synthetic_store, db.DEMO_PASSPHRASE)
    page = OutreachDashboard(view)
    reader = view.store.reader
    opened = reader.opened
    for branch in page.branch.options[1:4]:
        page.branch.value = branch  # three filter changes: no new connection
    assert reader.opened == opened and reader.con is not None
    # A change from this kernel closes the kept reader first (one process cannot hold the file
    # read-only and read-write at once), and the next look opens a fresh one that sees it.
    with view.store.write() as con:
        assert reader.con is None
        con.execute("UPDATE calls SET outcome = 'busy' WHERE outcome = 'answered'")
    page.branch.value = page.branch.options[0]
    assert page.data.headline["reached"] == 0 and reader.opened == opened + 1
    # Idle: closed, so another program can write the store.
    monkeypatch.setattr(Reader, "IDLE_SECONDS", 0.2)
    page.branch.value = page.branch.options[1]
    time.sleep(1)
    assert reader.con is None
    with db.session(synthetic_store, db.DEMO_PASSPHRASE) as con:
        assert con.execute("SELECT count(*) FROM calls WHERE outcome = 'answered'").fetchone()[0] == 0


def test_replacing_a_figure_sets_only_what_changed_and_ends_equal_to_the_new_one():
    import plotly.graph_objects as go

    from workbench.widgets.common import figure_widget, replace_figure

    first = go.Figure([go.Bar(x=["a", "b"], y=[1, 2], name="called", marker={"color": "#123456"}),
                       go.Bar(x=["a", "b"], y=[3, 4], name="reached", text=["3", "4"])])
    second = go.Figure([go.Bar(x=["a", "c"], y=[1, 5], name="called", marker={"color": "#123456"}),
                        go.Bar(x=["a", "c"], y=[3, 4], name="reached")])
    widget = figure_widget(first)
    trace = widget.data[1]
    replace_figure(widget, second)
    assert widget.data[1] is trace  # updated in place
    for shown_trace, wanted in zip(widget.data, second.data, strict=True):
        got = shown_trace.to_plotly_json()
        for key, value in wanted.to_plotly_json().items():
            assert list(got[key]) == list(value) if isinstance(value, (list, tuple)) else got[key] == value
    assert widget.data[1].text is None  # a property the new figure lacks is reset


def _plain(value):
    """A plotly property value as plain Python, numbers as text: plotly keeps a number given as text
    on a bar as text, and an array as an array; the browser draws them the same."""
    import numpy as np

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(float(value))
    return value


def _assert_shows(widget, figure) -> None:
    """The widget shows `figure`: every property of its traces, and its layout but for the sizes."""
    shown_json, wanted = widget.to_plotly_json(), figure.to_plotly_json()
    assert len(shown_json["data"]) == len(wanted["data"])
    for got, want in zip(shown_json["data"], wanted["data"], strict=True):
        assert {k: _plain(got.get(k)) for k in want} == _plain(want)
    def layout(of: dict) -> dict:  # an empty list of annotations is no annotations
        return {k: v for k, v in of["layout"].items() if k not in ("height", "width") and v != []}

    assert _plain(layout(shown_json)) == _plain(layout(wanted))


def test_a_chart_drawn_again_gets_only_its_new_numbers_and_ends_equal_to_the_new_chart(synthetic_store):
    from workbench.analysis import charts, outreach
    from workbench.widgets.common import ChartSlot

    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        branch = known(con, "branch")[0]
        frames = [outreach.summary(con, "branch"), outreach.summary(con, "ward", branch=branch)]
        rounds = [outreach.summary(con, "round"), outreach.summary(con, "round", outcome="busy")]
    slot, mix = ChartSlot(), ChartSlot()
    slot.draw(charts.outreach_summary_drawing(frames[0], "branch"))
    widget, traces = slot.figure, slot.figure.data
    for frame, by in ((frames[1], "ward"), (frames[0], "branch")):
        slot.draw(charts.outreach_summary_drawing(frame, by))
        assert slot.figure is widget and all(a is b for a, b in zip(widget.data, traces, strict=True))
        _assert_shows(widget, charts.outreach_summary(frame, by))
    # Other traces (only one outcome occurs): the figure is replaced in place, and back again.
    for frame in (*rounds, rounds[0]):
        mix.draw(charts.outcome_mix_drawing(frame, "round"))
        _assert_shows(mix.figure, charts.outcome_mix(frame, "round"))
    assert len(mix.figure.data) > 1


def test_a_map_drawn_again_is_recoloured_in_place(synthetic_store):
    from workbench.analysis import maps, outreach
    from workbench.widgets.maps import MapSlot

    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        shapes = maps.shapes(con)
        branch = known(con, "branch")[0]
        everywhere = outreach.summary(con, "ward")
        one_branch = outreach.summary(con, "ward", branch=branch)
        its_wards = wards(con, branch)
    slot = MapSlot()
    slot.draw(maps.contact_drawing(everywhere, shapes))
    widget, traces = slot.figure, slot.figure.data
    for frame, focus, selected in ((one_branch, its_wards, its_wards[0]), (everywhere, None, None)):
        slot.draw(maps.contact_drawing(frame, shapes, focus=focus, selected=selected))
        assert slot.figure is widget and all(a is b for a, b in zip(widget.data, traces, strict=True))
        _assert_shows(widget, maps.contact_map(frame, shapes, focus=focus, selected=selected))


def test_questions_view_maps_survey_columns_previews_and_saves(synthetic_store, tmp_path, tiny_org):
    from workbench.synthetic import tool_exports
    from workbench.widgets.load import LoadView, QuestionsView

    report, _members = tool_exports.callhub_call_report(tiny_org, tmp_path / "callhub.csv")
    page = LoadView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.path.value = str(report)
    questions = QuestionsView(page)
    questions.read_button.click()
    assert tool_exports.CATEGORY_QUESTION in questions.fields, questions.feedback.text
    questions.fields[tool_exports.CATEGORY_QUESTION].value = "need_categories"
    suggested = {a: d.value for a, d in questions.answers[tool_exports.CATEGORY_QUESTION].items()}
    assert suggested["Food shopping"] == "food" and suggested["Yes - medicine"] == "medicine"
    questions.preview_button.click()
    assert page.last is not None and page.last.dry_run, questions.feedback.text
    questions.save_path.value = str(tmp_path / "survey.toml")
    questions.save_button.click()
    assert "Saved" in questions.feedback.text and page.mapping.value == str(tmp_path / "survey.toml")
    assert '[answers.need_categories]\n' in (tmp_path / "survey.toml").read_text()
    assert stat.S_IMODE((tmp_path / "survey.toml").stat().st_mode) == 0o600
    # Saving again replaces the view's own file; another file already there is refused, not replaced.
    questions.answers[tool_exports.CATEGORY_QUESTION]["Food shopping"].value = "other"
    questions.save_button.click()
    assert '"Food shopping" = "other"' in (tmp_path / "survey.toml").read_text(), questions.feedback.text
    (tmp_path / "theirs.toml").write_text("[columns]\n")
    questions.save_path.value = str(tmp_path / "theirs.toml")
    questions.save_button.click()
    assert "already exists" in questions.feedback.text
    assert (tmp_path / "theirs.toml").read_text() == "[columns]\n"


def test_more_calls_imported_in_the_app_keep_the_analysis_copy_current(synthetic_store, tiny_org, tmp_path):
    # The dashboard has read the store (its snapshot kept beside it); more calls come in through the
    # load page; the next look opens the copy the import brought up to date, rebuilding nothing.
    import csv

    from workbench.analysis import outreach
    from workbench.store import snapshot
    from workbench.synthetic.io import write_exports
    from workbench.widgets.load import LoadView

    export = next(p for p in write_exports(tiny_org, tmp_path / "exports") if p.name.startswith("call_"))
    with export.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:20]
    more = tmp_path / "more_calls.csv"
    with more.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "Call ID": f"APP{i:03d}", "Date": "20/06/2020 11:00"}
                         for i, row in enumerate(rows))
    store_view = StoreView(synthetic_store, db.DEMO_PASSPHRASE)
    page = LoadView(store_view)
    snapshot.clear()
    with page.opened.read() as con:
        before = outreach.headline(con)["attempts"]
    page.kind.value, page.path.value = "calls", str(more)
    page.import_button.click()
    assert page.feedback.text == "Imported." and page.last.loaded == 20, page.feedback.text
    builds, loads = snapshot.BUILDS, snapshot.LOADS
    with page.opened.read() as con:
        assert outreach.headline(con)["attempts"] == before + 20
    assert (snapshot.BUILDS - builds, snapshot.LOADS - loads) == (0, 1)
