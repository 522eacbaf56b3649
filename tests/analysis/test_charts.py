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
