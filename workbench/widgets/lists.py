"""Follow-up lists for branches: preview (names hidden until asked), export with purpose and recipient,
the list registry (outstanding, past shred-by, mark destroyed), and importing returns.

Who goes on a list, the opt-out check, the notice and the registry are all the library's
(`followups`, `lists`); this view only gathers the choices and shows what came back.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path

import ipywidgets as widgets

from workbench.lists import followups, registry, returns
from workbench.store.filters import known
from workbench.vocabulary import NEED_CATEGORIES
from workbench.widgets.common import LABEL, button, choices, chosen, heading, note, table, table_html
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

MASKED_COLUMNS = ["member_key", "ward", "categories", "urgency", "score"]
SHOWN_COLUMNS = ["first_name", "phone", "ward", "categories", "urgency", "score"]
FORMATS = (("Excel (.xlsx)", "xlsx"), ("Printable page (.html)", "html"), ("CSV (.csv)", "csv"))


def exports_folder(store_path: Path) -> Path:
    """Where lists are written by default: an exports/ folder beside the store."""
    return Path(store_path).resolve().parent / "exports"


def list_file_name(branch: str, fmt: str, when: datetime | None = None) -> str:
    """A file name for a branch's list that never collides with an earlier one.

    Examples:
        >>> list_file_name("St Anne's", "xlsx", datetime(2020, 4, 6, 9, 30, 5))
        'followup-st-anne-s-20200406-093005.xlsx'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-") or "branch"
    return f"followup-{slug}-{(when or datetime.now()):%Y%m%d-%H%M%S}.{fmt}"


class FollowupListView(StoreBound):
    """Choose branch, ward and need; preview; export with purpose and recipient."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False, max_rows: int = 30) -> None:
        self.feedback = Feedback()
        self.max_rows = max_rows
        self.composed = None
        self.exported = None
        self.branch = widgets.Dropdown(description="Branch", options=[], style=LABEL)
        self.ward = widgets.Dropdown(description="Ward", options=choices([]), style=LABEL)
        self.category = widgets.Dropdown(description="Need", options=choices(NEED_CATEGORIES), style=LABEL)
        self.preview_button = button("Preview the list", icon="eye", style="primary")
        self.show_names = widgets.Checkbox(
            value=False, description="show names and phone numbers", indent=False
        )
        self.summary = widgets.HTML()
        self.preview = table()
        self.purpose = widgets.Text(
            description="Purpose",
            placeholder="e.g. welfare call-backs, April",
            style=LABEL,
            layout=widgets.Layout(width="36em"),
        )
        self.recipient = widgets.Text(
            description="Recipient",
            placeholder="e.g. Ashcombe branch secretary",
            style=LABEL,
            layout=widgets.Layout(width="36em"),
        )
        self.fmt = widgets.Dropdown(description="Format", options=FORMATS, value="xlsx", style=LABEL)
        self.folder = widgets.Text(description="Save in", style=LABEL, layout=widgets.Layout(width="36em"))
        self.export_button = button("Export and register the list", icon="file-export", style="success")
        self.result = widgets.HTML()
        self.preview_button.on_click(self.feedback.guarded(lambda _: self.show_preview()))
        self.show_names.observe(self.feedback.guarded(lambda _: self._draw()), names="value")
        self.export_button.on_click(self.feedback.guarded(lambda _: self.export()))
        super().__init__(
            [
                widgets.HBox([self.branch, self.ward, self.category]),
                widgets.HBox([self.preview_button, self.show_names]),
                self.summary,
                self.preview,
                heading("Export"),
                note(
                    "Every list carries a data-protection notice (its ID, who it is for, why, and when it "
                    "must be shredded) and is recorded in the registry. People on the opt-out register are "
                    "always left out."
                ),
                self.purpose,
                self.recipient,
                self.fmt,
                self.folder,
                widgets.HBox([self.export_button]),
                self.feedback,
                self.result,
            ]
        )
        for name in (
            "branch",
            "ward",
            "category",
            "show_names",
            "purpose",
            "recipient",
            "fmt",
            "folder",
            "preview_button",
            "export_button",
        ):
            getattr(self, name).add_class(f"wb-list-{name.replace('_', '-')}")
        self.add_class("wb-lists")
        self.bind(store_view, lazy=lazy)

    def refresh(self) -> None:
        with self.opened.read() as con:
            branches, wards = known(con, "branch"), known(con, "ward")
        self.branch.options = branches
        self.ward.options = choices(wards)
        self.folder.value = self.folder.value or str(exports_folder(self.opened.path))

    def _choice(self) -> dict:
        return {
            "branch": self.branch.value,
            "ward": chosen(self.ward.value),
            "category": chosen(self.category.value),
        }

    def show_preview(self) -> None:
        """Who would be on the list now; names stay hidden unless the box is ticked."""
        with self.opened.read() as con:
            self.composed = followups.compose(con, **self._choice())
        self._draw()

    def _draw(self) -> None:
        if self.composed is None:
            return
        rows, excluded = self.composed.rows, self.composed.excluded
        left_out = ", ".join(f"{n:,} {why}" for why, n in excluded.items()) or "nobody"
        self.summary.value = (
            f"<div><b>{len(rows):,}</b> people would be on this list. Left out: {left_out}.</div>"
        )
        columns = SHOWN_COLUMNS if self.show_names.value else MASKED_COLUMNS
        self.preview.value = table_html(
            rows[columns], max_rows=self.max_rows, empty="Nobody in this selection needs a call back."
        )
        self.feedback.clear()

    def export(self) -> followups.Exported:
        """Write the list (mode 0600), register it, and say where it is."""
        choice = self._choice()
        folder = Path(self.folder.value.strip() or exports_folder(self.opened.path)).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / list_file_name(choice["branch"] or "branch", self.fmt.value)
        with self.opened.write() as con:
            exported = followups.export(
                con,
                purpose=self.purpose.value,
                recipient=self.recipient.value,
                out=out,
                actor=self.opened.actor,
                fmt=self.fmt.value,
                **choice,
            )
        self.exported = exported
        record = exported.record
        left_out = ", ".join(f"{n:,} {why}" for why, n in exported.excluded.items()) or "nobody"
        self.result.value = (
            f"<div class='wb-exported'>List <b class='wb-list-id'>{record.list_id}</b>: "
            f"{record.row_count:,} people, shred by {record.shred_by:%d/%m/%Y}. Left out: "
            f"{left_out}.<br>Saved as <code class='wb-path'>{exported.path}</code></div>"
        )
        self.feedback.ok(
            f"Exported and registered {record.list_id}. Report it if lost, shred it when done, "
            "secure it overnight."
        )
        self.announce_change()
        return exported


class RegistryView(StoreBound):
    """Every list that left the building: outstanding, past shred-by, destroyed; record a destruction."""

    follows_changes = True

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self.feedback = Feedback()
        self.outstanding = widgets.Checkbox(value=True, description="only lists still out", indent=False)
        self.table = table()
        self.list_id = widgets.Dropdown(description="List", options=[], style=LABEL)
        self.destroy_button = button("Record as destroyed", icon="trash", style="warning")
        self.refresh_button = button("Refresh", icon="refresh")
        self.outstanding.observe(self.feedback.guarded(lambda _: self.refresh()), names="value")
        self.destroy_button.on_click(self.feedback.guarded(lambda _: self.destroy()))
        self.refresh_button.on_click(self.feedback.guarded(lambda _: self.refresh()))
        super().__init__(
            [
                widgets.HBox([self.outstanding, self.refresh_button]),
                self.table,
                note("When a list has been shredded (or the file deleted), record it here."),
                widgets.HBox([self.list_id, self.destroy_button]),
                self.feedback,
            ]
        )
        self.add_class("wb-registry")
        self.bind(store_view, lazy=lazy)

    def refresh(self) -> None:
        with self.opened.read() as con:
            frame = registry.lists(con, outstanding=self.outstanding.value)
            out = registry.lists(con, outstanding=True)
        self.table.value = table_html(frame, empty="No lists have been issued yet.")
        self.list_id.options = list(out["list_id"])

    def destroy(self) -> None:
        if not self.list_id.value:
            self.feedback.warn("Choose a list first.")
            return
        with self.opened.write() as con:
            record = registry.mark_destroyed(con, self.list_id.value, actor=self.opened.actor)
        self.feedback.ok(f"Recorded {record.list_id} as destroyed.")
        self.refresh()
        self.announce_change()


class ReturnsView(StoreBound):
    """Bring a filled-in list back: outcomes update each follow-up; "opted out" goes to the register."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self.feedback = Feedback()
        self.upload = widgets.FileUpload(accept=".xlsx,.csv", multiple=False, description="Choose file")
        self.path = widgets.Text(
            description="or its path",
            placeholder="/path/to/returned-list.xlsx",
            style=LABEL,
            layout=widgets.Layout(width="36em"),
        )
        self.import_button = button("Import the returned list", icon="upload", style="primary")
        self.result = widgets.HTML()
        self.import_button.on_click(self.feedback.guarded(lambda _: self.import_returns()))
        super().__init__(
            [
                note("Upload the list the branch sent back (Excel or CSV), or type where it is saved."),
                widgets.HBox([self.upload, self.path]),
                widgets.HBox([self.import_button]),
                self.feedback,
                self.result,
            ]
        )
        self.add_class("wb-returns")
        self.bind(store_view, lazy=lazy)

    def import_returns(self) -> returns.Returns:
        """Import the uploaded file (kept only for the import, in a private temporary folder) or the path."""
        if self.upload.value:
            item = self.upload.value[0]
            with tempfile.TemporaryDirectory(prefix="workbench-") as folder:
                path = Path(folder) / Path(item["name"]).name
                path.write_bytes(bytes(item["content"]))
                path.chmod(0o600)
                result = self._import(path)
            self.upload.value = ()
        else:
            result = self._import(Path(self.path.value.strip()).expanduser())
        return result

    def _import(self, path: Path) -> returns.Returns:
        with self.opened.write() as con:
            result = returns.import_results(con, path, actor=self.opened.actor)
        if result.already_imported:
            self.feedback.ok(f"{result.file_name} was imported before; nothing changed.")
        else:
            changed = ", ".join(f"{n:,} {what}" for what, n in result.changed.items()) or "none"
            self.feedback.ok(
                f"Imported {result.file_name}: {result.rows_read:,} rows; changed: {changed}; "
                f"not called yet: {result.not_called:,}."
            )
            self.announce_change()
        return result


__all__ = ["FollowupListView", "RegistryView", "ReturnsView", "exports_folder", "list_file_name"]
