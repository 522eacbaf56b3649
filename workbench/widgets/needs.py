"""Who needs support, which services were referenced, where the gaps are, and who could help.

Three views over the library (needs, services, volunteers). They show member keys and counts only:
names and phone numbers appear only on follow-up lists (04_followup_lists).
"""

from __future__ import annotations

import ipywidgets as widgets

from workbench.analysis import charts, maps, needs, services, volunteers
from workbench.store.filters import known, wards
from workbench.vocabulary import NEED_CATEGORIES
from workbench.widgets.common import (
    ALL,
    LABEL,
    ChartSlot,
    Steps,
    choices,
    chosen,
    dropdown,
    heading,
    note,
    table,
)
from workbench.widgets.feedback import Feedback
from workbench.widgets.maps import MapSlot, beside, no_map
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
    _focus: list[str] | None = None  # the chosen branch's wards, as the map last zoomed to

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

    def _place(self) -> dict[str, str | None]:
        return {"branch": chosen(self.branch.value), "ward": chosen(self.ward.value)}

    def _map_wards(self, con) -> tuple[maps.WardShapes, list[str] | None]:
        """Every ward's shape, and the chosen branch's wards for the map to zoom to (None: all)."""
        branch = chosen(self.branch.value)
        self._focus = wards(con, branch) if branch else None
        return maps.shapes(con), self._focus

    def _pick_ward(self, ward: str) -> None:
        """A ward clicked on the map becomes the ward filter (clicking it again clears it)."""
        if ward not in self.ward.options:
            return
        if self._focus is not None and ward not in self._focus:  # a ward of another branch: show them all
            self._quiet = True
            try:
                self.branch.value = ALL
            finally:
                self._quiet = False
        self.ward.value = ALL if self.ward.value == ward else ward


class NeedsView(_PlaceFilters):
    """The triage queue (most urgent first), how many need what, and the escalations."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False, max_rows: int = 25) -> None:
        self._place_boxes()
        self.category = widgets.Dropdown(description="Need", options=choices(NEED_CATEGORIES), style=LABEL)
        self.max_rows = max_rows
        self.summary = widgets.HTML()
        self.by_category = ChartSlot(width=620)
        self.map = MapSlot(width=540, on_ward=self._pick_ward)
        self.map.add_class("wb-needs-map")
        self.by_category.add_class("wb-chart-needs")
        self.map_note = widgets.HTML()
        self.queue = table(narrow="choose a branch, ward or need")
        self.queue.add_class("wb-needs-queue")
        self.frame = None
        self.steps = Steps(3, "Reading")
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward, self.category]),
                self.steps.bar,
                self.feedback,
                self.summary,
                heading("How many need what, and where (click a ward to see its queue)"),
                beside(self.by_category, 630, self.map, 550, self.map_note),  # side by side in 1,240
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
        place, category = self._place(), chosen(self.category.value)
        with self.steps, self.opened.read() as con:
            frame = needs.queue(con, **place, category=category)
            self.steps.step()
            by_category = needs.counts(frame, by="category")
            # The map shows the whole branch, the chosen ward outlined, so another ward is one click away.
            branch_queue = (
                needs.queue(con, branch=place["branch"], category=category) if place["ward"] else frame
            )
            by_ward = maps.needs_by_ward(con, branch_queue, place["branch"])
            ward_shapes, focus = self._map_wards(con)
            self.steps.step()
        self.frame = frame
        self.summary.value = _queue_summary(frame)
        self.by_category.show(charts.needs_counts(by_category, "category"))
        if not no_map(self.map, self.map_note, bool(ward_shapes.rings)):
            self.map.draw(maps.needs_drawing(by_ward, ward_shapes, focus=focus, selected=place["ward"]))
        self.queue.show(
            frame[QUEUE_COLUMNS],
            empty="Nobody in this selection needs support right now.",
        )
        self.feedback.clear()


class ServicesView(_PlaceFilters):
    """Which services were referenced, and the signposting gaps."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self._place_boxes()
        self.usage = ChartSlot()
        self.no_service = table()
        self.no_service.add_class("wb-gaps-no-service")
        self.uncovered = table()
        self.unlisted = table()
        self.map = MapSlot(width=640, on_ward=self._pick_ward)
        self.map.add_class("wb-gaps-map")
        self.map_note = widgets.HTML()
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward]),
                self.feedback,
                heading("Services referenced on calls"),
                self.usage,
                heading("Needs recorded with no service referenced"),
                self.no_service,
                heading("Wards where no listed service covers a need"),
                self.map,
                self.map_note,
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
        place = self._place()
        with self.opened.read() as con:
            usage = services.usage(con, "service", **place)
            gaps = services.gaps(con, **place)
            branch_gaps = services.gaps(con, branch=place["branch"]) if place["ward"] else gaps
            ward_shapes, focus = self._map_wards(con)
        self.usage.show(charts.services_usage(usage.head(15), "service"))
        if not no_map(self.map, self.map_note, bool(ward_shapes.rings)):
            frame = maps.gaps_by_ward(branch_gaps.uncovered)
            self.map.draw(maps.gaps_drawing(frame, ward_shapes, focus=focus, selected=place["ward"]))
        self.no_service.show(
            gaps.no_service, empty="None: every need had a service."
        )
        self.uncovered.show(
            gaps.uncovered, empty="None: the map covers every need."
        )
        self.unlisted.show(gaps.unlisted, empty="None.")
        self.feedback.clear()


class VolunteersView(_PlaceFilters):
    """Members keen to help, by ward, and suggested matches to needs nearby (member keys only)."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self._place_boxes()
        self.category = widgets.Dropdown(description="Need", options=choices(NEED_CATEGORIES), style=LABEL)
        self.keen = ChartSlot()
        self.map = MapSlot(width=640, on_ward=self._pick_ward)
        self.map.add_class("wb-volunteers-map")
        self.map_note = widgets.HTML()
        self.matches = table()
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward, self.category]),
                self.feedback,
                heading("Members keen to volunteer, by ward"),
                self.keen,
                heading("Keen volunteers against open needs"),
                self.map,
                self.map_note,
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
        place, category = self._place(), chosen(self.category.value)
        with self.opened.read() as con:
            keen_members = volunteers.keen(con, branch=place["branch"])
            keen = volunteers.by_ward(volunteers.keen(con, **place) if place["ward"] else keen_members)
            matches = volunteers.matches(con, category=category, **place)
            against = maps.volunteers_against_needs(
                keen_members, needs.queue(con, branch=place["branch"], category=category))
            ward_shapes, focus = self._map_wards(con)
        self.keen.show(charts.volunteers_by_ward(keen))
        if not no_map(self.map, self.map_note, bool(ward_shapes.rings)):
            self.map.draw(maps.volunteers_drawing(against, ward_shapes, focus=focus, selected=place["ward"]))
        self.matches.show(matches, empty="No suggestions for this selection.")
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
