"""What several views share: showing a table, a labelled section, and dropdown choices.

These only present what the library returned; they compute nothing about members.
"""

from __future__ import annotations

import datetime
import html
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
import pandas as pd

from workbench.widgets.chart import Chart, same_styling, same_value
from workbench.widgets.server import APP_ENV
from workbench.widgets.tables import MAX_ROWS, Table

if TYPE_CHECKING:  # plotly is imported on first use: a page's first render waits for it
    from workbench.analysis.charts import Drawing

ALL = "(all)"
LABEL = {"description_width": "9em"}
TABLE_STYLE = (
    "<style>.wb-table table{border-collapse:collapse;font-size:13px}"
    ".wb-table th,.wb-table td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}"
    ".wb-table th{background:#f3f5f8}</style>"
)


def table_html(frame: pd.DataFrame | None, *, max_rows: int = 50, empty: str = "Nothing to show.") -> str:
    """A DataFrame as a compact, escaped HTML table (first `max_rows` rows, with a count of the rest)."""
    if frame is None or frame.empty:
        return f"<div class='wb-table'><i>{html.escape(empty)}</i></div>"
    shown = frame.head(max_rows).map(_cell)
    body = shown.to_html(index=False, escape=True, na_rep="", border=0)
    more = len(frame) - len(shown)
    tail = f"<div><i>… and {more:,} more rows.</i></div>" if more > 0 else ""
    return f"{TABLE_STYLE}<div class='wb-table' style='overflow-x:auto'>{body}{tail}</div>"


def _cell(value: object) -> object:
    """How one cell reads: lists as "a, b", times to the minute, blanks for missing values."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, pd.Timestamp | datetime.datetime):
        return "" if pd.isna(value) else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:,.2f}"
    return value


def table(*, identity: bool = False, max_rows: int = MAX_ROWS, narrow: str = "choose a branch or ward"
          ) -> Table:
    """An empty interactive table (sort, search, pages, column filters); fill it with `.show(frame)`.

    Args:
        identity: the table holds identity: it never offers copy, CSV or Excel buttons.
        max_rows: at most this many rows go to the browser; the page says how many were left out.
        narrow: what to tell a person to do to see rows left out.
    """
    return Table(identity=identity, max_rows=max_rows, narrow=narrow)


def heading(text: str, level: int = 3) -> widgets.HTML:
    return widgets.HTML(value=f"<h{level} style='margin:0.6em 0 0.2em'>{html.escape(text)}</h{level}>")


def note(text: str) -> widgets.HTML:
    return widgets.HTML(value=f"<div style='color:#555;max-width:60em'>{html.escape(text)}</div>")


def choices(values: Iterable[object], *, everything: str | None = ALL) -> list[str]:
    """Dropdown options: an "(all)" entry first, then the values as text."""
    options = [str(v) for v in values if v is not None and str(v) != ""]
    return ([everything] if everything else []) + options


def chosen(value: object) -> str | None:
    """A dropdown's value for a library call: None for "(all)" or nothing chosen."""
    return None if value in (None, "", ALL) else str(value)


def dropdown(description: str, options: Iterable[object] = (), **kwargs) -> widgets.Dropdown:
    return widgets.Dropdown(
        description=description, options=choices(options), value=ALL, style=LABEL, **kwargs
    )


def button(description: str, *, icon: str = "", style: str = "", tooltip: str = "") -> widgets.Button:
    return widgets.Button(
        description=description,
        icon=icon,
        button_style=style,
        tooltip=tooltip,
        layout=widgets.Layout(width="auto"),
    )


def figure_widget(figure=None, *, width: int | None = None, height: int = 380):
    """A plotly FigureWidget (it needs anywidget), sized for a 1280-pixel screen.

    Args:
        width: fixed pixels for charts set side by side (plotly cannot measure a grid cell before it
            is drawn, and would cut off the legend); None fills the row.
    """
    import plotly.graph_objects as go

    widget = go.FigureWidget(figure) if figure is not None else go.FigureWidget()
    widget.layout.height = height
    if width:
        widget.layout.width = width
    return widget


def in_app() -> bool:
    """True in the web app's kernel, whose charts are `chart.Chart`s (plotly.js's basic bundle)."""
    return os.environ.get(APP_ENV) == "1"


def warm_up() -> None:
    """Pay plotly's first-use costs in Python now: building a first bar chart (and, outside the
    app, importing FigureWidget) take seconds. The web app calls this while Voilà prepares its
    kernel, before anyone visits, so nobody waits for it after typing the passphrase.
    """
    import plotly.graph_objects as go
    import pyarrow as pa

    from workbench.analysis import charts
    from workbench.store import db

    charts.theme()  # built on first use (~40 ms): the first chart after the passphrase would wait
    # DuckDB imports pyarrow.dataset when it first scans an Arrow table, and pyarrow its query engine
    # on a first group_by: ~30 ms the first headline after the passphrase paid. A first connection
    # loads and checks the encryption extension (~90 ms); opening the store after it takes ~15 ms.
    with db.memory_connection() as con:
        con.register("warm_up", pa.table({"key": ["a"]}))
        scanned = con.execute("SELECT key FROM warm_up").fetch_arrow_table()
        scanned.group_by("key").aggregate([("key", "count")])
    figure = go.Figure([go.Bar(x=["a"], y=[1], text=["1"]), go.Scatter(x=["a"], y=[1])],
                       layout={"title": {"text": "warm-up"}, "xaxis": {"title": {"text": "x"}}})
    # Closed at once: a widget left open is sent to every browser that connects, unseen.
    (Chart if in_app() else go.FigureWidget)(figure).close()


def replace_figure(widget, figure) -> None:
    """Show `figure` in an existing FigureWidget in place: one batched message, no new widget.

    Traces are updated one by one when their number is unchanged (the chart animates rather than
    redraws); otherwise they are swapped.
    """
    height, width = widget.layout.height, widget.layout.width
    with widget.batch_update():
        if len(widget.data) == len(figure.data) and all(
            a.type == b.type for a, b in zip(widget.data, figure.data, strict=True)
        ):
            for old, new in zip(widget.data, figure.data, strict=True):
                # Only the properties that changed are set: plotly validates every value it is
                # given, and a trace's unchanged styling was most of an update's cost.
                changed = _changed(old.to_plotly_json(), new.to_plotly_json())
                if changed:
                    old.update(changed, overwrite=True)
        else:
            widget.data = ()
            widget.add_traces(list(figure.data))
        layout = figure.layout.to_plotly_json()
        # The theme is the same for every chart and is already on the widget; re-validating its
        # hundreds of properties was most of the cost of a filter change.
        if layout.get("template") == widget.layout.template.to_plotly_json():
            layout.pop("template")
        widget.layout.update(layout, overwrite=True)
        widget.layout.height = figure.layout.height or height
        if figure.layout.width or width:
            widget.layout.width = figure.layout.width or width


def _changed(old: dict, new: dict) -> dict:
    """The top-level properties of `new` that differ from `old` (a property `new` lacks is reset)."""
    changed = {key: value for key, value in new.items() if not same_value(old.get(key), value)}
    changed.update({key: None for key in old.keys() - new.keys() if key not in ("type", "uid")})
    return changed


class ChartSlot(widgets.Box):
    """Where a chart goes on the page. Its widget is made from the first figure shown, data and all,
    and updated in place after that: in the web app a `chart.Chart` (plotly.js's basic bundle), in
    JupyterLab plotly's FigureWidget.

    Why not an empty widget filled later: updates go to the browser as messages, and one sent
    before the chart is drawn on the page can be lost, leaving an empty chart (seen in the browser
    tests). A widget made with its data carries it in its initial state.
    """

    def __init__(self, *, height: int = 380, width: int | None = None) -> None:
        super().__init__(layout=widgets.Layout(width="100%", min_height=f"{height}px"))
        self.height, self.width = height, width
        self.figure = None
        self.drawing: Drawing | None = None  # what the figure shows, when it was drawn from one

    def show(self, figure) -> None:
        """Draw `figure` (a plotly Figure): the first time as a new widget, afterwards in place."""
        if self.figure is None and in_app():
            self._place(Chart(figure, height=self.height, width=self.width))
        elif self.figure is None:
            self._place(figure_widget(figure, height=figure.layout.height or self.height, width=self.width))
        elif isinstance(self.figure, Chart):
            self.figure.show(figure)
        else:
            replace_figure(self.figure, figure)
        self.drawing = None

    def draw(self, drawing: Drawing) -> None:
        """Draw a chart given as a `charts.Drawing`, in place.

        When the chart shown has the same traces and styling, only the data and layout properties
        that changed are sent, in one message: no Figure is made and nothing else is validated.
        Otherwise (other traces: an outcome that was not there, a map of other wards) its figure
        replaces the one shown.
        """
        if self.figure is None and in_app():
            self._place(Chart(drawing=drawing, height=self.height, width=self.width))
        elif self.figure is None:
            self.show(drawing.figure())
        elif isinstance(self.figure, Chart):
            self.figure.draw(drawing)
        elif self.drawing is not None and same_styling(self.drawing, drawing):
            restyle(self.figure, self.drawing, drawing)
        else:
            self.show(drawing.figure())
        self.drawing = drawing

    def _place(self, widget) -> None:
        self.figure = widget
        self.children = (widget,)


def restyle(widget, old: Drawing, new: Drawing) -> None:
    """Set on `widget` (showing `old`) the data and layout properties in which `new` differs."""
    with widget.batch_update():
        for trace, before, after in zip(widget.data, old.traces, new.traces, strict=True):
            for name in new.data & after.keys():
                if not same_value(before[name], after[name]):
                    trace[name] = after[name]
        for path, value in new.changing.items():
            if not same_value(old.changing[path], value):
                widget.layout[path] = value


class Steps:
    """A progress bar for work done in a few steps; hidden when idle, and for quick work.

    The bar appears at the first step taken `SHOW_AFTER_S` or more after the work began: a filter
    change that is done in a twentieth of a second would only flash it, and each show, step and hide
    is a message the browser must handle before it redraws the charts.

    Examples:
        >>> bar = Steps(3)
        >>> with bar:
        ...     bar.step("reading")
    """

    SHOW_AFTER_S = 0.25

    def __init__(self, total: int, description: str = "Working") -> None:
        self.bar = widgets.IntProgress(
            value=0,
            min=0,
            max=total,
            description=description,
            bar_style="info",
            layout=widgets.Layout(display="none", width="30em"),
        )
        self.started = 0.0
        self.done = 0

    def __enter__(self) -> Steps:
        self.started, self.done = time.perf_counter(), 0
        return self

    def step(self, label: str = "") -> None:
        self.done = min(self.done + 1, self.bar.max)
        if label:
            self.bar.description = label
        if self.shown or time.perf_counter() - self.started >= self.SHOW_AFTER_S:
            self.bar.value = self.done
            self.bar.layout.display = None

    @property
    def shown(self) -> bool:
        return self.bar.layout.display != "none"

    def __exit__(self, *exc) -> None:
        if self.shown:
            self.bar.layout.display = "none"


__all__ = [
    "ALL",
    "Steps",
    "Table",
    "button",
    "choices",
    "chosen",
    "dropdown",
    "ChartSlot",
    "figure_widget",
    "in_app",
    "warm_up",
    "heading",
    "note",
    "replace_figure",
    "restyle",
    "same_styling",
    "table",
    "table_html",
]
