"""Who needs support, which services were referenced, where the gaps are, and who could help.

Three views over the library (needs, services, volunteers). They show member keys and counts only:
names and phone numbers appear only on follow-up lists (04_followup_lists).
"""

from __future__ import annotations

import ipywidgets as widgets

from workbench.analysis import charts, needs, services, volunteers
from workbench.store.filters import known
from workbench.vocabulary import NEED_CATEGORIES
from workbench.widgets.common import (
    LABEL,
    ChartSlot,
    Steps,
    choices,
    chosen,
    dropdown,
    heading,
    note,
    table,
    table_html,
)
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

QUEUE_COLUMNS = [
    "member_key",
    "branch",
    "ward",
    "categories",
    "urgency",
    "wellbeing",
    "age_band",
    "days_waiting",
    "score",
    "escalated",
    "state",
]


class _PlaceFilters(StoreBound):
    """Branch and ward dropdowns filled from the store; subclasses add boxes, then call `_watch()`."""

    _quiet = False

    def _place_boxes(self) -> None:
        self.feedback = Feedback()
        self.branch = dropdown("Branch")
        self.ward = dropdown("Ward")

    def _watch(self, *extra: widgets.ValueWidget) -> None:
        for box in (self.branch, self.ward, *extra):
            box.observe(self._changed, names="value")

    def _changed(self, _change) -> None:
        if not self._quiet:
            self.feedback.call(self.update)

    def refresh(self) -> None:
        with self.opened.read() as con:
            options = {name: known(con, name) for name in ("branch", "ward")}
        self._quiet = True
        try:
            for name, values in options.items():
                box = getattr(self, name)
                box.options, box.value = choices(values), choices(values)[0]
        finally:
            self._quiet = False
        self.update()

    def update(self) -> None:
        """Re-query and redraw."""


class NeedsView(_PlaceFilters):
    """The triage queue (most urgent first), how many need what, and the escalations."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False, max_rows: int = 25) -> None:
        self._place_boxes()
        self.category = widgets.Dropdown(description="Need", options=choices(NEED_CATEGORIES), style=LABEL)
        self.max_rows = max_rows
        self.summary = widgets.HTML()
        self.by_category = ChartSlot()
        self.queue = table()
        self.frame = None
        self.steps = Steps(2, "Reading")
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward, self.category]),
                self.steps.bar,
                self.feedback,
                self.summary,
                heading("How many need what"),
                self.by_category,
                heading("The triage queue, most urgent first"),
                note(
                    "Score = urgency + wellbeing + need + age band + days waiting (see docs/glossary.md). "
                    "Escalated means waiting longer than the organisation's escalation setting."
                ),
                self.queue,
            ]
        )
        self.add_class("wb-needs")
        self._watch(self.category)
        self.bind(store_view, lazy=lazy)

    def update(self) -> None:
        with self.steps, self.opened.read() as con:
            frame = needs.queue(
                con,
                branch=chosen(self.branch.value),
                ward=chosen(self.ward.value),
                category=chosen(self.category.value),
            )
            self.steps.step()
            by_category = needs.counts(frame, by="category")
            self.steps.step()
        self.frame = frame
        self.summary.value = _queue_summary(frame)
        self.by_category.show(charts.needs_counts(by_category, "category"))
        self.queue.value = table_html(
            frame[QUEUE_COLUMNS],
            max_rows=self.max_rows,
            empty="Nobody in this selection needs support right now.",
        )
        self.feedback.clear()


class ServicesView(_PlaceFilters):
    """Which services were referenced, and the signposting gaps."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self._place_boxes()
        self.usage = ChartSlot()
        self.no_service = table()
        self.uncovered = table()
        self.unlisted = table()
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward]),
                self.feedback,
                heading("Services referenced on calls"),
                self.usage,
                heading("Needs recorded with no service referenced"),
                self.no_service,
                heading("Wards where no listed service covers a need"),
                self.uncovered,
                heading("Services named on calls but not in the directory"),
                note("Add these to the services directory (01_load_data) so they can be counted and mapped."),
                self.unlisted,
            ]
        )
        self.add_class("wb-services")
        self._watch()
        self.bind(store_view, lazy=lazy)

    def update(self) -> None:
        place = {"branch": chosen(self.branch.value), "ward": chosen(self.ward.value)}
        with self.opened.read() as con:
            usage = services.usage(con, "service", **place)
            gaps = services.gaps(con, **place)
        self.usage.show(charts.services_usage(usage.head(15), "service"))
        self.no_service.value = table_html(
            gaps.no_service, max_rows=20, empty="None: every need had a service."
        )
        self.uncovered.value = table_html(
            gaps.uncovered, max_rows=20, empty="None: the map covers every need."
        )
        self.unlisted.value = table_html(gaps.unlisted, max_rows=20, empty="None.")
        self.feedback.clear()


class VolunteersView(_PlaceFilters):
    """Members keen to help, by ward, and suggested matches to needs nearby (member keys only)."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self._place_boxes()
        self.category = widgets.Dropdown(description="Need", options=choices(NEED_CATEGORIES), style=LABEL)
        self.keen = ChartSlot()
        self.matches = table()
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward, self.category]),
                self.feedback,
                heading("Members keen to volunteer, by ward"),
                self.keen,
                heading("Suggested matches: same ward first, then a neighbouring ward"),
                note(
                    "Suggestions only. Identities are never shown here; a branch secretary makes the "
                    "introduction."
                ),
                self.matches,
            ]
        )
        self.add_class("wb-volunteers")
        self._watch(self.category)
        self.bind(store_view, lazy=lazy)

    def update(self) -> None:
        place = {"branch": chosen(self.branch.value), "ward": chosen(self.ward.value)}
        with self.opened.read() as con:
            keen = volunteers.by_ward(volunteers.keen(con, **place))
            matches = volunteers.matches(con, category=chosen(self.category.value), **place)
        self.keen.show(charts.volunteers_by_ward(keen))
        self.matches.value = table_html(matches, max_rows=30, empty="No suggestions for this selection.")
        self.feedback.clear()


def _queue_summary(frame) -> str:
    escalated = int(frame["escalated"].sum()) if len(frame) else 0
    excluded = frame.attrs.get("excluded") or {}
    left_out = ", ".join(f"{n:,} {why}" for why, n in excluded.items() if n) or "nobody"
    days = frame.attrs.get("escalate_after_days", "?")
    return (
        f"<div><b>{len(frame):,}</b> members need support; <b style='color:#b00020'>{escalated:,}</b> "
        f"escalated (waiting more than {days} days). Left out by the opt-out register: {left_out}.</div>"
    )


__all__ = ["NeedsView", "ServicesView", "VolunteersView"]
