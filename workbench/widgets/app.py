"""The web app's page: the passphrase box, then tabs for outreach, needs, services and follow-up lists.

Served by `workbench app` (Voilà) from notebooks/app.ipynb. The store path comes from WORKBENCH_DB,
set by `workbench app --db`; the passphrase is never taken from the environment here: the page asks.
"""

from __future__ import annotations

import ipywidgets as widgets

from workbench.widgets import chart
from workbench.widgets.common import heading, in_app, note, warm_up
from workbench.widgets.lists import FollowupListView, RegistryView
from workbench.widgets.needs import NeedsView, ServicesView, VolunteersView
from workbench.widgets.outreach import OutreachDashboard
from workbench.widgets.store import Store, StoreView

TABS = ("Outreach", "Needs", "Services", "Follow-up lists")


class App(widgets.VBox):
    """The whole page. Nothing but the passphrase box shows until the store opens."""

    def __init__(self, path: str | None = None, passphrase: str = "") -> None:
        warm_up()  # before the first visitor: Voilà runs this notebook ahead of time
        self.store_view = StoreView(path, passphrase, auto_open=bool(passphrase), show_path=False)
        self.dashboard = OutreachDashboard(self.store_view)
        # Only the dashboard reads the store when it opens; each other tab reads when first shown.
        self.needs = NeedsView(self.store_view, lazy=True)
        self.services = ServicesView(self.store_view, lazy=True)
        self.volunteers = VolunteersView(self.store_view, lazy=True)
        self.lists = FollowupListView(self.store_view, lazy=True)
        self.registry = RegistryView(self.store_view, lazy=True)
        self.views_by_tab = (
            (self.dashboard,),
            (self.needs,),
            (self.services, self.volunteers),
            (self.lists, self.registry),
        )
        self.panes = (
            self.dashboard,
            self.needs,
            widgets.VBox([self.services, heading("Volunteers", 2), self.volunteers]),
            widgets.VBox([self.lists, heading("Lists that are out", 2), self.registry]),
        )
        # A button bar over panes that stay on the page, shown one at a time. (ipywidgets.Tab left the
        # charts of a tab not yet looked at blank.)
        self.tabs = widgets.ToggleButtons(options=TABS, value=TABS[0], style={"button_width": "10em"})
        self.tabs.add_class("wb-tabs")
        for pane in self.panes[1:]:
            pane.layout.display = "none"
        self.body = widgets.VBox(self.panes, layout=widgets.Layout(border="1px solid #ccd", padding="6px"))
        self.page = widgets.VBox([self.tabs, self.body], layout=widgets.Layout(display="none"))
        self.tabs.observe(self._tab_chosen, names="value")
        self.store_view.when_open(self._opened)
        super().__init__(
            [
                note(
                    "Type the store's passphrase and press Enter. Everything on this page is personal data: "
                    "do not leave it open on a shared screen."
                ),
                self.store_view,
                self.page,
                *([chart.warmer()] if in_app() else []),
            ],
            layout=widgets.Layout(max_width="1240px"),
        )
        self.add_class("wb-app")

    def _tab_chosen(self, change) -> None:
        index = TABS.index(change["new"])
        for number, pane in enumerate(self.panes):
            pane.layout.display = "flex" if number == index else "none"
        for view in self.views_by_tab[index]:
            view.show()

    def _opened(self, _store: Store) -> None:
        self.page.layout.display = None
        self.store_view.passphrase_box.layout.display = "none"
        self.store_view.actor_box.layout.display = "none"
        self.store_view.open_button.layout.display = "none"


__all__ = ["App", "TABS"]
