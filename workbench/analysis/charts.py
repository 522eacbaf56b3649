"""Charts: pure functions from an analysis DataFrame to a plotly Figure, one per view.

Every chart says what it shows in its title, labels both axes, prints its numbers on the marks
(never only as colour), and uses the Okabe-Ito palette, which stays distinguishable with the
common forms of colour blindness. Nothing here reads the store: pass the frame the library returned.
"""

from __future__ import annotations

import copy
import functools
import html
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from workbench.vocabulary import OUTCOMES

# Okabe & Ito (2008), "Color Universal Design": black first dropped, as it reads as text.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
OUTCOME_LABELS = {o: o.replace("_", " ").replace("deceased moved", "deceased/moved") for o in OUTCOMES}



@functools.cache
def theme() -> go.layout.Template:
    """plotly's "plotly_white" look, cut down to what these charts use (bars, lines, heatmaps).

    Why not the template itself: plotly checks every property of a template each time a figure
    is given one, and the whole of plotly_white took ~6 ms a chart, most of a dashboard redraw.
    Made on first use, not at import: building it takes ~90 ms, which every CLI command paid.
    """
    white = pio.templates["plotly_white"]
    layout = white.layout.to_plotly_json()
    data = white.data.to_plotly_json()
    return go.layout.Template(
        layout={k: layout[k] for k in ("font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor",
                                       "xaxis", "yaxis", "title")},
        data={k: data[k] for k in ("bar", "scatter", "heatmap")},
    )



# What changes with the numbers: per trace, its data; in the layout, the titles (a chart by branch
# becomes a chart by ward). Everything else is styling, fixed for a given set of traces.
DATA = frozenset({"x", "y", "text", "customdata"})


@dataclass(frozen=True)
class Drawing:
    """A chart as plain data, before plotly checks it: what a view needs to redraw a chart in place.

    `figure()` makes the plotly Figure. A view already showing a drawing with the same traces and
    styling needs to set only the trace properties named in `data` and the layout properties in
    `changing` that differ (`widgets.common.ChartSlot.draw`): plotly validates every property it is
    given, and re-validating styling and theme was most of the cost of a dashboard's filter change.

    Attributes:
        traces: plotly trace properties, one dict per trace, "type" included.
        layout: layout properties that stay with the chart (theme, colours, bar mode, legend).
        changing: layout properties that follow the data, by dotted path ("xaxis.title.text").
        data: the trace properties that follow the data; the others are styling.
        validate: let plotly check each property as it makes the figure (maps are built from known
            good parts without it: plotly's checks cost ~2 ms a ward).
    """

    traces: tuple[dict, ...]
    layout: dict
    changing: dict
    data: frozenset[str] = DATA
    validate: bool = True

    def figure(self) -> go.Figure:
        return go.Figure(self.as_dict(), _validate=self.validate)

    def as_dict(self) -> dict:
        """The figure as plotly's plain dict: what `plotly.io.to_html` writes, with no Figure made."""
        return {"data": [dict(t) for t in self.traces], "layout": nested(self.layout, self.changing)}


def nested(base: dict, paths: dict) -> dict:
    """`base` with each dotted path of `paths` set in it ("xaxis.title.text": "ward"); `base` is unchanged.

    Examples:
        >>> nested({"barmode": "stack"}, {"xaxis.title.text": "ward"})
        {'barmode': 'stack', 'xaxis': {'title': {'text': 'ward'}}}
    """
    merged = copy.copy(base)
    for path, value in paths.items():
        *parents, leaf = path.split(".")
        node = merged
        for name in parents:
            node[name] = dict(node.get(name) or {})
            node = node[name]
        node[leaf] = value
    return merged


def _style(legend: str | None = None, **extra) -> dict:
    """The layout every chart shares: the palette and theme, then its own (bar mode, legend title)."""
    style = {"colorway": list(OKABE_ITO), "template": theme(), **extra}
    return style if legend is None else nested(style, {"legend.title.text": legend})


def _titles(title: str, x: str, y: str) -> dict:
    return {"title.text": title, "xaxis.title.text": x, "yaxis.title.text": y}


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra) -> go.Figure:
    fig.update_layout(nested(_style(**extra), _titles(title, x, y)))
    return fig


def _values(column) -> tuple:
    """A column as a tuple of plain Python values: plotly checks a short tuple several times faster
    than a pandas or numpy array (which it first offers to every dataframe library it knows)."""
    return tuple(column.tolist())


def plain(value: object) -> str:
    """Text from the data (a ward, branch, round or service name) as plotly shows it: as typed.

    plotly reads tags in any text it draws (`<a href>`, `<span style>`, `<br>`), so a name holding
    markup could put a link in a dashboard or a published report, or hide itself. As entities, which
    plotly turns back into the characters, it shows literally.

    Examples:
        >>> plain('<a href="https://x.example">Food & Friends</a>')
        '&lt;a href="https://x.example"&gt;Food &amp; Friends&lt;/a&gt;'
    """
    return html.escape(str(value), quote=False)


def _names(column) -> tuple[str, ...]:
    """A column of names from the data as plotly labels (`plain`)."""
    return tuple(plain(v) for v in column.astype(str).tolist())


def _bars(traces: list[dict], title: str, x: str, y: str, **extra) -> Drawing:
    return Drawing(tuple({"type": "bar", **t} for t in traces), _style(**extra), _titles(title, x, y))


def _pct(values) -> list[str]:
    return ["" if pd.isna(v) else f"{v:.0%}" for v in values]


def _count(n) -> str:
    return "" if pd.isna(n) else f"{int(n):,}"


def outreach_summary(frame: pd.DataFrame, by: str | None = None) -> go.Figure:
    """Members called and reached per group (bars), with the contact rate printed on each pair.

    Args:
        frame: `outreach.summary(...)`; by: its group column (default: the first column).
    """
    return outreach_summary_drawing(frame, by).figure()


def outreach_summary_drawing(frame: pd.DataFrame, by: str | None = None) -> Drawing:
    """`outreach_summary` as a `Drawing`, for a view that redraws it in place."""
    by = by or frame.columns[0]
    x = _names(frame[by])
    rates = _pct(frame["contact_rate"])
    # Two short lines, not one long one: plotly shrinks a label to its bar's width, and "85,877 (90%)"
    # on one line over a narrow bar came out too small to read.
    reached = tuple(f"{_count(n)}<br>({r})" for n, r in zip(frame["reached"], rates, strict=True))
    called = _values(frame["members_called"])
    return _bars(
        [
            {"name": "members called", "x": x, "y": called, "text": tuple(_count(n) for n in called),
             "marker": {"color": OKABE_ITO[1]}, "textposition": "outside"},
            {"name": "reached", "x": x, "y": _values(frame["reached"]), "marker": {"color": OKABE_ITO[4]},
             "textposition": "outside", "text": reached},
        ],
        f"Members called and reached by {by} (contact rate in brackets)",
        by,
        "members",
        barmode="group",
        bargroupgap=0.12,  # a gap between a group's two bars, so their labels do not run together
        legend="",
    )


def outcome_mix(frame: pd.DataFrame, by: str | None = None) -> go.Figure:
    """Attempts by outcome per group, stacked, each segment labelled with its count."""
    return outcome_mix_drawing(frame, by).figure()


def outcome_mix_drawing(frame: pd.DataFrame, by: str | None = None) -> Drawing:
    """`outcome_mix` as a `Drawing`, for a view that redraws it in place."""
    by = by or frame.columns[0]
    x = _names(frame[by])
    present = [o for o in OUTCOMES if o in frame.columns and frame[o].sum() > 0]
    return _bars(
        [
            {"name": OUTCOME_LABELS[o], "x": x, "y": _values(frame[o]), "text": tuple(map(_count, frame[o])),
             "textposition": "inside", "marker": {"color": OKABE_ITO[i % len(OKABE_ITO)]}}
            for i, o in enumerate(present)
        ],
        f"Call attempts by outcome and {by}",
        by,
        "attempts",
        barmode="stack",
        legend="outcome",
    )


def attempts_distribution(frame: pd.DataFrame) -> go.Figure:
    """How many members had each number of attempts, split into reached and not reached."""
    x = frame["attempts"].astype(str)
    not_reached = frame["members"] - frame["reached"]
    fig = go.Figure(
        [
            go.Bar(name="reached", x=x, y=frame["reached"], text=frame["reached"], marker_color=OKABE_ITO[4]),
            go.Bar(name="not reached", x=x, y=not_reached, text=not_reached, marker_color=OKABE_ITO[0]),
        ]
    )
    return _layout(
        fig,
        "Members by number of call attempts",
        "attempts per member",
        "members",
        barmode="stack",
        legend="",
    )


def rollup(frame: pd.DataFrame) -> go.Figure:
    """Round by round: members called, reached and recording a need, with their rates printed."""
    x = _names(frame["round"])
    bars = [
        ("members_called", None, "members called"),
        ("reached", "contact_rate", "reached"),
        ("recorded_need", "need_rate", "recorded a need"),
    ]
    fig = go.Figure(
        [
            go.Bar(
                name=label,
                x=x,
                y=frame[col],
                marker_color=OKABE_ITO[i],
                textposition="outside",
                text=[
                    f"{n:,}" + (f" ({r})" if rate else "")
                    for n, r in zip(frame[col], _pct(frame[rate]) if rate else [""] * len(frame), strict=True)
                ],
            )
            for i, (col, rate, label) in enumerate(bars)
        ]
    )
    return _layout(
        fig, "Rounds compared: numbers with rates in brackets", "round", "members", barmode="group", legend=""
    )


def needs_counts(frame: pd.DataFrame, by: str | None = None) -> go.Figure:
    """Members needing support per category (or ward, branch...), escalated ones shown apart."""
    by = by or frame.columns[0]
    frame = frame.sort_values("members")
    y = _names(frame[by].astype(str).str.replace("_", " "))
    waiting = frame["members"] - frame["escalated"]
    fig = go.Figure(
        [
            go.Bar(
                name="escalated",
                y=y,
                x=frame["escalated"],
                orientation="h",
                text=[_count(n) for n in frame["escalated"]],
                marker_color=OKABE_ITO[5],
            ),
            go.Bar(
                name="within time", y=y, x=waiting, orientation="h", text=[_count(n) for n in waiting],
                marker_color=OKABE_ITO[1],
            ),
        ]
    )
    return _layout(
        fig,
        f"Members needing support by {by.replace('_', ' ')}",
        "members",
        by.replace("_", " "),
        barmode="stack",
        legend="",
    )


def queue_scores(queue: pd.DataFrame) -> go.Figure:
    """The triage queue's urgency scores as a histogram in bands of 10, counts on the bars."""
    bands = (queue["score"] // 10 * 10).astype(int)
    counts = bands.value_counts().sort_index()
    labels = [f"{b}–{b + 9}" for b in counts.index]
    fig = go.Figure(
        [go.Bar(x=labels, y=counts.values, text=counts.values, marker_color=OKABE_ITO[4], name="members")]
    )
    return _layout(fig, "Triage queue: members by urgency score", "urgency score", "members")


def trend(summary: pd.DataFrame) -> go.Figure:
    """From `needs.trend_summary`: members whose wellbeing got worse, better or stayed, and new needs."""
    row = summary.iloc[0]
    labels = ["worse", "same", "better", "new need"]
    values = [int(row["worse"]), int(row["same"]), int(row["better"]), int(row["new_need"])]
    colours = [OKABE_ITO[5], OKABE_ITO[7], OKABE_ITO[2], OKABE_ITO[0]]
    fig = go.Figure([go.Bar(x=labels, y=values, text=values, marker_color=colours, name="members")])
    return _layout(
        fig,
        f"Change from {plain(row['previous'])} to {plain(row['round'])} "
        f"({int(row['compared']):,} members answered both)",
        "change",
        "members",
    )


BAR_PX = 24  # a horizontal bar and its gap, room for a readable label and count


def services_usage(frame: pd.DataFrame, by: str | None = None) -> go.Figure:
    """Times each service (or category, ward...) was referenced, most first, counts on the bars."""
    by = by or frame.columns[0]
    frame = frame.sort_values("referenced")
    colours = [
        OKABE_ITO[4] if listed else OKABE_ITO[0] for listed in frame.get("listed", [True] * len(frame))
    ]
    fig = go.Figure(
        [
            go.Bar(
                y=_names(frame[by]),
                x=frame["referenced"],
                orientation="h",
                text=frame["referenced"],
                # Level and past the bar's end: inside a thin bar plotly turned the count on its side.
                textposition="outside",
                textangle=0,
                cliponaxis=False,
                marker_color=colours,
                name="references",
            )
        ]
    )
    title = f"Services referenced on calls, by {by}"
    if "listed" in frame:
        title += " (orange: not in the directory)"
    fig = _layout(fig, title, "times referenced", by)
    # A bar's height for each service, and every name shown: at a fixed height plotly skipped every
    # other name and shrank the counts on 35 thin bars past reading.
    return fig.update_layout(height=max(380, BAR_PX * len(frame) + 140), yaxis={"dtick": 1})


def gaps(frame: pd.DataFrame, value: str = "without_service") -> go.Figure:
    """Ward x category grid of a gaps frame (`Gaps.no_service` or `Gaps.uncovered`), counts in each cell."""
    grid = frame.pivot_table(
        index="ward",
        columns="category",
        values=value if value in frame else "needs",
        aggfunc="sum",
        fill_value=0,
    )
    fig = go.Figure(
        [
            go.Heatmap(
                z=grid.values,
                x=[plain(c).replace("_", " ") for c in grid.columns],
                y=[plain(w) for w in grid.index],
                text=grid.values,
                texttemplate="%{text}",
                colorscale=[[0, "#FFFFFF"], [1, OKABE_ITO[5]]],
                colorbar={"title": "needs"},
            )
        ]
    )
    what = (
        "Needs with no service referenced"
        if value == "without_service"
        else "Needs where no service covers the ward"
    )
    return _layout(fig, f"{what}, by ward and category", "need category", "ward")


def referrals(frame: pd.DataFrame) -> go.Figure:
    """The referral loop per service: referred, followed up, resolved, with rates printed."""
    frame = frame[frame["referred"] > 0]
    y = _names(frame["name"])
    steps = [("referred", None), ("followed_up", "followed_up_rate"), ("resolved", "resolved_rate")]
    fig = go.Figure(
        [
            go.Bar(
                name=col.replace("_", " "),
                y=y,
                x=frame[col],
                orientation="h",
                marker_color=OKABE_ITO[i + 1],
                text=[
                    f"{n:,}" + (f" ({r})" if rate else "")
                    for n, r in zip(frame[col], _pct(frame[rate]) if rate else [""] * len(frame), strict=True)
                ],
            )
            for i, (col, rate) in enumerate(steps)
        ]
    )
    return _layout(
        fig,
        "Referral loop by service: referred, followed up, resolved",
        "members",
        "service",
        barmode="group",
        legend="",
    )


def volunteers_by_ward(frame: pd.DataFrame) -> go.Figure:
    """Keen members per ward, stacked by skill offered, counts on the segments."""
    skills = [c for c in frame.columns if c not in ("branch", "ward", "keen")]
    y = _names(frame["ward"])
    fig = go.Figure(
        [
            go.Bar(
                name=s.replace("_", " "),
                y=y,
                x=frame[s],
                orientation="h",
                text=frame[s],
                marker_color=OKABE_ITO[i % len(OKABE_ITO)],
            )
            for i, s in enumerate(skills)
        ]
    )
    return _layout(
        fig,
        "Members keen to volunteer, by ward and skill offered",
        "skill offers",
        "ward",
        barmode="stack",
        legend="skill",
    )


def matches(frame: pd.DataFrame) -> go.Figure:
    """Suggested volunteer matches per need category, same ward and neighbouring ward apart."""
    same = frame[frame["same_ward"]].groupby("category").size()
    near = frame[~frame["same_ward"]].groupby("category").size()
    cats = sorted(set(same.index) | set(near.index))
    fig = go.Figure(
        [
            go.Bar(
                name="same ward",
                x=cats,
                y=[int(same.get(c, 0)) for c in cats],
                text=[int(same.get(c, 0)) for c in cats],
                marker_color=OKABE_ITO[2],
            ),
            go.Bar(
                name="neighbouring ward",
                x=cats,
                y=[int(near.get(c, 0)) for c in cats],
                text=[int(near.get(c, 0)) for c in cats],
                marker_color=OKABE_ITO[6],
            ),
        ]
    )
    return _layout(
        fig,
        "Suggested volunteer matches by need category",
        "need category",
        "suggestions",
        barmode="stack",
        legend="",
    )


__all__ = [
    "OKABE_ITO",
    "Drawing",
    "attempts_distribution",
    "gaps",
    "matches",
    "needs_counts",
    "nested",
    "outcome_mix",
    "outcome_mix_drawing",
    "outreach_summary",
    "plain",
    "outreach_summary_drawing",
    "queue_scores",
    "referrals",
    "rollup",
    "services_usage",
    "trend",
    "volunteers_by_ward",
]
