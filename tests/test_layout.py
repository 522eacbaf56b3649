"""The package's public face and its layers: what a notebook user imports, and nothing importing upward."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import workbench

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.parametrize("name", workbench.__all__)
def test_every_public_name_resolves_to_a_documented_callable(name):
    value = getattr(workbench, name)
    assert callable(value) and value.__doc__, name


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        workbench.nothing_here  # noqa: B018


def test_python_dash_m_workbench_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and "workbench demo --no-launch" in done.stdout


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
                          cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_layers_hold_and_an_upward_import_breaks_the_build(tmp_path):
    tree = tmp_path / "copy"
    shutil.copytree(ROOT / "workbench", tree / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    assert _lint(tree).returncode == 0, _lint(tree).stdout[-2000:]

    # The store, the bottom floor, reaching up for the opt-out register: refused.
    state = tree / "workbench" / "store" / "state.py"
    state.write_text(state.read_text() + "\nfrom workbench.privacy import optouts  # noqa: E402,F401\n")
    upward = _lint(tree)
    assert upward.returncode != 0
    assert "workbench.store.state -> workbench.privacy.optouts" in upward.stdout
