"""Load data: pick a file (upload or path), check it with a dry run, see any problems as a table, import.

Reading, checking and writing are the library's (`ingest`): an import is all or nothing, and the
same file twice changes nothing. This view only gathers the choices and shows what came back.
`QuestionsView` lets a person say which survey-question column means what (and what its answers
mean), preview the result, and save the mapping file (`ingest.survey`).
"""

from __future__ import annotations

import contextlib
import html
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ipywidgets as widgets

from workbench import exports, ingest
from workbench.ingest import oruk, survey
from workbench.store import db
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
            accept=".csv,.tsv,.txt,.xls,.xlsx,.parquet,.zip", multiple=False, description="Choose file"
        )
        self.path = widgets.Text(
            description="or its path",
            placeholder="/path/to/call_outcomes.csv",
            style=LABEL,
            layout=widgets.Layout(width="36em"),
        )
        self.mapping = widgets.Text(
            description="Mapping file",
            placeholder="(optional) survey.toml: which question means what",
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
                self.mapping,
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
                yield exports.write_bytes(Path(folder) / Path(item["name"]).name, bytes(item["content"]))
        else:
            yield Path(self.path.value.strip()).expanduser()

    def run(self, *, dry_run: bool) -> ingest.ImportResult | None:
        """Check or import the file; show what was (or would be) loaded and every problem found."""
        importer = IMPORTERS[self.kind.value]
        self.progress.clear_output()
        self.problems.show(None, empty="No problems.")
        # The file is read and checked before the store is opened, so a slow or hostile file never
        # holds the store's lock (the dashboard and the CLI carry on meanwhile).
        with self._file() as path, self._read(path) as source, self._store(source) as con, self.progress:
            try:
                result = importer(
                    con,
                    source or path,
                    dry_run=dry_run,
                    actor=self.opened.actor,
                    progress=True,
                    mapping=self.mapping_path(),
                )
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

    def mapping_path(self) -> Path | None:
        """The mapping file typed in, or None."""
        text = self.mapping.value.strip()
        return Path(text).expanduser() if text else None

    def _read(self, path: Path):
        """The file read and checked (`ingest.read`); an Open Referral UK directory (a folder or its
        datapackage.json) is read table by table inside the import instead."""
        if self.kind.value == "services" and oruk.is_directory(path):
            return contextlib.nullcontext()
        return ingest.read(path)

    def _store(self, source: ingest.Source | None):
        """A read-write connection to the store, attached to the one holding the file read (if any)."""
        self.opened.reader.close()  # the views' kept read-only connection: one process cannot hold both
        return db.session(self.opened.path, self.opened.passphrase,
                          into=source.connection if source else None)

    def _show(self, result: ingest.ImportResult) -> None:
        self.last = result
        lines = html.escape(result.summary()).replace("\n", "<br>")
        self.summary.value = f"<div class='wb-import-summary'>{lines}</div>"
        self.problems.show(result.problems, empty="No problems.")


NOT_USED = "(not used)"
LEAVE = "(as written)"


class QuestionsView(widgets.VBox):
    """For the file chosen in a LoadView: each unused column, the field it feeds, what its answers mean."""

    def __init__(self, load: LoadView) -> None:
        self.load = load
        self.feedback = Feedback()
        self.read_button = button("Read the questions", icon="list")
        self.preview_button = button("Preview with this mapping", icon="search", style="primary")
        self.save_path = widgets.Text(
            description="Save as", value="survey.toml", style=LABEL, layout=widgets.Layout(width="36em")
        )
        self.save_button = button("Save mapping file", icon="save", style="success")
        self.rows = widgets.VBox()
        self._saved: Path | None = None  # the file the last save wrote: saving again replaces it
        self.fields: dict[str, widgets.Dropdown] = {}
        self.answers: dict[str, dict[str, widgets.Dropdown]] = {}
        self.read_button.on_click(self.feedback.guarded(lambda _: self.read()))
        self.preview_button.on_click(self.feedback.guarded(lambda _: self.preview()))
        self.save_button.on_click(self.feedback.guarded(lambda _: self.save()))
        super().__init__(
            [
                self.read_button,
                self.feedback,
                self.rows,
                widgets.HBox([self.save_path, self.preview_button, self.save_button]),
            ]
        )

    def read(self) -> list[survey.Question]:
        """List the file's unused columns, each with a field to choose and its answers to map."""
        with self.load._file() as path, self.load.opened.write() as con:
            found = survey.questions(con, path, mapping=self.load.mapping_path())
        self.fields, self.answers, rows = {}, {}, []
        for question in found:
            field = widgets.Dropdown(options=[NOT_USED, *survey.FIELDS], value=NOT_USED,
                                     description=question.column[:60], style={"description_width": "28em"})
            box = widgets.VBox()
            field.observe(lambda change, q=question, b=box: self._answers_for(q, change["new"], b), "value")
            self.fields[question.column] = field
            rows += [field, box]
        self.rows.children = rows
        self.feedback.ok(f"{len(found)} column{'s' if len(found) != 1 else ''} no field used.")
        return found

    def _answers_for(self, question: survey.Question, field: str, box: widgets.VBox) -> None:
        allowed = survey.FIELDS.get(field)
        self.answers[question.column] = {}
        if not allowed:
            box.children = []
            return
        for answer in question.answers:
            self.answers[question.column][answer] = widgets.Dropdown(
                options=[LEAVE, *allowed], value=survey.suggest(field, answer) or LEAVE,
                description=answer[:60], style={"description_width": "28em"},
            )
        box.children = list(self.answers[question.column].values())

    def text(self) -> str:
        """The mapping file the choices make."""
        columns = {f.value: column for column, f in self.fields.items() if f.value != NOT_USED}
        answers = {
            self.fields[column].value: {a: d.value for a, d in chosen.items() if d.value != LEAVE}
            for column, chosen in self.answers.items()
            if self.fields[column].value != NOT_USED
        }
        return survey.mapping_text(columns, answers)

    def preview(self) -> ingest.ImportResult | None:
        """A dry run of the chosen file with this mapping (nothing written)."""
        with tempfile.TemporaryDirectory(prefix="workbench-") as folder:
            mapping = survey.save(self.text(), Path(folder) / "mapping.toml")
            keep, self.load.mapping.value = self.load.mapping.value, str(mapping)
            try:
                return self.load.run(dry_run=True)
            finally:
                self.load.mapping.value = keep

    def save(self) -> Path:
        """Save the mapping file and use it for this import.

        Saving again replaces the file this view saved last; any other existing file is refused.
        """
        target = Path(self.save_path.value.strip() or "survey.toml").expanduser()
        path = survey.save(self.text(), target, force=target == self._saved)
        self._saved = path
        self.load.mapping.value = str(path)
        self.feedback.ok(f"Saved {path}; Check and Import now use it.")
        return path


__all__ = ["KINDS", "LoadView", "QuestionsView"]
