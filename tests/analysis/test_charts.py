"""Every chart, built from the library's own frames on the hand-built store, inspected without a kernel."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from small_org import AS_OF, small_store

from workbench.analysis import charts, needs, outreach, services, volunteers


@pytest.fixture
def figures(con):
    small_store(con)
    queue = needs.queue(con, as_of=AS_OF)
    gaps = services.gaps(con)
    return {
        "outreach_summary": charts.outreach_summary(outreach.summary(con, by="round")),
        "outcome_mix": charts.outcome_mix(outreach.summary(con, by="ward")),
        "attempts_distribution": charts.attempts_distribution(outreach.attempts_distribution(con)),
        "rollup": charts.rollup(outreach.rollup(con)),
        "needs_counts": charts.needs_counts(needs.counts(queue, "category")),
        "queue_scores": charts.queue_scores(queue),
        "trend": charts.trend(needs.trend_summary(needs.trend(con))),
        "services_usage": charts.services_usage(services.usage(con, "service")),
        "gaps": charts.gaps(gaps.no_service),
        "uncovered": charts.gaps(gaps.uncovered, value="needs"),
        "referrals": charts.referrals(services.referrals(con)),
        "volunteers_by_ward": charts.volunteers_by_ward(volunteers.by_ward(volunteers.keen(con))),
        "matches": charts.matches(volunteers.matches(con, as_of=AS_OF)),
    }


def test_every_chart_has_a_title_labelled_axes_and_visible_numbers(figures):
    for name, fig in figures.items():
        assert isinstance(fig, go.Figure), name
        assert fig.layout.title.text, f"{name} has no title"
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, f"{name} has unlabelled axes"
        assert fig.data, f"{name} is empty"
        for trace in fig.data:
            assert trace.text is not None and len(trace.text) > 0, f"{name}: numbers only in colour"


def test_charts_use_the_okabe_ito_palette(figures):
    for name, fig in figures.items():
        for trace in fig.data:
            colour = getattr(trace.marker, "color", None) if hasattr(trace, "marker") else None
            colours = colour if isinstance(colour, list | tuple) else [colour]
            for c in colours:
                assert c is None or c in charts.OKABE_ITO, f"{name}: {c} is not Okabe-Ito"
        assert tuple(fig.layout.colorway) == charts.OKABE_ITO


def test_outreach_summary_shows_the_right_numbers(figures):
    called, reached = figures["outreach_summary"].data
    assert list(called.x) == ["R1", "R2"] and list(called.y) == [6, 4]
    assert list(called.text) == ["6", "4"] and list(reached.text) == ["5<br>(83%)", "3<br>(75%)"]


def test_outcome_mix_stacks_only_outcomes_that_occur(figures):
    names = {t.name for t in figures["outcome_mix"].data}
    assert names == {"answered", "no answer", "voicemail", "busy", "do not call"}
    assert figures["outcome_mix"].layout.barmode == "stack"


def test_gap_grid_counts_each_cell(figures):
    heat = figures["gaps"].data[0]
    cell = dict(zip(heat.y, [dict(zip(heat.x, row, strict=True)) for row in heat.z], strict=True))
    assert cell["South"]["isolation"] == 1 and cell["North"]["mental health"] == 1


def test_charts_do_not_change_their_input(con):
    small_store(con)
    frame = outreach.summary(con, by="round")
    before = frame.copy()
    charts.outreach_summary(frame)
    assert frame.equals(before)


def test_services_usage_gives_every_service_a_readable_bar_and_its_name():
    import pandas as pd

    many = pd.DataFrame({"service": [f"Service {i}" for i in range(35)], "referenced": range(35, 0, -1)})
    fig = charts.services_usage(many)
    assert fig.layout.height >= charts.BAR_PX * 35 and fig.layout.yaxis.dtick == 1
    assert list(fig.data[0].y)[-1] == "Service 0"  # most referenced at the top (plotly draws upwards)
    assert charts.services_usage(many.head(3)).layout.height == 380  # a few: the usual height


# Names holding plotly's own markup: a link, text hidden by style, a line break.
HOSTILE = {"link": '<a href="https://phish.example/login">{}</a>',
           "hidden": '<span style="font-size:0">{}</span>', "break": "{}<br>& more"}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def test_names_from_the_data_reach_a_chart_as_text_never_as_markup(con):
    # plotly.js draws tags it finds in any label (a link, a style), so every ward, branch, round and
    # service name must reach it as entities. The names are changed in the store, so every chart is
    # built by the library from data that holds markup.
    small_store(con)
    con.execute("UPDATE members SET ward = replace(?, '{}', ward), branch = replace(?, '{}', branch)",
                [HOSTILE["link"], HOSTILE["hidden"]])
    con.execute("UPDATE calls SET round = replace(?, '{}', round)", [HOSTILE["break"]])
    con.execute("UPDATE services SET name = replace(?, '{}', name)", [HOSTILE["link"]])
    queue = needs.queue(con, as_of=AS_OF)
    gaps = services.gaps(con)
    built = {
        "summary by ward": charts.outreach_summary(outreach.summary(con, by="ward")),
        "summary by round": charts.outreach_summary(outreach.summary(con, by="round")),
        "mix by branch": charts.outcome_mix(outreach.summary(con, by="branch")),
        "rollup": charts.rollup(outreach.rollup(con)),
        "needs by ward": charts.needs_counts(needs.counts(queue, "ward")),
        "trend": charts.trend(needs.trend_summary(needs.trend(con))),
        "usage": charts.services_usage(services.usage(con, "service")),
        "gaps": charts.gaps(gaps.no_service),
        "referrals": charts.referrals(services.referrals(con)),
        "volunteers": charts.volunteers_by_ward(volunteers.by_ward(volunteers.keen(con))),
    }
    for name, fig in built.items():
        figure = fig.to_plotly_json()
        labels = [s for trace in figure["data"] for key in ("x", "y") for s in _strings(trace.get(key))]
        labels += _strings(figure["layout"].get("title"))
        assert not [s for s in labels if "<" in s], name  # no tag plotly could read
        # Escaped, not dropped: plotly turns the entities back into the name as typed.
        assert any("&lt;a href=" in s or "&lt;br&gt;" in s or "&lt;span" in s for s in labels), name
