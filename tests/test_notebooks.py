"""Every notebook runs top to bottom against a seeded synthetic store and shows content, not errors.

The kernel inherits WORKBENCH_DB / WORKBENCH_PASSPHRASE, so the store view opens by itself and every
view renders real data with no clicks, as `make demo` does. Widget state (what the page would show)
is saved by nbclient in the notebook's metadata; the checks read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from workbench.store import db

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
ERROR_MARKS = ("Traceback", "wb-error", "Something unexpected went wrong")


def test_there_are_notebooks():
    assert len(ALL) >= 3


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_committed_notebooks_have_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `make strip` before committing"
    assert "widgets" not in notebook.metadata, f"{path.name} holds saved widget state; run `make strip`"


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_opens_with_plain_english_purpose(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    if path.stem != "app":
        assert "Who uses it" in first.source, f"{path.name} must say who it is for"


@pytest.mark.slow
@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_runs_against_the_synthetic_store(path, synthetic_store, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("WORKBENCH_DB", str(synthetic_store))
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    monkeypatch.setenv("WORKBENCH_USER", "notebook-test")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    shown = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    state = json.dumps(notebook.metadata.get("widgets", {}))
    for mark in ERROR_MARKS:
        assert mark not in shown and mark not in state, f"{path.name} shows an error ({mark})"
    if path.stem != "app":
        assert "application/vnd.jupyter.widget-view+json" in shown, f"{path.name} shows no widget"
        assert "Opened" in state, f"{path.name}: the store did not open from WORKBENCH_PASSPHRASE"
