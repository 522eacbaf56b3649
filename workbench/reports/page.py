"""The report's HTML page: one section per protected table, with a chart, from templates/report.html.

Everything here draws the *released* (protected) numbers only: a suppressed cell is a gap in a chart
and a `*` in a table, never an estimate. plotly.js is inlined once, so the page opens offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

from workbench import pages
from workbench.analysis.charts import OKABE_ITO
from workbench.reports import disclosure
from workbench.vocabulary import NEED_CATEGORIES

if TYPE_CHECKING:
    from workbench.reports import Options, Table

TEMPLATE = "report.html"
# Plotly's own templates name colours in words ("white"); ours uses hex only, so the release scan
# never has to tell a colour from a surname.
LAYOUT = {"template": None, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "height": 340,
          "margin": {"l": 50, "r": 20, "t": 30, "b": 90}, "barmode": "group", "font": {"size": 12},
          "legend": {"orientation": "h"}}


def plotly_js() -> str:
    """plotly.js itself, inlined once in the page (and known to the release scan as safe)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render(release_id: str, options: Options, tables: list[Table], metrics, version: str) -> str:
    """The self-contained report page: plotly.js inline once, then one section per table."""
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
        sections=[_section(t) for t in tables],
    )


def _section(table: Table) -> dict:
    shown = disclosure.for_display(table.frame)
    return {
        "name": table.name, "title": table.title, "description": table.description,
        "chart": _chart_html(table) if table.chart else "",
        "head": [str(c).replace("_", " ") for c in shown.columns],
        "rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)],
    }


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _chart_html(table: Table) -> Markup:
    # plotly writes the figure's data as JSON inside its own script element; labels are ours or
    # protected table labels, and plotly escapes them for that context.
    figure = chart(table)
    html = pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=f"chart-{table.name}",
                       config={"displaylogo": False, "responsive": True})
    return Markup(html)  # noqa: S704 - plotly's own markup, its data JSON-escaped by plotly


def chart(table: Table) -> go.Figure:
    """A bar chart of a protected table: suppressed cells are gaps, never estimates."""
    _, label, values = table.chart
    if not values:      # a wide table: chart its Total row across the columns
        total = table.frame[table.frame.iloc[:, 0] == "Total"].iloc[0]
        categories = [c for c in table.frame.columns if c in NEED_CATEGORIES]
        traces = [go.Bar(x=categories, y=[_number(total[c]) for c in categories], name="needs",
                         marker={"color": OKABE_ITO[4]})]
    else:
        frame = table.frame[table.frame[label].astype(str) != "Total"]
        traces = [go.Bar(x=[str(v) for v in frame[label]], y=[_number(v) for v in frame[column]],
                         name=column.replace("_", " "), marker={"color": OKABE_ITO[(4 + i) % len(OKABE_ITO)]})
                  for i, column in enumerate(values)]
    figure = go.Figure(traces)
    figure.update_layout(**LAYOUT)
    return figure


def _number(value):
    return None if pd.isna(value) else int(value)


__all__ = ["LAYOUT", "TEMPLATE", "chart", "plotly_js", "render"]
