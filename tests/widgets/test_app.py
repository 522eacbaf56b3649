"""`workbench app`'s set-up and its charts, short of a browser (tests/widgets/test_browser.py drives
the page itself)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import plotly
import pytest

from workbench.analysis import charts, maps
from workbench.widgets import chart, common, server
from workbench.widgets.maps import MapSlot


def test_the_app_serves_plotlys_basic_bundle_of_the_plotly_js_the_pinned_plotly_carries():
    bundle = server.BUNDLE_FOLDER / server.BUNDLE_FILE
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == server.BUNDLE_SHA256
    assert (bundle.parent / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    version = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", full.read_text(encoding="utf-8")[:300]).group(1)
    assert f"plotly.js (basic - minified) v{version}" in bundle.read_text(encoding="utf-8")[:300]
    assert version in server.BUNDLE_FILE and server.BUNDLE_URL.endswith(server.BUNDLE_FILE)
    assert f"--VoilaConfiguration.extra_labextensions_path={server.BUNDLE_FOLDER}" in server.command(8866)


def test_the_app_environment_marks_the_app_and_never_carries_the_passphrase(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "secret")
    env = server.environment(tmp_path / "store.duckdb")
    assert "WORKBENCH_PASSPHRASE" not in env
    assert env[server.APP_ENV] == "1"


@pytest.fixture
def in_the_app(monkeypatch):
    monkeypatch.setenv(server.APP_ENV, "1")


def drawn(widget: chart.Chart) -> dict:
    """What chart.js draws: the base with the patch over it (chart.js's figureOf, in Python)."""
    base, patch = json.loads(widget.base), json.loads(widget.patch)
    data = [{**trace, **changed} for trace, changed in zip(base["data"], patch.get("data") or [{}] * len(
        base["data"]), strict=True)]
    layout = base["layout"]
    for path, value in (patch.get("layout") or {}).items():
        *parents, last = path.split(".")
        node = layout
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return {"data": data, "layout": layout}


def as_json(figure: dict) -> dict:
    return json.loads(plotly.io.json.to_json_plotly(figure))


def test_charts_in_the_app_carry_their_figure_and_a_small_script_not_plotly_js(in_the_app):
    import plotly.graph_objects as go

    slot = common.ChartSlot(height=300, width=500)
    slot.show(go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": {"text": "t"}}))
    widget = slot.figure
    assert isinstance(widget, chart.Chart) and slot.children == (widget,)
    assert len(widget._esm) < 10_000 and widget.bundle == server.BUNDLE_URL
    shown = drawn(widget)
    assert shown["data"] == [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}]
    layout = shown["layout"]
    assert (layout["height"], layout["width"], layout["title"]["text"]) == (300, 500, "t")


def test_outside_the_app_charts_are_plotlys_figurewidget(monkeypatch):
    import plotly.graph_objects as go

    monkeypatch.delenv(server.APP_ENV, raising=False)
    slot = common.ChartSlot()
    slot.show(go.Figure(go.Bar(x=["a"], y=[1])))
    assert isinstance(slot.figure, go.FigureWidget) and not common.in_app()


def _frames(store):
    from workbench.analysis import outreach
    from workbench.store import db
    from workbench.store.filters import known

    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        branch = known(con, "branch")[0]
        return (outreach.summary(con, "branch"), outreach.summary(con, "ward", branch=branch),
                outreach.summary(con, "round"), outreach.summary(con, "round", outcome="busy"),
                outreach.summary(con, "ward"), maps.shapes(con), branch)


def test_a_redrawn_chart_sends_only_what_changed_and_draws_as_a_new_chart(in_the_app, synthetic_store):
    by_branch, by_ward, *_ = _frames(synthetic_store)
    slot = common.ChartSlot(width=650)
    slot.draw(charts.outreach_summary_drawing(by_branch, "branch"))
    widget, base = slot.figure, slot.figure.base
    for frame, by in ((by_ward, "ward"), (by_branch, "branch")):
        later = charts.outreach_summary_drawing(frame, by)
        slot.draw(later)
        assert slot.figure is widget and widget.base == base  # the same styling: a patch only
        patch = json.loads(widget.patch)
        assert patch["layout"] and all(set(trace) <= charts.DATA for trace in patch["data"])
        fresh = common.ChartSlot(width=650)
        fresh.draw(later)
        assert drawn(widget) == drawn(fresh.figure) == json.loads(fresh.figure.base)
    assert json.loads(widget.patch)["data"] == [{}, {}]  # back to the base's own numbers


def test_a_chart_of_other_traces_replaces_the_base(in_the_app, synthetic_store):
    _, _, rounds, busy, *_ = _frames(synthetic_store)
    slot = common.ChartSlot()
    slot.draw(charts.outcome_mix_drawing(rounds, "round"))
    base = slot.figure.base
    slot.draw(charts.outcome_mix_drawing(busy, "round"))  # one outcome only: other traces
    assert slot.figure.base != base and slot.figure.patch == "{}"
    assert drawn(slot.figure)["data"] == as_json(charts.outcome_mix_drawing(busy, "round").as_dict())["data"]


def test_a_ward_clicked_on_an_app_map_is_passed_on_and_nothing_else_is(in_the_app, synthetic_store):
    *_, everywhere, shapes, _branch = _frames(synthetic_store)
    picked = []
    slot = MapSlot(on_ward=picked.append)
    slot.draw(maps.contact_drawing(everywhere, shapes))
    widget = slot.figure
    wards = widget.trace_names[:-2]
    last = len(widget.trace_names) - 1
    for content in ({"type": "click", "trace": 1}, {"type": "click", "trace": 0},
                    {"type": "click", "trace": last}, {"type": "click", "trace": last - 1},
                    {"type": "click", "trace": 9999}, {"type": "click", "trace": -1},
                    {"type": "click", "trace": True}, {"type": "click", "trace": "0"},
                    {"type": "hover", "trace": 0}, ["click", 0]):
        widget._message(widget, content, [])
    assert picked == [wards[1], wards[0]]  # the outline and the numbers (the last two) are not wards
    slot.draw(maps.contact_drawing(everywhere.assign(reached=0), shapes))
    assert slot.figure is widget and json.loads(widget.patch)["data"][0]  # recoloured by a patch
    widget._message(widget, {"type": "click", "trace": 0}, [])
    assert picked == [wards[1], wards[0], wards[0]]  # bound once, still bound after a redraw


def test_the_page_loads_plotly_js_while_it_waits_for_the_passphrase(in_the_app, monkeypatch):
    warmer = chart.warmer()
    assert isinstance(warmer, chart.Chart) and warmer.layout.display == "none" and warmer.base == ""
    from workbench.widgets.app import App

    page = App()
    assert any(isinstance(c, chart.Chart) and c.base == "" for c in page.children)
    monkeypatch.delenv(server.APP_ENV)
    assert not any(isinstance(c, chart.Chart) for c in App().children)  # JupyterLab: nothing to load


def test_the_app_never_loads_plotlys_jupyterlab_renderer():
    """Every chart is a chart.Chart: plotly's renderer extension would be a second plotly.js."""
    command = server.command(8866)
    for name in ("jupyterlab-plotly", "jupyterlab_pygments"):
        assert f"--VoilaConfiguration.extension_denylist={name}" in command
