"""A chart in the web app: plotly figures drawn by plotly.js's basic bundle (bars and lines).

plotly's own FigureWidget brings all of plotly.js (4.8 MB), and evaluating it held the page's one
thread for 1.1-2 s on a 2-core laptop: most of the app's first render. The app's charts and maps
are bars and lines only (`analysis.charts`, `analysis.maps`), which plotly.js's basic bundle draws;
it evaluates in ~0.3 s. In JupyterLab the notebooks keep plotly's FigureWidget (`common.ChartSlot`).

The bundle is plotly.js-basic-dist-min, kept in `labextensions/workbench-plotly/` with its licence
and served by the app (`server.BUNDLE_FOLDER`). Its version is that of the plotly.js inside the
plotly package the workbench pins; to move to a new one, `npm pack plotly.js-basic-dist-min@VERSION`,
copy the bundle in under its versioned name and update `server.BUNDLE_FILE` and `BUNDLE_SHA256`
(a test checks both).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anywidget
import numpy as np
import traitlets

from workbench.widgets.server import BUNDLE_URL

if TYPE_CHECKING:
    from workbench.analysis.charts import Drawing


class Chart(anywidget.AnyWidget):
    """One chart: `show` a whole figure, then `draw` drawings, which send only what changed.

    Traits (JSON text, read by chart.js): `base`, the whole figure last shown; `patch`, the
    drawing's differences from it. A patch always describes the whole chart against the base, so a
    page opened later draws the same chart as one that saw every change.
    """

    _esm = Path(__file__).with_name("chart.js")
    bundle = traitlets.Unicode(BUNDLE_URL).tag(sync=True)
    base = traitlets.Unicode("").tag(sync=True)
    patch = traitlets.Unicode("{}").tag(sync=True)

    def __init__(self, figure: dict | None = None, *, drawing: Drawing | None = None,
                 height: int | None = None, width: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.height, self.width = height, width
        self.trace_names: list[str | None] = []
        self.drawing: Drawing | None = None  # the drawing the base was made from, if any
        self._clicks: list[Callable[[int], None]] = []
        self.on_msg(self._message)
        if figure is not None:
            self.show(figure)
        elif drawing is not None:
            self.draw(drawing)

    def show(self, figure: dict) -> None:
        """Draw `figure` (plotly's plain dict, or a Figure) whole."""
        figure = figure if isinstance(figure, dict) else figure.to_plotly_json()
        layout = dict(figure.get("layout") or {})
        layout.setdefault("height", self.height)
        if self.width:
            layout.setdefault("width", self.width)
        figure = {"data": list(figure.get("data") or ()), "layout": {k: v for k, v in layout.items()
                                                                      if v is not None}}
        self.trace_names = [trace.get("name") for trace in figure["data"]]
        with self.hold_sync():
            self.base = _json(figure)
            self.patch = "{}"
        self.drawing = None

    def draw(self, drawing: Drawing) -> None:
        """Draw a `charts.Drawing`: as a patch when it has the traces and styling of the base."""
        if self.drawing is None or not same_styling(self.drawing, drawing):
            self.show(drawing.as_dict())
            self.drawing = drawing
            return
        self.patch = _json({"data": _changed_data(self.drawing, drawing), "layout": drawing.changing})

    def on_click(self, callback: Callable[[int], None]) -> None:
        """Call `callback(trace_index)` when a person clicks a point or area of a trace."""
        self._clicks.append(callback)

    def _message(self, _widget, content, _buffers) -> None:
        # From the page, so checked: a trace index of the figure shown, nothing else.
        trace = content.get("trace") if isinstance(content, dict) and content.get("type") == "click" else None
        if isinstance(trace, int) and not isinstance(trace, bool) and 0 <= trace < len(self.trace_names):
            for callback in self._clicks:
                callback(trace)


def _changed_data(base: Drawing, new: Drawing) -> list[dict]:
    """Per trace, the data properties of `new` that differ from the base drawing's."""
    return [{name: after[name] for name in new.data & after.keys()
             if not same_value(before.get(name), after[name])}
            for before, after in zip(base.traces, new.traces, strict=True)]


def same_styling(old: Drawing, new: Drawing) -> bool:
    """The same traces, in order, styled the same way, and the same layout bar what follows the data."""
    if (len(old.traces), old.data, old.changing.keys()) != (len(new.traces), new.data, new.changing.keys()):
        return False
    if old.layout.keys() != new.layout.keys():
        return False
    if not all(same_value(old.layout[k], new.layout[k]) for k in new.layout):
        return False
    return all(
        a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in b.keys() - new.data)
        for a, b in zip(old.traces, new.traces, strict=True)
    )


def same_value(a, b) -> bool:
    """Equal plotly property values, arrays compared element by element."""
    if a is b:
        return True
    if isinstance(a, np.ndarray | list | tuple) or isinstance(b, np.ndarray | list | tuple):
        try:
            return np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
        except ValueError:  # ragged nested values: compare as Python objects
            return list(a) == list(b) if a is not None and b is not None else a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _json(value) -> str:
    """plotly's JSON (arrays, dates and plotly objects included)."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly(value)


def warmer() -> Chart:
    """An invisible chart with no figure: the page loads plotly.js while it waits for the passphrase."""
    import ipywidgets as widgets

    return Chart(layout=widgets.Layout(display="none"))


__all__ = ["Chart", "same_styling", "same_value", "warmer"]
