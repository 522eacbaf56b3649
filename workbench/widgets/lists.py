"""Follow-up lists for branches: preview (names hidden until asked), export with purpose and recipient
(encrypted formats first; the passphrase shown once, with a copy button), the list registry
(outstanding, past shred-by, protection, mark destroyed), importing returns (protected ones with
their passphrase), and the callers' briefing.

Who goes on a list, the opt-out check, the notice and the registry are all the library's
(`followups`, `lists`); this view only gathers the choices and shows what came back.
"""

from __future__ import annotations

import dataclasses
import html
import re
import tempfile
from datetime import datetime
from pathlib import Path

import ipywidgets as widgets

from workbench import exports
from workbench.lists import briefing, followups, protection, registry, returns
from workbench.store.filters import known, wards
from workbench.vocabulary import NEED_CATEGORIES
from workbench.widgets.common import LABEL, button, choices, chosen, heading, note, table
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

MASKED_COLUMNS = ["member_key", "ward", "categories", "urgency", "score"]
SHOWN_COLUMNS = ["first_name", "phone", "ward", "categories", "urgency", "score"]
# Protected formats first; the plain ones say so in their label and need a reason.
FORMATS = (
    ("Excel, password-protected (.xlsx)", "xlsx"),
    ("PDF to print, password-protected (.pdf)", "pdf"),
    ("Excel, NOT protected (.xlsx)", "xlsx-plain"),
    ("Printable page, NOT protected (.html)", "html-plain"),
    ("CSV, NOT protected (.csv)", "csv-plain"),
)
PLAIN = "-plain"
BRIEFING_FORMATS = (("PDF to print (.pdf)", "pdf"), ("Web page to print (.html)", "html"))


def exports_folder(store_path: Path) -> Path:
    """Where lists are written by default: an exports/ folder beside the store."""
    return Path(store_path).resolve().parent / "exports"


def list_file_name(branch: str, fmt: str, when: datetime | None = None, kind: str = "followup") -> str:
    """A file name for a branch's list (or briefing) that never collides with an earlier one.

    Examples:
        >>> list_file_name("St Anne's", "xlsx", datetime(2020, 4, 6, 9, 30, 5))
        'followup-st-anne-s-20200406-093005.xlsx'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-") or "branch"
    return f"{kind}-{slug}-{(when or datetime.now()):%Y%m%d-%H%M%S}.{fmt}"


def passphrase_html(secret: str) -> str:
    """The passphrase, shown once, large, with a copy button and the advice to send it separately."""
    quoted = html.escape(secret, quote=True)
    return (
        "<div class='wb-passphrase-box' style='border:2px solid #b00;padding:0.6em;max-width:48em'>"
        "<div><b>Passphrase to open the list</b> (shown only now; the workbench keeps no copy):</div>"
        f"<div class='wb-passphrase' style='font:1.5em monospace;margin:0.3em 0'>{quoted}</div>"
        f"<button class='wb-copy-passphrase' data-passphrase='{quoted}' "
        "onclick='navigator.clipboard.writeText(this.dataset.passphrase);this.textContent=\"Copied\"'>"
        "Copy the passphrase</button>"
        f"<div style='margin-top:0.4em'>{html.escape(protection.ADVICE)}</div></div>"
    )


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
        self.preview = table(identity=True)
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
        # As wide as the path box: each label must show in full whether the list leaves encrypted.
        self.fmt = widgets.Dropdown(description="Format", options=FORMATS, value="xlsx", style=LABEL,
                                    layout=widgets.Layout(width="36em"))
        self.reason = widgets.Text(
            description="Why not protected",
            placeholder="e.g. printed for a branch with no computer; paper copy kept locked",
            style=LABEL,
            layout=widgets.Layout(width="36em", display="none"),
        )
        self.folder = widgets.Text(description="Save in", style=LABEL, layout=widgets.Layout(width="36em"))
        self.export_button = button("Export and register the list", icon="file-export", style="success")
        self.result = widgets.HTML()
        self.passphrase = widgets.HTML()
        self.hide_button = button("I have noted the passphrase: hide it", icon="eye-slash")
        self.hide_button.layout.display = "none"
        self.preview_button.on_click(self.feedback.guarded(lambda _: self.show_preview()))
        self.show_names.observe(self.feedback.guarded(lambda _: self._draw()), names="value")
        self.fmt.observe(lambda _: self._show_reason(), names="value")
        self.export_button.on_click(self.feedback.guarded(lambda _: self.export()))
        self.hide_button.on_click(lambda _: self.hide_passphrase())
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
                    "always left out. A protected list is encrypted (AES-256) with a passphrase made for "
                    "it, shown once below: send it by a different channel from the file."
                ),
                self.purpose,
                self.recipient,
                self.fmt,
                self.reason,
                self.folder,
                widgets.HBox([self.export_button]),
                self.feedback,
                self.result,
                self.passphrase,
                self.hide_button,
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
            "reason",
            "folder",
            "preview_button",
            "export_button",
            "hide_button",
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
        self.preview.show(
            rows[columns], empty="Nobody in this selection needs a call back."
        )
        self.feedback.clear()

    def _show_reason(self) -> None:
        self.reason.layout.display = None if str(self.fmt.value).endswith(PLAIN) else "none"

    def hide_passphrase(self) -> None:
        """Take the passphrase off the page once it has been noted."""
        self.passphrase.value = ""
        self.hide_button.layout.display = "none"

    def export(self) -> followups.Exported:
        """Write the list (mode 0600), register it, say where it is, and show its passphrase once.

        `self.exported` keeps the record and path but not the passphrase.
        """
        self.hide_passphrase()
        choice = self._choice()
        fmt, plain = str(self.fmt.value).removesuffix(PLAIN), str(self.fmt.value).endswith(PLAIN)
        if plain and not self.reason.value.strip():
            self.feedback.warn("Say why this list is not protected: the reason is recorded in the registry.")
            return None
        folder = Path(self.folder.value.strip() or exports_folder(self.opened.path)).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / list_file_name(choice["branch"] or "branch", fmt)
        with self.opened.write() as con:
            exported = followups.export(
                con,
                purpose=self.purpose.value,
                recipient=self.recipient.value,
                out=out,
                actor=self.opened.actor,
                fmt=fmt,
                unprotected=self.reason.value if plain else None,
                **choice,
            )
        if exported.passphrase:
            self.passphrase.value = passphrase_html(exported.passphrase)
            self.hide_button.layout.display = None
        self.exported = dataclasses.replace(exported, passphrase=None)
        record = exported.record
        left_out = ", ".join(f"{n:,} {why}" for why, n in exported.excluded.items()) or "nobody"
        self.result.value = (
            f"<div class='wb-exported'>List <b class='wb-list-id'>{record.list_id}</b>: "
            f"{record.row_count:,} people, shred by {record.shred_by:%d/%m/%Y}. Left out: "
            f"{left_out}.<br>Saved as <code class='wb-path'>{exported.path}</code></div>"
        )
        protected = "encrypted" if exported.passphrase else "NOT encrypted (reason recorded)"
        self.feedback.ok(
            f"Exported and registered {record.list_id}, {protected}. Report it if lost, shred it when "
            "done, secure it overnight."
        )
        self.announce_change()
        return exported


class RegistryView(StoreBound):
    """Every list that left the building: outstanding, past shred-by, destroyed; record a destruction."""

    follows_changes = True

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self.feedback = Feedback()
        self.outstanding = widgets.Checkbox(value=True, description="only lists still out", indent=False)
        self.table = table(identity=True)
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
        self.table.show(frame, empty="No lists have been issued yet.")
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
        self.list_passphrase = widgets.Password(
            description="Passphrase",
            placeholder="only for a password-protected list",
            style=LABEL,
            layout=widgets.Layout(width="36em"),
        )
        self.import_button = button("Import the returned list", icon="upload", style="primary")
        self.result = widgets.HTML()
        self.import_button.on_click(self.feedback.guarded(lambda _: self.import_returns()))
        super().__init__(
            [
                note(
                    "Upload the list the branch sent back (Excel or CSV), or type where it is saved. If it "
                    "is still password-protected, type the passphrase it was sent with (opened in memory; "
                    "nothing decrypted is saved)."
                ),
                widgets.HBox([self.upload, self.path]),
                self.list_passphrase,
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
                path = exports.write_bytes(Path(folder) / Path(item["name"]).name, bytes(item["content"]))
                result = self._import(path)
            self.upload.value = ()
        else:
            result = self._import(Path(self.path.value.strip()).expanduser())
        return result

    def _import(self, path: Path) -> returns.Returns:
        secret, self.list_passphrase.value = self.list_passphrase.value or None, ""
        sent = returns.read(path, passphrase=secret)  # before the store's write lock is taken
        with self.opened.write() as con:
            result = returns.import_results(con, sent, actor=self.opened.actor)
        if result.already_imported:
            self.feedback.ok(f"{result.file_name} was imported before; nothing changed.")
        else:
            changed = ", ".join(f"{n:,} {what}" for what, n in result.changed.items()) or "none"
            done = (f"Imported {result.file_name}: {result.rows_read:,} rows; changed: {changed}; "
                    f"not called yet: {result.not_called:,}.")
            if result.warnings:
                self.feedback.warn(" ".join((done, *result.warnings)))
            else:
                self.feedback.ok(done)
            self.announce_change()
        return result


class BriefingView(StoreBound):
    """The callers' briefing for a branch: a printable A4 sheet with no member's data in it."""

    def __init__(self, store_view: StoreView, *, lazy: bool = False) -> None:
        self.feedback = Feedback()
        self.written: Path | None = None
        self.branch = widgets.Dropdown(description="Branch", options=[], style=LABEL)
        self.ward = widgets.Dropdown(description="Ward", options=choices([]), style=LABEL)
        self.round = widgets.Text(description="Round", placeholder="e.g. round 3", style=LABEL)
        self.fmt = widgets.Dropdown(description="Format", options=BRIEFING_FORMATS, value="pdf", style=LABEL,
                                    layout=widgets.Layout(width="36em"))
        self.folder = widgets.Text(description="Save in", style=LABEL, layout=widgets.Layout(width="36em"))
        self.make_button = button("Make the callers' briefing", icon="file-text", style="primary")
        self.branch.observe(self.feedback.guarded(lambda _: self._wards()), names="value")
        self.make_button.on_click(self.feedback.guarded(lambda _: self.make()))
        super().__init__(
            [
                note(
                    "One sheet for each caller: the active local services by need, the steps of the call, "
                    "answers to members' questions with the data-protection contact, and the words to record."
                ),
                widgets.HBox([self.branch, self.ward, self.round]),
                self.fmt,
                self.folder,
                widgets.HBox([self.make_button]),
                self.feedback,
            ]
        )
        for name in ("branch", "ward", "round", "fmt", "folder", "make_button"):
            getattr(self, name).add_class(f"wb-briefing-{name.replace('_', '-')}")
        self.add_class("wb-briefing")
        self.bind(store_view, lazy=lazy)

    def refresh(self) -> None:
        with self.opened.read() as con:
            self.branch.options = known(con, "branch")
        self.folder.value = self.folder.value or str(exports_folder(self.opened.path))
        self._wards()

    def _wards(self) -> None:
        if not self.branch.value:
            return
        with self.opened.read() as con:
            self.ward.options = choices(wards(con, self.branch.value))

    def make(self) -> Path:
        """Write the briefing into the folder and say where it is."""
        folder = Path(self.folder.value.strip() or exports_folder(self.opened.path)).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / list_file_name(self.branch.value or "branch", self.fmt.value, kind="briefing")
        with self.opened.read() as con:
            self.written = briefing.write_briefing(
                con, out, branch=self.branch.value, ward=chosen(self.ward.value),
                round=self.round.value.strip() or None, fmt=self.fmt.value,
            )
        self.feedback.ok(f"Saved the briefing as {self.written}. Print it on A4; it holds no member's data.")
        return self.written


__all__ = [
    "BriefingView",
    "FollowupListView",
    "RegistryView",
    "ReturnsView",
    "exports_folder",
    "list_file_name",
    "passphrase_html",
]
