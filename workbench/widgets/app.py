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
    """The whole page. Nothing but the passphrase box shows until the store opens.

    Only the outreach tab is built with the page. Each other tab's views are built the first time it
    is chosen: the browser makes every widget of a page before it shows the passphrase box, and the
    other tabs held 250 of the page's 330.
    """

    def __init__(self, path: str | None = None, passphrase: str = "") -> None:
        warm_up()  # before the first visitor: Voilà runs this notebook ahead of time
        self.store_view = StoreView(path, passphrase, auto_open=False, show_path=False)
        self.page = widgets.VBox(layout=widgets.Layout(display="none"))
        # Shown before the dashboard reads the store: its chart by place then appears as soon as it
        # is drawn, not after the map and the charts below it.
        self.store_view.when_open(self._opened)
        self.dashboard = OutreachDashboard(self.store_view)
        hidden = [widgets.VBox(layout=widgets.Layout(display="none")) for _ in TABS[1:]]
        self.panes = (self.dashboard, *hidden)
        self.views_by_tab: list[tuple] = [(self.dashboard,), (), (), ()]
        # A button bar over panes that stay on the page, shown one at a time. (ipywidgets.Tab left the
        # charts of a tab not yet looked at blank.)
        self.tabs = widgets.ToggleButtons(options=TABS, value=TABS[0], style={"button_width": "10em"})
        self.tabs.add_class("wb-tabs")
        self.body = widgets.VBox(self.panes, layout=widgets.Layout(border="1px solid #ccd", padding="6px"))
        self.page.children = [self.tabs, self.body]
        self.tabs.observe(self._tab_chosen, names="value")
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
        if passphrase:
            self.store_view.open_store()

    def _tab_chosen(self, change) -> None:
        index = TABS.index(change["new"])
        self._build(index)
        for number, pane in enumerate(self.panes):
            pane.layout.display = "flex" if number == index else "none"
        for view in self.views_by_tab[index]:
            view.show()

    def _build(self, index: int) -> None:
        """Make tab `index`'s views, once. They read the store when shown (`show`), not before."""
        if self.views_by_tab[index]:
            return
        if index == 1:
            self.needs = NeedsView(self.store_view, lazy=True)
            views, children = (self.needs,), [self.needs]
        elif index == 2:
            self.services = ServicesView(self.store_view, lazy=True)
            self.volunteers = VolunteersView(self.store_view, lazy=True)
            views = (self.services, self.volunteers)
            children = [self.services, heading("Volunteers", 2), self.volunteers]
        else:
            self.lists = FollowupListView(self.store_view, lazy=True)
            self.registry = RegistryView(self.store_view, lazy=True)
            views = (self.lists, self.registry)
            children = [self.lists, heading("Lists that are out", 2), self.registry]
        self.views_by_tab[index] = views
        self.panes[index].children = children

    def _opened(self, _store: Store) -> None:
        self.page.layout.display = None
        self.store_view.passphrase_box.layout.display = "none"
        self.store_view.actor_box.layout.display = "none"
        self.store_view.open_button.layout.display = "none"


__all__ = ["App", "TABS"]
