"""The two ways to set up agree: pyproject.toml (pip, make) and environment.yml (conda)."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["test"])


def _conda_pip_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item for item in env["dependencies"] if isinstance(item, dict) and "pip" in item)
    return set(pip_section["pip"])


def test_environment_yml_matches_pyproject():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_reproducibility_pins_are_exact():
    requirements = _pyproject_requirements()
    # The store format, its encryption extension and Faker's seeded output must not drift.
    for pinned in ("duckdb==", "duckdb-ext-httpfs==", "faker=="):
        assert any(r.startswith(pinned) for r in requirements), pinned


def test_httpfs_extension_matches_duckdb_version():
    requirements = _pyproject_requirements()
    duck = next(r for r in requirements if r.startswith("duckdb=="))
    ext = next(r for r in requirements if r.startswith("duckdb-ext-httpfs=="))
    assert ext.split("==")[1].startswith(duck.split("==")[1] + ".")
