"""Shared fixtures: an empty encrypted store, and a small seeded synthetic store.

Both are real DuckDB files under pytest's tmp_path; nothing is mocked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.store import db

PASSPHRASE = "correct horse battery staple"  # noqa: S105 - a test store of fake data


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Path of a new, empty, encrypted store."""
    path = tmp_path / "store.duckdb"
    db.init_store(path, PASSPHRASE)
    return path


@pytest.fixture
def con(store_path: Path):
    """A read-write connection to an empty encrypted store, closed after the test."""
    connection = db.connect(store_path, PASSPHRASE)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def tiny_org():
    """The `tiny` synthetic organisation (about 200 members), generated once per test run."""
    from workbench import synthetic

    return synthetic.generate("tiny", seed=7)


@pytest.fixture(scope="session")
def _tiny_store_template(tmp_path_factory, tiny_org) -> Path:
    from workbench.synthetic import demo

    path = tmp_path_factory.mktemp("template") / "tiny.duckdb"
    demo.rebuild(path, tiny_org)
    return path


@pytest.fixture
def synthetic_store(tmp_path: Path, _tiny_store_template: Path) -> Path:
    """A fresh copy of the tiny synthetic store (passphrase db.DEMO_PASSPHRASE) for one test to change."""
    path = tmp_path / "tiny.duckdb"
    shutil.copyfile(_tiny_store_template, path)
    return path


@pytest.fixture
def synthetic_con(synthetic_store: Path):
    """A read-write connection to a fresh copy of the tiny synthetic store."""
    connection = db.connect(synthetic_store, db.DEMO_PASSPHRASE)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def _close_kept_readers():
    """Widgets keep one read-only connection per store between looks; close them after each test, so
    a test's store file is never held open into the next."""
    yield
    import sys

    kept = sys.modules.get("workbench.widgets.store")
    if kept is not None:
        kept.close_readers()
