"""The report's HTML page: one section per protected table, with a chart, from templates/report.html.

Everything here draws the *released* (protected) numbers only: a suppressed cell is a gap in a chart
and a `*` in a table, never an estimate. plotly.js is inlined once, so the page opens offline.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import pandas as pd
import plotly.io as pio
from markupsafe import Markup

from workbench import pages
from workbench.analysis import maps
from workbench.analysis.charts import OKABE_ITO, plain
from workbench.reports import disclosure
from workbench.vocabulary import NEED_CATEGORIES

if TYPE_CHECKING:
    from workbench.reports import Options, Table

TEMPLATE = "report.html"
# Plotly's own templates name colours in words ("white"); ours uses hex only, so the release scan
# never has to tell a colour from a surname.
LAYOUT = {"template": {}, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "height": 340,
          "margin": {"l": 50, "r": 20, "t": 30, "b": 90}, "barmode": "group", "font": {"size": 12},
          "legend": {"orientation": "h"}}


def plotly_js() -> str:
    """plotly.js itself, inlined once in the page (and known to the release scan as safe)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render(release_id: str, options: Options, tables: list[Table], metrics, version: str,
           ward_shapes: maps.WardShapes | None = None) -> str:
    """The self-contained report page: plotly.js inline once, then one section per table.

    A ward table gets a map beside its chart when the store holds ward boundaries (`ward_shapes`).
    """
    params = options.as_dict()
    shown = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in params.items()
                      if v not in (None, False) and k != "rounding")
    return pages.render(
        TEMPLATE,
        title=f"Welfare calls: pseudonymised report {release_id}",
        release_id=release_id, parameters=shown, version=version,
        # plotly.js is library code, not data; only a closing tag inside it must not end the element.
        plotly_js=Markup(plotly_js().replace("</script", "<\\/script")),  # noqa: S704 - library code
        rules=options.profile.describe(),
        extract=metrics.as_dict() if metrics is not None else None,
        sections=[_section(t, ward_shapes) for t in tables],
    )


def _section(table: Table, ward_shapes: maps.WardShapes | None = None) -> dict:
    shown = disclosure.for_display(table.frame)
    drawn = table.map_column and ward_shapes is not None and ward_shapes.rings
    return {
        "name": table.name, "title": table.title, "description": table.description,
        "chart": _chart_html(table) if table.chart else "",
        "map": _figure_html(ward_map(table, ward_shapes), f"map-{table.name}") if drawn else "",
        "head": [str(c).replace("_", " ") for c in shown.columns],
        "rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)],
    }


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _chart_html(table: Table) -> Markup:
    return _figure_html(chart(table), f"chart-{table.name}")


def _figure_html(figure: dict, div_id: str) -> Markup:
    # plotly writes the figure's data as JSON inside its own script element, escaped for that
    # context; labels from the data are `charts.plain`, so plotly.js draws no tag they hold. Not
    # validated: chart()'s
    # dicts hold only plain bar traces, and ward_map()'s are made of a map's known good parts (the
    # tests validate both).
    html = pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id, validate=False,
                       config={"displaylogo": False, "responsive": True})
    return Markup(html)  # noqa: S704 - plotly's own markup, its data JSON-escaped by plotly


def ward_map(table: Table, ward_shapes: maps.WardShapes) -> dict:
    """A map of a released ward table's `map_column`: exactly its published cells, suppressed ones
    hatched and marked *, never an estimate (analysis.maps.released_drawing), as a figure dict.

    A dict, as `chart`: making a plotly Figure of it cost 0.1-0.2 s of a new process's report.
    """
    # No theme: plotly's template names colours in words; hex colours only, as LAYOUT, for the release scan.
    figure = maps.released_drawing(table.frame, ward_shapes, column=table.map_column,
                                   title=f"{table.title}: {table.map_column.replace('_', ' ')}",
                                   suppressed_mark=disclosure.SUPPRESSED, total_label="Total",
                                   template={}).as_dict()
    figure["layout"].update(paper_bgcolor="#ffffff", height=480)
    return figure


def chart(table: Table) -> dict:
    """A bar chart of a protected table, as a plotly figure dict: suppressed cells are gaps, never
    estimates.

    A dict, not a go.Figure: plotly's validation of a figure's traces and layout cost more than the
    rest of a small report's page (0.3-0.5 s per report), and these charts are plain bars.
    """
    _, label, values = table.chart
    if not values:      # a wide table: chart its Total row across the columns
        total = table.frame[table.frame.iloc[:, 0] == "Total"].iloc[0]
        categories = [c for c in table.frame.columns if c in NEED_CATEGORIES]
        traces = [_bar(categories, [_number(total[c]) for c in categories], "needs", OKABE_ITO[4])]
    else:
        frame = table.frame[table.frame[label].astype(str) != "Total"]
        traces = [_bar([plain(v) for v in frame[label]], [_number(v) for v in frame[column]],
                       column.replace("_", " "), OKABE_ITO[(4 + i) % len(OKABE_ITO)])
                  for i, column in enumerate(values)]
    return {"data": traces, "layout": copy.deepcopy(LAYOUT)}  # a copy: callers may restyle their chart


def _bar(x: list, y: list, name: str, colour: str) -> dict:
    return {"type": "bar", "x": x, "y": y, "name": name, "marker": {"color": colour}}


def _number(value):
    return None if pd.isna(value) else int(value)


__all__ = ["LAYOUT", "TEMPLATE", "chart", "plotly_js", "render", "ward_map"]
