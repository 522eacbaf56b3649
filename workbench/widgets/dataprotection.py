"""Data-protection duties: subject access, erasure (confirmed), retention, breach reports, the audit log,
and data-protection queries raised on calls.

Every action is the library's (`dataprotection`, `lists`); each one is audited there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ipywidgets as widgets

from workbench import privacy
from workbench.lists import breach, registry
from workbench.privacy import retention
from workbench.widgets.common import LABEL, button, note, table, table_html
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

BY = {"Membership number": "membership_number", "Phone number": "phone"}
CONFIRM = "ERASE"


def _person_boxes() -> tuple[widgets.ToggleButtons, widgets.Text]:
    by = widgets.ToggleButtons(
        options=list(BY), value="Membership number", description="Find by", style=LABEL
    )
    text = widgets.Text(description="Number", style=LABEL, layout=widgets.Layout(width="30em"))
    return by, text


class SubjectAccessView(StoreBound):
    """Everything held about one person, written to a JSON and an HTML file (0600)."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.by, self.identifier = _person_boxes()
        self.folder = widgets.Text(description="Save in", style=LABEL, layout=widgets.Layout(width="36em"))
        self.export_button = button("Export everything held", icon="file", style="primary")
        self.export_button.on_click(self.feedback.guarded(lambda _: self.export()))
        super().__init__(
            [self.by, self.identifier, self.folder, widgets.HBox([self.export_button]), self.feedback]
        )
        self.add_class("wb-sar")
        self.bind(store_view)

    def refresh(self) -> None:
        self.folder.value = self.folder.value or str(
            Path(self.opened.path).resolve().parent / "subject-access"
        )

    def export(self) -> privacy.SubjectAccess:
        folder = Path(self.folder.value.strip()).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"subject-access-{datetime.now():%Y%m%d-%H%M%S}"
        with self.opened.write() as con:
            result = privacy.subject_access(
                con, out, actor=self.opened.actor, **{BY[self.by.value]: self.identifier.value.strip()}
            )
        self.feedback.ok(f"Written {result.html_path} and {result.json_path.name} (readable only by you).")
        return result


class ErasureView(StoreBound):
    """Erase one member, after typing ERASE to confirm; the store is then compacted."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.by, self.identifier = _person_boxes()
        self.reason = widgets.Dropdown(
            description="Reason", options=privacy.ERASURE_REASONS, style=LABEL
        )
        self.confirm = widgets.Text(description="Type ERASE", placeholder=CONFIRM, style=LABEL)
        self.erase_button = button("Erase this member", icon="eraser", style="danger")
        self.erase_button.on_click(self.feedback.guarded(lambda _: self.erase()))
        super().__init__(
            [
                note(
                    "Erasure removes the member's identity and records for good. Their opt-out "
                    "stays, so they are never called again."
                ),
                self.by,
                self.identifier,
                self.reason,
                self.confirm,
                widgets.HBox([self.erase_button]),
                self.feedback,
            ]
        )
        self.add_class("wb-erasure")
        self.bind(store_view)

    def erase(self) -> privacy.Erasure | None:
        if self.confirm.value.strip() != CONFIRM:
            self.feedback.warn(f"Nothing erased: type {CONFIRM} in the box to confirm.")
            return None
        store = self.opened
        with store.write() as con:
            result = privacy.erase(
                con,
                actor=store.actor,
                reason=self.reason.value,
                **{BY[self.by.value]: self.identifier.value.strip()},
            )
        privacy.compact(store.path, store.passphrase)  # deleted bytes leave the file only now
        self.confirm.value = ""
        removed = sum(result.removed.values())
        self.feedback.ok(f"Erased: {removed:,} rows removed, and the store compacted.")
        self.announce_change()
        return result


class RetentionView(StoreBound):
    """What the retention policy would remove (dry run), and applying it."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.older = widgets.BoundedIntText(
            value=retention.DETAILS_AFTER_DAYS,
            min=1,
            max=3650,
            description="Details after (days)",
            style={"description_width": "12em"},
        )
        self.inactive = widgets.BoundedIntText(
            value=retention.INACTIVE_AFTER_DAYS,
            min=1,
            max=3650,
            description="Inactive after (days)",
            style={"description_width": "12em"},
        )
        self.plan_button = button("Dry run", icon="search", style="primary")
        self.confirm = widgets.Checkbox(value=False, description="I have checked the dry run", indent=False)
        self.apply_button = button("Apply retention", icon="trash", style="danger")
        self.result = widgets.HTML()
        self.plan_button.on_click(self.feedback.guarded(lambda _: self.plan()))
        self.apply_button.on_click(self.feedback.guarded(lambda _: self.apply()))
        super().__init__(
            [
                self.older,
                self.inactive,
                self.plan_button,
                self.result,
                widgets.HBox([self.confirm, self.apply_button]),
                self.feedback,
            ]
        )
        self.add_class("wb-retention")
        self.bind(store_view)

    def _days(self) -> dict:
        return {"older_than_days": int(self.older.value), "inactive_after_days": int(self.inactive.value)}

    def plan(self) -> privacy.Retention:
        with self.opened.read() as con:
            result = privacy.plan_retention(con, **self._days())
        self.result.value = _retention_html(result, "would")
        self.feedback.clear()
        return result

    def apply(self) -> privacy.Retention | None:
        if not self.confirm.value:
            self.feedback.warn("Run the dry run and tick the box first; nothing was removed.")
            return None
        store = self.opened
        with store.write() as con:
            result = privacy.apply_retention(con, actor=store.actor, **self._days())
        privacy.compact(store.path, store.passphrase)
        self.confirm.value = False
        self.result.value = _retention_html(result, "did")
        self.feedback.ok("Retention applied and the store compacted.")
        return result


class BreachView(StoreBound):
    """The report a data-protection team needs when a list is lost."""

    follows_changes = True

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.list_id = widgets.Dropdown(description="Lost list", options=[], style=LABEL)
        self.with_identities = widgets.Checkbox(
            value=False, indent=False, description="include who was on it (for the DP team only)"
        )
        self.report_button = button("Make the breach report", icon="exclamation-triangle", style="warning")
        self.report = widgets.HTML()
        self.report_button.on_click(self.feedback.guarded(lambda _: self.make()))
        super().__init__(
            [
                self.list_id,
                self.with_identities,
                widgets.HBox([self.report_button]),
                self.feedback,
                self.report,
            ]
        )
        self.add_class("wb-breach")
        self.bind(store_view)

    def refresh(self) -> None:
        with self.opened.read() as con:
            self.list_id.options = list(registry.lists(con)["list_id"])

    def make(self) -> None:
        if not self.list_id.value:
            self.feedback.warn("No list chosen: no lists have been issued yet.")
            return
        with self.opened.write() as con:
            report = breach.breach(
                con, self.list_id.value, actor=self.opened.actor, with_identities=self.with_identities.value
            )
        self.report.value = breach.render_breach(report, "html")
        self.feedback.ok("Breach report made (and recorded in the audit log).")


class AuditView(StoreBound):
    """Check the audit log's hash chain, and read its latest entries (never a name or a phone)."""

    follows_changes = True

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.verify_button = button("Verify the audit log", icon="check", style="primary")
        self.verdict = widgets.HTML()
        self.entries = table()
        self.verify_button.on_click(self.feedback.guarded(lambda _: self.verify()))
        super().__init__([widgets.HBox([self.verify_button]), self.verdict, self.feedback, self.entries])
        self.add_class("wb-audit")
        self.bind(store_view)

    def refresh(self) -> None:
        with self.opened.read() as con:
            self.entries.value = table_html(
                privacy.log(con, limit=50), empty="The audit log is empty."
            )

    def verify(self) -> privacy.Verification:
        with self.opened.read() as con:
            result = privacy.verify(con)
        self.verdict.value = (
            f"<div style='color:#1b5e20'><b>Intact</b>: {result.entries:,} entries, "
            "none changed or removed.</div>"
            if result.ok
            else f"<div style='color:#b00020'><b>BROKEN</b> at entry {result.bad_seq}: {result.problem}</div>"
        )
        self.refresh()
        return result


class QueriesView(StoreBound):
    """Data-protection questions members asked on calls ("how did you get my number?"), and their status."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.status_filter = widgets.Dropdown(
            description="Show", options=[*privacy.DP_QUERY_STATUSES, ("all", None)], style=LABEL
        )
        self.queries = table()
        self.call_id = widgets.Text(description="Call ID", style=LABEL)
        self.new_status = widgets.Dropdown(
            description="New status", options=privacy.DP_QUERY_STATUSES, style=LABEL
        )
        self.set_button = button("Set status", icon="check")
        self.status_filter.observe(self.feedback.guarded(lambda _: self.refresh()), names="value")
        self.set_button.on_click(self.feedback.guarded(lambda _: self.set_status()))
        super().__init__(
            [
                self.status_filter,
                self.queries,
                widgets.HBox([self.call_id, self.new_status, self.set_button]),
                self.feedback,
            ]
        )
        self.add_class("wb-dp-queries")
        self.bind(store_view)

    def refresh(self) -> None:
        with self.opened.read() as con:
            frame = privacy.dp_queries(con, status=self.status_filter.value)
        self.queries.value = table_html(frame, empty="No queries with this status.")

    def set_status(self) -> None:
        with self.opened.write() as con:
            privacy.set_dp_query_status(
                con, self.call_id.value.strip(), self.new_status.value, actor=self.opened.actor
            )
        self.feedback.ok("Status changed.")
        self.refresh()


def _retention_html(result: privacy.Retention, verb: str) -> str:
    rows = "".join(f"<li>{table}: {n:,} rows</li>" for table, n in result.detail_rows.items())
    rounds = ", ".join(result.expired_rounds) or "none"
    return (
        f"<div>Rounds past retention: {rounds}. It {verb} strip details from {result.calls_to_strip:,} "
        f"calls and delete {result.notes_to_delete:,} notes; {result.inactive_members:,} inactive members "
        f"flagged.<ul>{rows}</ul></div>"
    )


__all__ = ["AuditView", "BreachView", "ErasureView", "QueriesView", "RetentionView", "SubjectAccessView"]
