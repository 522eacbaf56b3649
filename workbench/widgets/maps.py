"""Where a ward map goes on the page, redrawn in place when only its numbers change.

A filter change usually keeps the same wards on the map and changes their colours, numbers and
zoom. Sending only those (a few bytes a ward) instead of every ward's outline again keeps a
dashboard's filter change quick (`ChartSlot.draw`, with the map's `analysis.maps.MAP_DATA`); a map
of other wards is swapped whole, as any chart is.
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.widgets.common import ChartSlot


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
        """Clicking inside a ward calls `on_ward(ward)`; each trace is bound once."""
        if self.on_ward is None:
            return
        for trace in self.figure.data[:-2]:
            if id(trace) not in self._bound:
                trace.on_click(self._clicked)
                self._bound.add(id(trace))

    def _clicked(self, trace, points, _state) -> None:
        # plotly calls every trace's click handlers for each click, the unclicked ones with no points.
        if points.point_inds:
            self.on_ward(trace.name)


__all__ = ["MapSlot"]
