"""Where a ward map goes on the page, redrawn in place when only its numbers change.

A filter change usually keeps the same wards on the map and changes their colours, numbers and
zoom. Sending only those (a few bytes a ward) instead of every ward's outline again keeps a
dashboard's filter change quick; a map of other wards is swapped whole, as any chart is.
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.widgets.common import ChartSlot

# What a recolouring changes: per ward trace, the chosen ward's outline, the numbers, the layout.
WARD_PROPERTIES = ("fillcolor", "fillpattern", "text")
OUTLINE_PROPERTIES = ("x", "y")
NUMBER_PROPERTIES = ("text", "textfont", "marker")
LAYOUT_PROPERTIES = ("title", "annotations", "margin")


def _names(figure) -> list[str | None]:
    return [trace.name for trace in figure.data]


class MapSlot(ChartSlot):
    """A ChartSlot for ward maps (`analysis.maps`), with clicks on a ward passed to `on_ward`."""

    def __init__(
        self, *, height: int = 420, width: int | None = None, on_ward: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(height=height, width=width)
        self.on_ward = on_ward
        self._bound: set[int] = set()
        self._last: list[dict] = []  # the shown figure's traces as plain dicts, to send only changes

    def show(self, figure) -> None:
        """Draw `figure`: recoloured in place when it holds the same wards as the map shown."""
        if self.figure is not None and _names(self.figure) == _names(figure):
            self._recolour(figure)
        else:
            super().show(figure)
        self._last = [trace.to_plotly_json() for trace in figure.data]
        self._bind_clicks()

    def _recolour(self, figure) -> None:
        widget = self.figure
        with widget.batch_update():
            kinds = [WARD_PROPERTIES] * (len(widget.data) - 2) + [OUTLINE_PROPERTIES, NUMBER_PROPERTIES]
            for old, last, new, names in zip(widget.data, self._last, figure.data, kinds, strict=True):
                new_json = new.to_plotly_json()
                for name in names:
                    if new_json.get(name) != last.get(name):
                        old[name] = new_json.get(name)
            for name in LAYOUT_PROPERTIES:
                widget.layout[name] = figure.layout[name]
            widget.layout.xaxis.range = figure.layout.xaxis.range
            widget.layout.yaxis.range = figure.layout.yaxis.range

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
