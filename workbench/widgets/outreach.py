"""The outreach dashboard: filters, headline numbers, and charts that update in place.

Every filter change runs the library's queries on the kept read-only connection (they sum the
analysis snapshot's small pre-aggregate, `outreach_cube`), then pushes only the new numbers and
titles into the same FigureWidgets (one batched message per chart, `ChartSlot.draw`), so the page
never redraws from scratch. The web app and 02_outreach_dashboard both show this view.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

import ipywidgets as widgets
import pandas as pd

from workbench.analysis import charts, maps, outreach
from workbench.store.filters import known, wards
from workbench.vocabulary import OUTCOMES
from workbench.widgets.common import LABEL, ChartSlot, Steps, choices, chosen, dropdown
from workbench.widgets.feedback import Feedback
from workbench.widgets.maps import MapSlot, beside, no_map
from workbench.widgets.store import StoreBound, StoreView

HEADLINES = (
    ("attempts", "call attempts", "{:,}"),
    ("members_called", "members called", "{:,}"),
    ("reached", "members reached", "{:,}"),
    ("contact_rate", "contact rate", "{:.0%}"),
    ("needing_support", "need support now", "{:,}"),
)


FILTERS = ("branch", "ward", "round", "outcome", "date_from", "date_to")


@dataclass
class DashboardData:
    """What the dashboard last showed: the filters, the headline numbers, and the tables behind the charts."""

    filters: dict = field(default_factory=dict)
    headline: dict = field(default_factory=dict)
    over_time: pd.DataFrame | None = None
    by_round: pd.DataFrame | None = None
    by_place: pd.DataFrame | None = None
    place: str = "branch"
    wards: list[str] | None = None  # the branch's wards, when the branch filter has just changed
    by_ward: pd.DataFrame | None = None  # for the map
    shapes: maps.WardShapes | None = None  # every ward's shape
    focus: list[str] | None = None  # the chosen branch's wards, which the map zooms to


class OutreachDashboard(StoreBound):
    """Branch, ward, round, date range and outcome filters over headline numbers and three charts."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.data = DashboardData()
        self.branch = dropdown("Branch")
        self.ward = dropdown("Ward")
        self.round = dropdown("Round")
        self.outcome = widgets.Dropdown(description="Outcome", options=choices(OUTCOMES), style=LABEL)
        self.date_from = widgets.DatePicker(description="From", style=LABEL)
        self.date_to = widgets.DatePicker(description="To", style=LABEL)
        self.reset_button = widgets.Button(description="Clear filters", icon="times")
        self.headline = widgets.HTML(value=_headline_html({}))
        self.over_time = ChartSlot(height=340)
        self.outcomes = ChartSlot(height=340)
        self.by_place = ChartSlot(width=650)
        self.map = MapSlot(height=380, width=520)
        self.map_note = widgets.HTML()
        self._shapes: maps.WardShapes | None = None  # every ward's shape, read once per refresh
        self.steps = Steps(2, "Updating")
        self._quiet = False
        for name, box in zip(FILTERS, self.filter_boxes, strict=True):
            box.add_class(f"wb-filter-{name}")
            box.observe(self._changed, names="value")
        for name, figure in (
            ("over-time", self.over_time),
            ("outcomes", self.outcomes),
            ("place", self.by_place),
            ("map", self.map),
        ):
            figure.add_class(f"wb-chart-{name}")
        self.reset_button.on_click(self.feedback.guarded(lambda _: self.reset()))
        filters = widgets.GridBox(
            [self.branch, self.ward, self.round, self.outcome, self.date_from, self.date_to],
            layout=widgets.Layout(grid_template_columns="repeat(3, 32%)"),
        )
        super().__init__(
            [
                filters,
                widgets.HBox([self.reset_button, self.steps.bar]),
                self.feedback,
                self.headline,
                beside(self.by_place, 660, self.map, 530, self.map_note),  # side by side in 1,240
                self.over_time,
                self.outcomes,
            ]
        )
        self.add_class("wb-outreach")
        self.bind(store_view)

    @property
    def filter_boxes(self) -> tuple[widgets.ValueWidget, ...]:
        return (self.branch, self.ward, self.round, self.outcome, self.date_from, self.date_to)

    def refresh(self) -> None:
        """Load the branches, wards and rounds in the store, then draw."""
        with self.opened.read() as con:
            options = {name: known(con, name) for name in ("branch", "ward", "round")}
            self._shapes = maps.shapes(con)
        self._quiet = True
        try:
            for name, values in options.items():
                box = getattr(self, name)
                box.options = choices(values)
                box.value = choices(values)[0]
        finally:
            self._quiet = False
        self.update()

    def filters(self) -> dict[str, str | None]:
        """The chosen filters as library arguments (None = everything)."""
        return {
            "branch": chosen(self.branch.value),
            "ward": chosen(self.ward.value),
            "round": chosen(self.round.value),
            "outcome": chosen(self.outcome.value),
            "date_from": _iso(self.date_from.value),
            "date_to": _iso(self.date_to.value),
        }

    def reset(self) -> None:
        self._quiet = True
        try:
            for box in self.filter_boxes:
                box.value = box.options[0] if isinstance(box, widgets.Dropdown) else None
        finally:
            self._quiet = False
        self.update()

    def _changed(self, _change) -> None:
        if not self._quiet:
            self.feedback.call(self.update)

    def update(self) -> None:
        """Re-query and redraw the headline numbers and the charts in place, top of the page first.

        The browser redraws the charts one after another, in the order their messages arrive. So the
        headline and the chart by place (what a person sees without scrolling) are queried and sent
        first, and the browser draws them while the map and the charts below are queried. The count
        needing support follows the chart: it reads the opt-out register and the follow-ups, the
        first time in a kernel ~0.25 s on the national store, and the chart need not wait for it.
        """
        if self.store is None:
            return
        with self.steps, self.opened.read() as con:
            self.data = self._load_top(con)
            self._show_top()
            self.data.headline["needing_support"] = outreach.needing_now(con, **self.data.filters)
            self.headline.value = _headline_html(self.data.headline)
            self.steps.step()
            self._load_rest(con)
            self.steps.step()
        self._draw_map()
        self.over_time.draw(charts.outreach_summary_drawing(self.data.over_time, "week"))
        self.outcomes.draw(charts.outcome_mix_drawing(self.data.by_round, "round"))
        self.feedback.clear()

    def _load_top(self, con) -> DashboardData:
        """The filters as checked, the ward choices, the headline numbers and the summary by place."""
        chosen_filters = self.filters()
        place = "ward" if chosen_filters["branch"] or chosen_filters["ward"] else "branch"
        branch_wards = wards(con, chosen_filters["branch"])
        ward_choices = None
        if self.data.filters and chosen_filters["branch"] != self.data.filters.get("branch"):
            # The ward filter offers only the chosen branch's wards; a ward elsewhere is dropped.
            ward_choices = branch_wards
            if chosen_filters["ward"] not in (None, *ward_choices):
                chosen_filters["ward"] = None
        headline = outreach.headline(con, **chosen_filters, needing=False)
        by_place = outreach.summaries(con, (place,), **chosen_filters)[place]
        return DashboardData(chosen_filters, headline, by_place=by_place, place=place, wards=ward_choices,
                             shapes=self._shapes,
                             focus=branch_wards if chosen_filters["branch"] else None)

    def _show_top(self) -> None:
        self.headline.value = _headline_html(self.data.headline)
        # A drawing, not a figure: a chart showing the same traces gets only its new numbers and titles.
        self.by_place.draw(charts.outreach_summary_drawing(self.data.by_place, self.data.place))
        # After the chart: re-rendering the ward select held the chart back by ~20 ms in Chromium (24
        # wards; more for a bigger organisation), and its new choices matter only once it is opened.
        if self.data.wards is not None:
            self._quiet = True
            try:
                self.ward.options = choices(self.data.wards)
                self.ward.value = self.data.filters["ward"] or choices(self.data.wards)[0]
            finally:
                self._quiet = False

    def _load_rest(self, con) -> None:
        """The summaries by week and round, and by ward for the map (on the same filters)."""
        data = self.data
        bys = tuple(by for by in ("week", "round", "ward") if by != data.place)
        rest = outreach.summaries(con, bys, **data.filters)
        data.over_time, data.by_round = rest["week"], rest["round"]
        data.by_ward = data.by_place if data.place == "ward" else rest["ward"]

    def _draw_map(self) -> None:
        if no_map(self.map, self.map_note, bool(self.data.shapes and self.data.shapes.rings)):
            return
        self.map.draw(maps.contact_drawing(self.data.by_ward, self.data.shapes, focus=self.data.focus,
                                           selected=self.data.filters.get("ward")))


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _headline_html(numbers: dict) -> str:
    cells = []
    for key, label, fmt in HEADLINES:
        value = numbers.get(key)
        text = fmt.format(value) if value is not None else "–"
        cells.append(
            f"<div class='wb-headline' data-name='{key}' style='display:inline-block;min-width:10em;"
            "margin:0 1.2em 0.6em 0;padding:0.5em 0.8em;border-left:4px solid #0072B2;"
            "background:#f3f6fa'>"
            f"<div class='wb-number' style='font-size:1.7em;font-weight:600'>{html.escape(text)}</div>"
            f"<div style='color:#444'>{html.escape(label)}</div></div>"
        )
    return "<div class='wb-headlines'>" + "".join(cells) + "</div>"


__all__ = ["DashboardData", "HEADLINES", "OutreachDashboard"]
