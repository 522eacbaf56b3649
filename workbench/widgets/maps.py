"""Where a ward map goes on the page, redrawn in place when only its numbers change.

A filter change usually keeps the same wards on the map and changes their colours, numbers and
zoom. Sending only those (a few bytes a ward) instead of every ward's outline again keeps a
dashboard's filter change quick (`ChartSlot.draw`, with the map's `analysis.maps.MAP_DATA`); a map
of other wards is swapped whole, as any chart is.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from workbench.widgets.chart import Chart
from workbench.widgets.common import ChartSlot

NO_BOUNDARIES = (
    "<div style='color:#555'>No ward map: this store has no ward boundaries. Load them with "
    "<code>workbench import boundaries FILE</code> (ONS ward boundaries, GeoJSON or zipped shapefile)."
    "</div>"
)


class MapSlot(ChartSlot):
    """A ChartSlot for ward maps (`analysis.maps`), with clicks on a ward passed to `on_ward`."""

    def __init__(
        self, *, height: int = 420, width: int | None = None, on_ward: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(height=height, width=width)
        self.on_ward = on_ward
        self._bound: set[int] = set()

    def show(self, figure) -> None:
        super().show(figure)
        self._bind_clicks()

    def draw(self, drawing) -> None:
        super().draw(drawing)
        self._bind_clicks()

    def _bind_clicks(self) -> None:
        """Clicking inside a ward calls `on_ward(ward)`; each trace (each chart, in the app) is bound once."""
        if self.on_ward is None:
            return
        if isinstance(self.figure, Chart):
            if id(self.figure) not in self._bound:
                self.figure.on_click(self._clicked_in_app)
                self._bound.add(id(self.figure))
            return
        for trace in self.figure.data[:-2]:
            if id(trace) not in self._bound:
                trace.on_click(self._clicked)
                self._bound.add(id(trace))

    def _clicked_in_app(self, index: int) -> None:
        names = self.figure.trace_names
        if index < len(names) - 2:  # the last two traces are the chosen ward's outline and the numbers
            self.on_ward(names[index])

    def _clicked(self, trace, points, _state) -> None:
        # plotly calls every trace's click handlers for each click, the unclicked ones with no points.
        if points.point_inds:
            self.on_ward(trace.name)


def beside(
    chart: ChartSlot, chart_px: int, slot: MapSlot, map_px: int, note_box: widgets.HTML
) -> widgets.HBox:
    """A chart and a ward map side by side, each keeping its width (neither box may shrink).

    A box squeezed narrower than the chart drawn in it cut off the chart's last bars and legend;
    that happened when the map's note took the room. With no map, the note sits beside the chart.
    """
    chart.layout.width, chart.layout.flex = f"{chart_px}px", "0 0 auto"
    slot.layout.width = note_box.layout.width = f"{map_px}px"
    column = widgets.Layout(flex="0 0 auto", justify_content="center")
    return widgets.HBox([chart, widgets.VBox([slot, note_box], layout=column)])


def no_map(slot: MapSlot, note_box: widgets.HTML, has_shapes: bool) -> bool:
    """Say so, and hide the map's empty frame, when the store has no ward boundaries.

    Returns True when there is nothing to draw.
    """
    note_box.value = "" if has_shapes else NO_BOUNDARIES
    slot.layout.display = None if has_shapes else "none"
    return not has_shapes


__all__ = ["MapSlot", "beside", "no_map"]
