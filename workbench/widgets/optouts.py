"""The opt-out register: look someone up, add or withdraw an entry with a reason, see the history.

The register never shows a phone or membership number (the library returns member keys only), and
what the user typed is never echoed back.
"""

from __future__ import annotations

import ipywidgets as widgets

from workbench.privacy import optouts, subjects
from workbench.widgets.common import LABEL, button, heading, note, table
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

BY = {"Membership number": "membership_number", "Phone number": "phone"}


class OptOutsView(StoreBound):
    """Look up, add, withdraw, and the register with its history."""

    follows_changes = True

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.by = widgets.ToggleButtons(
            options=list(BY), value="Membership number", description="Look up by", style=LABEL
        )
        self.identifier = widgets.Text(
            description="Number",
            placeholder="e.g. NV000123 or 07700 900123",
            style=LABEL,
            layout=widgets.Layout(width="30em"),
        )
        self.lookup_button = button("Look up", icon="search", style="primary")
        self.status = widgets.HTML()
        self.entries = table(identity=True)
        self.reason = widgets.Dropdown(description="Reason", options=optouts.REASONS, style=LABEL)
        self.scope = widgets.Dropdown(
            description="Scope",
            options=[("no more calls", "calls"), ("no contact at all", "all")],
            style=LABEL,
        )
        self.add_button = button("Add to the register", icon="ban", style="danger")
        self.withdraw_reason = widgets.Dropdown(
            description="Withdraw because", options=optouts.WITHDRAWAL_REASONS, style=LABEL
        )
        self.withdraw_button = button("Withdraw (re-consent)", icon="undo")
        self.include_withdrawn = widgets.Checkbox(
            value=True, description="include withdrawn entries (history)"
        )
        self.register = table(identity=True)
        self.lookup_button.on_click(self.feedback.guarded(lambda _: self.lookup()))
        self.add_button.on_click(self.feedback.guarded(lambda _: self.add()))
        self.withdraw_button.on_click(self.feedback.guarded(lambda _: self.withdraw()))
        self.include_withdrawn.observe(self.feedback.guarded(lambda _: self.refresh()), names="value")
        super().__init__(
            [
                heading("Look someone up"),
                self.by,
                widgets.HBox([self.identifier, self.lookup_button]),
                self.status,
                self.entries,
                heading("Add or withdraw"),
                note(
                    "Adding puts the member (and their phone number) on the register: no list will include "
                    "them "
                    "again. Withdrawing keeps the entry as history and records why."
                ),
                widgets.HBox([self.reason, self.scope, self.add_button]),
                widgets.HBox([self.withdraw_reason, self.withdraw_button]),
                self.feedback,
                heading("The register"),
                self.include_withdrawn,
                self.register,
            ]
        )
        self.add_class("wb-optouts")
        self.bind(store_view)

    def _who(self) -> dict[str, str]:
        return {BY[self.by.value]: self.identifier.value.strip()}

    def refresh(self) -> None:
        """Re-read the register."""
        if self.store is None:
            return
        with self.store.read() as con:
            frame = optouts.register(con, include_withdrawn=self.include_withdrawn.value)
        self.register.show(frame, empty="The register is empty.")

    def lookup(self) -> None:
        """Show every register entry, active or withdrawn, for the person typed in."""
        with self.opened.read() as con:
            person = subjects.find(con, **self._who())
            frame = optouts.entries_for(con, person)
        active = frame["withdrawn_at"].isna().any() if not frame.empty else False
        verdict = (
            "<b style='color:#b00020'>On the register</b>: do not contact."
            if active
            else "Not on the register (no active entry)."
        )
        self.status.value = f"<div>{verdict}</div>"
        self.entries.show(frame, empty="No entries for this person.")
        self.feedback.clear()

    def add(self) -> None:
        with self.opened.write() as con:
            change = optouts.add(
                con, actor=self.opened.actor, reason=self.reason.value, scope=self.scope.value, **self._who()
            )
        self.feedback.ok(change.message)
        self.refresh()
        self.announce_change()

    def withdraw(self) -> None:
        with self.opened.write() as con:
            change = optouts.withdraw(
                con, actor=self.opened.actor, reason=self.withdraw_reason.value, **self._who()
            )
        self.feedback.ok(change.message)
        self.refresh()
        self.announce_change()


__all__ = ["OptOutsView"]
