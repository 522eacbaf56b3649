"""Load data: pick a file (upload or path), check it with a dry run, see any problems as a table, import.

Reading, checking and writing are the library's (`ingest`): an import is all or nothing, and the
same file twice changes nothing. This view only gathers the choices and shows what came back.
"""

from __future__ import annotations

import contextlib
import html
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ipywidgets as widgets

from workbench import ingest
from workbench.widgets.common import LABEL, button, heading, note, table
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

KINDS = (("Member list", "members"), ("Call outcomes", "calls"), ("Services directory", "services"))
IMPORTERS = {
    "members": ingest.import_members,
    "calls": ingest.import_calls,
    "services": ingest.import_services,
}


class LoadView(StoreBound):
    """Kind of file, the file, Check (dry run), Import."""

    follows_changes = False

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.kind = widgets.Dropdown(description="What it is", options=KINDS, value="calls", style=LABEL)
        self.upload = widgets.FileUpload(
            accept=".csv,.xlsx,.parquet", multiple=False, description="Choose file"
        )
        self.path = widgets.Text(
            description="or its path",
            placeholder="/path/to/call_outcomes.csv",
            style=LABEL,
            layout=widgets.Layout(width="36em"),
        )
        self.check_button = button("Check (dry run)", icon="search", style="primary")
        self.import_button = button("Import", icon="upload", style="success")
        self.progress = widgets.Output()
        self.summary = widgets.HTML()
        self.problems = table(identity=True)
        self.last = None
        self.check_button.on_click(self.feedback.guarded(lambda _: self.run(dry_run=True)))
        self.import_button.on_click(self.feedback.guarded(lambda _: self.run(dry_run=False)))
        super().__init__(
            [
                self.kind,
                widgets.HBox([self.upload, self.path]),
                widgets.HBox([self.check_button, self.import_button]),
                self.progress,
                self.feedback,
                self.summary,
                heading("Problems"),
                note(
                    "Each problem names the row and column and says how to fix it; values from the "
                    "file are not repeated here."
                ),
                self.problems,
            ]
        )
        self.add_class("wb-load")
        self.bind(store_view)

    @contextlib.contextmanager
    def _file(self) -> Iterator[Path]:
        """The chosen file: an upload (kept in a private temporary folder during the import) or a path."""
        if self.upload.value:
            item = self.upload.value[0]
            with tempfile.TemporaryDirectory(prefix="workbench-") as folder:
                path = Path(folder) / Path(item["name"]).name
                path.write_bytes(bytes(item["content"]))
                path.chmod(0o600)
                yield path
        else:
            yield Path(self.path.value.strip()).expanduser()

    def run(self, *, dry_run: bool) -> ingest.ImportResult | None:
        """Check or import the file; show what was (or would be) loaded and every problem found."""
        importer = IMPORTERS[self.kind.value]
        self.progress.clear_output()
        self.problems.show(None, empty="No problems.")
        with self._file() as path, self.opened.write() as con, self.progress:
            try:
                result = importer(con, path, dry_run=dry_run, actor=self.opened.actor, progress=True)
            except ingest.ImportRejected as rejected:
                self._show(rejected.result)
                raise
        self.progress.clear_output()
        self._show(result)
        self.feedback.ok("Checked: nothing was written." if dry_run else "Imported.")
        if not dry_run:
            self.upload.value = ()
            self.announce_change()
        return result

    def _show(self, result: ingest.ImportResult) -> None:
        self.last = result
        lines = html.escape(result.summary()).replace("\n", "<br>")
        self.summary.value = f"<div class='wb-import-summary'>{lines}</div>"
        self.problems.show(result.problems, empty="No problems.")


__all__ = ["KINDS", "LoadView"]
